import BerthCore
import CommandLineFlags
import Linux
import Runtime

/// `berth start ID`.
enum StartCommand {
    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let id = try parsed.containerID(command: "start")
        // With NOTIFY_SOCKET, start returns once the process said READY= (or ended), as runc's.
        let notify = try NotifyRelay.open(store: globals.store, id: id)
        defer { notify?.close() }
        try Containers(store: globals.store).start(id)
        if let notify, let pid = try globals.store.load(id)?.pid { try notify.relay(pid: pid, mainPID: pid) }
        return 0
    }
}
