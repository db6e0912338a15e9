import Glibc
import Linux
import Runtime

/// `berth run [--bundle DIR] [--detach] [--pid-file F] [--keep] [--no-pivot] [--preserve-fds N] ID`:
/// create and start. In the foreground berth forwards signals, waits, deletes the container
/// unless --keep, and exits with the container's status (128+N for signal N).
enum RunCommand {
    static func run(_ arguments: [String], _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        var booleans = CreateCommand.booleans
        booleans["detach"] = "detach"
        booleans["d"] = "detach"
        booleans["keep"] = "keep"
        let parsed = try Arguments(arguments, valued: CreateCommand.valued, booleans: booleans)
        let launcher = try CreateCommand.makeLauncher(parsed, globals, command: "run")
        let created = try launcher.create()
        let containers = Containers(store: globals.store)
        let id = created.record.id
        do {
            if !parsed.flag("detach") { try holdForwardedSignals() }
            try containers.start(id)
        } catch {
            try? containers.delete(id, force: true)
            throw error
        }
        guard !parsed.flag("detach"), let pidfd = created.pidfd else { return 0 }
        let end = try waitForwardingSignals(pid: created.record.pid, pidfd: pidfd)
        pidfd.close()
        if !parsed.flag("keep") {
            // The init is gone; --force also kills whatever it left running in the cgroup.
            try containers.delete(id, force: true)
        }
        return end.shellStatus
    }
}
