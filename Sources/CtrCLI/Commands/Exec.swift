import Glibc
import Linux
import OCI
import Runtime
import SupervisorAPI

/// `ctr exec [-d] [-e K=V] [-u USER] [-w DIR] NAME CMD...`: another process in a running
/// container, straight through the runtime (no round trip to the supervisor), with ctr's stdio.
enum ExecCommand: CtrCommand {
    static let summary = "run a command in a running service's container"
    static let usage = """
    usage: ctr exec [-d] [-e KEY=VALUE] [-u USER[:GROUP]] [-w DIR] NAME CMD [ARGS...]

    Runs CMD in the container, in all its namespaces and its cgroup, with the container's
    capabilities and seccomp profile, and returns CMD's exit status. Signals to ctr are
    forwarded to CMD.

    flags:
      -d, --detach             do not wait for CMD
      -e, --env KEY=VALUE      set a variable (over the container's)
      -u, --user USER[:GROUP]  run as this user, by number or by name in the image
      -w, --workdir DIR        working directory

    examples:
      ctr exec web ps
      ctr exec -u nobody -w /tmp web sh -c 'id; pwd'

    """

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try CtrArguments(arguments, flags: [.boolean("d", "detach"), .value("e", "env"), .value("u", "user"),
                                                         .value("w", "workdir"), .boolean("t", "tty"), .boolean("i", "interactive")],
                                      stopAfter: 1)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        for flag in ["tty", "interactive"] where parsed.flag(flag) {
            throw BerthError(.unsupported, "flag --\(flag): terminals are not supported by this version of ctr yet")
        }
        guard let name = parsed.positionals.first else { throw BerthError(.invalidArgument, "exec: expects a service name and a command (see ctr exec --help)") }
        var command = Array(parsed.positionals.dropFirst())
        if command.first == "--" { command.removeFirst() }
        guard !command.isEmpty else { throw BerthError(.invalidArgument, "exec: expects a command after the service name (e.g. ctr exec \(name) ps)") }
        let view = try ServiceView.loadAdopting(name, root: context.root)
        guard let status = view.status, status.state == .running || status.state == .stopping, status.containerIsAlive else {
            throw BerthError(.invalidState, "service \"\(name)\" is \(view.displayStatus): exec needs a running container")
        }
        if view.supervisorIsGone { warn(view.supervisorGoneWarning) }

        let store = StateStore(root: view.directory.runtimeRoot)
        var process = try Exec.baseProcess(store: store, id: view.definition.id)
        process.args = command
        process.terminal = false
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
        let started = try Exec(store: store, id: view.definition.id, process: process).start()
        guard !parsed.flag("detach"), let pidfd = started.pidfd else {
            started.pidfd?.close()
            return 0
        }
        defer { pidfd.close() }
        return try waitForwardingSignals(pid: started.pid, pidfd: pidfd).shellStatus
    }
}
