import BerthCore
import CommandLineFlags
import Glibc
import Linux
import Runtime
import SupervisorAPI

/// `ctr rm [-f] NAME...`: removes ended services; with -f kills running ones first.
enum RmCommand: CtrCommand {
    static let summary = "remove services whose container has ended (-f: kill it first)"
    static let usage = """
    usage: ctr rm [-f] NAME...

    Removes a service: its state, its log and its supervisor's socket. A running service is
    refused unless -f is given; then its container is killed first (no grace period).

    flags:
      -f, --force   kill a running container first

    examples:
      ctr rm web
      ctr rm -f web worker

    """

    static let flags: [Flag] = [.boolean("f", "force")]

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let force = parsed.flag("force")
        var failures = 0
        for name in try parsed.names(command: "rm") {
            do {
                try remove(name, force: force, context)
                try writeOut(name + "\n")
            } catch {
                if parsed.positionals.count == 1 { throw error }
                failures += 1
                _ = try? FileDescriptor.standardError.writeAll("ctr: \(error.description)\n")
            }
        }
        return failures == 0 ? 0 : 1
    }

    static func remove(_ name: String, force: Bool, _ context: CtrContext) throws(BerthError) {
        let view: ServiceView
        do {
            view = try ServiceView.loadAdopting(name, in: context)
        } catch where error.code == .notFound && force {
            // A directory without service.json: a ctr run killed half-way. Nothing runs in it
            // that the runtime does not know about.
            let directory = context.service(name)
            guard directory.exists || directory.hasRuntimeState else { throw error }
            let containers = Containers(store: StateStore(root: directory.runtimeRoot))
            for id in containers.store.list() { try containers.delete(id, force: true) }
            directory.remove()
            return
        }
        if view.isActive {
            guard force else {
                throw BerthError(.invalidState, "service \"\(name)\" is \(view.displayStatus): stop it first (ctr stop \(name)) or use ctr rm -f \(name)")
            }
            if case let failure?? = StopCommand.stop([view], timeoutSeconds: 0).first?.1 { throw failure }
        } else {
            StopCommand.waitForSupervisorExit(view)
        }
        // Left over only if a supervisor died mid-way; the runtime removes it with its cgroup.
        try OrphanedService(view: view).removeContainer()
        view.directory.remove()
    }
}
