import BerthCore
import CommandLineFlags
import Glibc
import Linux
import OCI
import Runtime

/// `berth exec [--process F] [--env K=V] [--cwd DIR] [--user UID[:GID]] [--detach] [--pid-file F]
/// [--preserve-fds N] [--tty] ID [CMD ARGS...]`. With a terminal and no --console-socket berth
/// proxies the pty in the foreground, as runc does.
enum ExecCommand {
    static let flags: [Flag] = [
        .value("p", "process", placeholder: "FILE", summary: "the process as process.json; the flags below are then ignored"),
        .value("e", "env", placeholder: "KEY=VALUE", summary: "set a variable (repeatable)"),
        .value("cwd", placeholder: "DIR", summary: "working directory"),
        .value("u", "user", placeholder: "UID[:GID]", summary: "user and group ids"),
        .value("g", "additional-gids", placeholder: "GID", summary: "a supplementary group (repeatable)"),
        .value("c", "cap", placeholder: "CAP", summary: "add a capability (repeatable)"),
        .boolean("no-new-privs", summary: "set no_new_privs"),
        .boolean("t", "tty", summary: "run the process on a terminal"),
        .boolean("d", "detach", summary: "return once the process has started"),
        .value("pid-file", placeholder: "FILE", summary: "write the process's pid to FILE"),
        .value("console-socket", placeholder: "SOCKET", summary: "send the pty master to this unix socket"),
        .value("pidfd-socket", placeholder: "SOCKET", summary: "send a pidfd of the process to this unix socket"),
        .value("preserve-fds", placeholder: "N", summary: "pass N more descriptors, from 3 up, to the process"),
        .value("cgroup", placeholder: "[CONTROLLER:]PATH", summary: "start the process in this existing sub-cgroup of the container's"),
        .boolean("ignore-paused", summary: "exec into a paused container too (the process starts frozen)"),
    ]

    /// As runc: a wrong command line fails with status 1, and every later failure with 255, so
    /// that a caller can tell them from the status of a process that ran.
    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        guard let id = parsed.positionals.first else { throw BerthError(.invalidArgument, "exec: expects a container id") }
        guard parsed.positionals.count > 1 || parsed.value("process") != nil else {
            throw BerthError(.invalidArgument, "exec: expects a command after the container id, or --process")
        }
        do { return try execute(id: id, parsed, globals) } catch {
            Berth.report(error.prefixed("exec failed"), globals)
            return 255
        }
    }

    static func execute(id: String, _ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        try ContainerID.validate(id)
        let store = globals.store
        var process: OCI.Process
        if let path = parsed.value("process") {
            let bytes = try Files.read(try absolutePath(path))
            let document: JSONValue
            do {
                document = try JSONValue.parse(bytes)
                process = try decodeJSON(OCI.Process.self, from: document)
            } catch { throw BerthError(.invalidConfig, "\(path): \(error)") }
            // Without `user` the process runs as the container's user, never as root by omission
            // (runc 1.1.5 runs it as 0:0).
            if document["user"] == nil { process.user = try Exec.baseProcess(store: store, id: id).user }
        } else {
            let command = Array(parsed.positionals.dropFirst())
            process = try Exec.baseProcess(store: store, id: id)
            process.args = command
            process.terminal = parsed.flag("tty")
            process.env = merge(process.env ?? [], parsed.all("env"))
            if let cwd = parsed.value("cwd") { process.cwd = cwd }
            if let user = parsed.value("user") { try applyUser(user, to: &process) }
            for gid in parsed.all("additional-gids") {
                guard let value = UInt32(gid) else { throw BerthError(.invalidArgument, "flag --additional-gids: \"\(gid)\" is not a gid") }
                process.user.additionalGids = (process.user.additionalGids ?? []) + [value]
            }
            if !parsed.all("cap").isEmpty {
                var caps = process.capabilities ?? LinuxCapabilities()
                for cap in parsed.all("cap") {
                    for keyPath in [\LinuxCapabilities.bounding, \.effective, \.permitted] {
                        caps[keyPath: keyPath] = (caps[keyPath: keyPath] ?? []) + [cap]
                    }
                }
                process.capabilities = caps
            }
            if parsed.flag("no-new-privs") { process.noNewPrivileges = true }
        }
        let detach = parsed.flag("detach")
        let consoleSocket = try parsed.value("console-socket").map { (path) throws(BerthError) in try absolutePath(path) }
        let proxied = !detach && process.terminal == true && consoleSocket == nil
        if proxied, let size = Terminal.size() { process.consoleSize = ConsoleSize(height: UInt(size.rows), width: UInt(size.columns)) }
        var exec = Exec(store: store, id: id, process: process)
        exec.preserveFDs = try parsed.integer("preserve-fds", flag: "--preserve-fds") ?? 0
        exec.pidFile = try parsed.value("pid-file").map { (path) throws(BerthError) in try absolutePath(path) }
        exec.consoleSocket = consoleSocket
        exec.pidfdSocket = try parsed.value("pidfd-socket").map { (path) throws(BerthError) in try absolutePath(path) }
        exec.ignorePaused = parsed.flag("ignore-paused")
        let cgroups = parsed.all("cgroup")
        exec.subCgroup = try cgroups.isEmpty ? nil : ExecCgroup(arguments: cgroups)
        // Held before the process exists, so that none sent in between is lost.
        if !detach { try holdForwardedSignals() }
        let (started, master) = try ConsolePair.receiving(proxied) { (connection) throws(BerthError) in
            exec.consoleConnection = connection
            return try exec.start()
        } abandon: { started in
            if let pidfd = started.pidfd { try? ProcessControl.signal(pidfd: pidfd, SIGKILL) }
            _ = try? ProcessControl.wait(started.pid)
            started.pidfd?.close()
        }
        defer { master?.close() }
        guard !detach, let pidfd = started.pidfd else {
            started.pidfd?.close()
            return 0
        }
        defer { pidfd.close() }
        if let master {
            return try ForegroundTerminal(master: master, interactive: true).run(pid: started.pid, pidfd: pidfd).shellStatus
        }
        return try waitForwardingSignals(pid: started.pid, pidfd: pidfd).shellStatus
    }

    /// `--env` values override the config's variables of the same name.
    static func merge(_ base: [String], _ overrides: [String]) -> [String] {
        var result = base
        for variable in overrides {
            let name = variable.split(separator: "=", maxSplits: 1).first.map(String.init) ?? variable
            result.removeAll { $0.hasPrefix(name + "=") }
            result.append(variable)
        }
        return result
    }

    static func applyUser(_ text: String, to process: inout OCI.Process) throws(BerthError) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let uid = UInt32(parts[0]) else { throw BerthError(.invalidArgument, "flag --user: \"\(text)\" is not UID[:GID]") }
        process.user.uid = uid
        if parts.count == 2 {
            guard let gid = UInt32(parts[1]) else { throw BerthError(.invalidArgument, "flag --user: \"\(text)\" is not UID[:GID]") }
            process.user.gid = gid
        }
    }
}
