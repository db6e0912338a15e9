import BerthCore
import CommandLineFlags
import CShim
import Glibc
import Linux
import OCI
import Runtime
import SupervisorAPI

/// `ctr exec [-d] [-t] [-i] [-e K=V] [-u USER] [-w DIR] NAME CMD...`: another process in a
/// running container, straight through the runtime (no round trip to the supervisor), with
/// ctr's stdout and stderr, its stdin with -i, and a terminal of its own with -t.
enum ExecCommand: CtrCommand {
    static let summary = "run a command in a running service's container"
    static let usage = """
    usage: ctr exec [-d] [-t] [-i] [-e KEY=VALUE] [-u USER[:GROUP]] [-w DIR] NAME CMD [ARGS...]

    Runs CMD in the container, in all its namespaces and its cgroup, with the container's
    capabilities and seccomp profile, and returns CMD's exit status. Signals to ctr are
    forwarded to CMD. Without -i, CMD's stdin is /dev/null.

    flags:
      -d, --detach             do not wait for CMD
      -t, --tty                give CMD a terminal of its own (a pty in the container); with
                               -i and ctr on a terminal, that terminal is put in raw mode
      -i, --interactive        pass ctr's stdin to CMD
      -e, --env KEY=VALUE      set a variable (over the container's)
      -u, --user USER[:GROUP]  run as this user, by number or by name in the image
      -w, --workdir DIR        working directory

    examples:
      ctr exec web ps
      ctr exec -u nobody -w /tmp web sh -c 'id; pwd'
      ctr exec -it web sh
      echo hello | ctr exec -i web cat

    """

    static let flags: [Flag] = [.boolean("d", "detach"), .value("e", "env"), .value("u", "user"),
                                             .value("w", "workdir"), .boolean("t", "tty"), .boolean("i", "interactive")]

    static let operands = Operands.nameThenCommand

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags, stopAfter: 1)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let tty = parsed.flag("tty"), interactive = parsed.flag("interactive")
        if parsed.flag("detach") && (tty || interactive) {
            throw BerthError(.invalidArgument, "flag --detach: cannot be combined with --tty or --interactive (e.g. ctr exec -d web sleep 60)")
        }
        guard let name = parsed.positionals.first else { throw BerthError(.invalidArgument, "exec: expects a service name and a command (see ctr exec --help)") }
        var command = Array(parsed.positionals.dropFirst())
        if command.first == "--" { command.removeFirst() }
        guard !command.isEmpty else { throw BerthError(.invalidArgument, "exec: expects a command after the service name (e.g. ctr exec \(name) ps)") }
        let view = try ServiceView.loadAdopting(name, in: context)
        guard let status = view.status, status.state == .running || status.state == .stopping, status.containerIsAlive else {
            throw BerthError(.invalidState, "service \"\(name)\" is \(view.displayStatus): exec needs a running container")
        }
        if view.supervisorIsGone { warn(view.supervisorGoneWarning) }

        let store = StateStore(root: view.directory.runtimeRoot)
        var process = try Exec.baseProcess(store: store, id: view.definition.id)
        process.args = command
        process.terminal = tty
        if tty, let size = Terminal.size() { process.consoleSize = ConsoleSize(height: UInt(size.rows), width: UInt(size.columns)) }
        var environment: [String] = []
        for text in parsed.all("env") { if let variable = try FlagValues.environment(text) { environment.append(variable) } }
        process.env = FlagValues.mergeEnvironment(process.env ?? [], environment)
        if let workdir = parsed.value("workdir") {
            guard workdir.hasPrefix("/") else { throw BerthError(.invalidArgument, "flag --workdir: \"\(workdir)\" must be an absolute path (e.g. -w /tmp)") }
            process.cwd = workdir
        }
        if let user = parsed.value("user") {
            let (uid, gid) = try UserSpec.resolve(user, rootfs: view.definition.rootfs)
            process.user.uid = uid
            process.user.gid = gid
            process.user.additionalGids = nil
        }
        // Held before the process exists, so that none sent in between is lost.
        if !parsed.flag("detach") { try holdForwardedSignals() }
        var exec = Exec(store: store, id: view.definition.id, process: process)
        guard tty else {
            let started = try withStandardInput(interactive ? nil : "/dev/null") { () throws(BerthError) in try exec.start() }
            guard !parsed.flag("detach"), let pidfd = started.pidfd else {
                started.pidfd?.close()
                return 0
            }
            defer { pidfd.close() }
            return try waitForwardingSignals(pid: started.pid, pidfd: pidfd).shellStatus
        }
        // The runtime sends the pty master over this pair, as it would over --console-socket.
        let (ours, theirs) = try makeSocketPair()
        defer { ours.close() }
        exec.consoleConnection = theirs
        let started: (pid: pid_t, pidfd: FileDescriptor?)
        do { started = try exec.start() } catch {
            theirs.close()
            throw error
        }
        theirs.close()
        guard let pidfd = started.pidfd else { throw BerthError(.system, "exec: no pidfd for the process") }
        defer { pidfd.close() }
        let master: FileDescriptor
        do { master = try ForegroundTerminal.receiveMaster(ours) } catch {
            try? ProcessControl.signal(pidfd: pidfd, SIGKILL)
            _ = try? ProcessControl.wait(started.pid)
            throw error
        }
        defer { master.close() }
        return try ForegroundTerminal(master: master, interactive: interactive).run(pid: started.pid, pidfd: pidfd).shellStatus
    }

    /// Runs `body` (which starts the process, inheriting ctr's descriptors) with `path` on
    /// descriptor 0, or with ctr's own stdin when nil. ctr is single-threaded: nothing else
    /// sees the swap.
    private static func withStandardInput<T>(_ path: String?, _ body: () throws(BerthError) -> T) throws(BerthError) -> T {
        guard let path else { return try body() }
        let saved = FileDescriptor(rawValue: try sys("fcntl") { berth_fcntl_int(0, F_DUPFD_CLOEXEC, 3) })
        defer {
            _ = berth_dup3(saved.rawValue, 0, 0)
            saved.close()
        }
        let replacement = try FileDescriptor.open(path, O_RDONLY)
        defer { replacement.close() }
        try replacement.duplicate(as: 0)
        return try body()
    }
}
