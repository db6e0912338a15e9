import BerthCore
import CommandLineFlags
import Glibc
import Linux
import Runtime

/// `berth run [--bundle DIR] [--detach] [--pid-file F] [--keep] [--no-pivot] [--preserve-fds N] ID`:
/// create and start. In the foreground berth forwards signals, waits, deletes the container
/// unless --keep, and exits with the container's status (128+N for signal N). A process with
/// `terminal` set and no --console-socket gets a pty whose master berth proxies to its own
/// stdio, as runc does; detached, it needs --console-socket.
enum RunCommand {
    static let flags = CreateCommand.flags + [
        .boolean("d", "detach", summary: "return once the container has started"),
        .boolean("keep", summary: "do not delete the container when it ends"),
    ]

    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let detach = parsed.flag("detach")
        var launcher = try CreateCommand.makeLauncher(parsed, globals, command: "run")
        let containers = Containers(store: globals.store)
        let proxied = !detach && launcher.plan.process.terminal && launcher.consoleSocket == nil
        let (created, master) = try ConsolePair.receiving(proxied) { (connection) throws(BerthError) in
            launcher.consoleConnection = connection
            return try launcher.create()
        } abandon: { created in
            created.pidfd?.close()
            try? containers.delete(created.record.id, force: true)
        }
        defer { master?.close() }
        let id = created.record.id
        let notify: NotifyRelay?
        do {
            if !detach { try holdForwardedSignals() }
            // The size before the first instruction of the process, as a shell reads it at start.
            master.map { ForegroundTerminal(master: $0, interactive: true).copyWindowSize() }
            notify = try NotifyRelay.open(store: globals.store, id: id)
            try containers.start(id)
        } catch {
            try? containers.delete(id, force: true)
            throw error
        }
        if let notify {
            defer { notify.close() }
            // As runc: the main pid is the init's when detached, berth's while it waits, and a
            // relay that fails does not stop the container. A proxied terminal would not be
            // served meanwhile, so there is no relay with one.
            if master == nil { try? notify.relay(pid: created.record.pid, mainPID: detach ? created.record.pid : getpid()) }
        }
        guard !detach, let pidfd = created.pidfd else { return 0 }
        defer { pidfd.close() }
        let end = if let master {
            try ForegroundTerminal(master: master, interactive: true).run(pid: created.record.pid, pidfd: pidfd)
        } else {
            try waitForwardingSignals(pid: created.record.pid, pidfd: pidfd)
        }
        if !parsed.flag("keep") {
            // The init is gone; --force also kills whatever it left running in the cgroup.
            try containers.delete(id, force: true)
        }
        return end.shellStatus
    }
}

/// berth's end of the console socket when berth proxies a foreground process's terminal: the
/// runtime sends the pty master over a socket pair as it would over --console-socket.
enum ConsolePair {
    /// Calls `body` with the runtime's end of a new socket pair (or nil when not `wanted`), then
    /// receives the master it sent. If that fails, `abandon` undoes what `body` made.
    static func receiving<T>(_ wanted: Bool, _ body: (FileDescriptor?) throws(BerthError) -> T,
                             abandon: (T) -> Void) throws(BerthError) -> (T, FileDescriptor?) {
        guard wanted else { return (try body(nil), nil) }
        let (ours, theirs) = try makeSocketPair()
        defer { ours.close() }
        let result: T
        do {
            // Closed once the process has its copy, so a process that never sends one reads as EOF.
            defer { theirs.close() }
            result = try body(theirs)
        }
        do {
            return (result, try ForegroundTerminal.receiveMaster(ours))
        } catch {
            abandon(result)
            throw error
        }
    }
}
