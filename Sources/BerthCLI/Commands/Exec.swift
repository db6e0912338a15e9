import BerthCore
import Glibc
import Linux
import OCI
import Runtime

/// `berth exec [--process F] [--env K=V] [--cwd DIR] [--user UID[:GID]] [--detach] [--pid-file F]
/// [--preserve-fds N] [--tty] ID [CMD ARGS...]`. With a terminal and no --console-socket berth
/// proxies the pty in the foreground, as runc does.
enum ExecCommand {
    static func run(_ arguments: [String], _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments,
            valued: ["process": "process", "p": "process", "env": "env", "e": "env", "cwd": "cwd", "user": "user", "u": "user",
                     "pid-file": "pid-file", "preserve-fds": "preserve-fds", "console-socket": "console-socket",
                     "additional-gids": "additional-gids", "g": "additional-gids", "cap": "cap", "c": "cap"],
            booleans: ["detach": "detach", "d": "detach", "tty": "tty", "t": "tty", "no-new-privs": "no-new-privs"],
            stopAfter: 1)
        guard let id = parsed.positionals.first else { throw BerthError(.invalidArgument, "exec: expects a container id") }
        try ContainerID.validate(id)
        let store = globals.store
        var process: OCI.Process
        if let path = parsed.value("process") {
            let bytes = try Files.read(try absolutePath(path))
            do { process = try decodeJSON(OCI.Process.self, from: bytes) } catch { throw BerthError(.invalidConfig, "\(path): \(error)") }
        } else {
            let command = Array(parsed.positionals.dropFirst())
            guard !command.isEmpty else { throw BerthError(.invalidArgument, "exec: expects a command after the container id, or --process") }
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
