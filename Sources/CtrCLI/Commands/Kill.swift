import BerthCore
import CommandLineFlags
import Glibc
import Linux
import SupervisorAPI

/// `ctr kill [-s SIGNAL] NAME...`: a signal to the container's init. Unlike stop, the restart
/// policy applies to the exit it causes.
enum KillCommand: CtrCommand {
    static let summary = "send a signal to the container's init (default KILL)"
    static let usage = """
    usage: ctr kill [-s SIGNAL] NAME...

    Sends a signal to the container's init process. The restart policy applies to the exit
    this causes (use ctr stop to end a service for good).

    flags:
      -s, --signal SIGNAL   name or number (default KILL)

    examples:
      ctr kill web
      ctr kill -s HUP web

    """

    static let flags: [Flag] = [.value("s", "signal")]

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let signal = try parsed.value("signal").map { (text) throws(BerthError) in try FlagValues.signal(text) } ?? SIGKILL
        return try forEach(parsed.names(command: "kill"), context) { (view) throws(BerthError) in
            guard view.isActive else { throw BerthError(.invalidState, "service \"\(view.name)\" is \(view.displayStatus), not running") }
            if view.supervisorIsGone {
                warn(view.supervisorGoneWarning)
                try OrphanedService(view: view).kill(signal: signal)
                return
            }
            do throws(BerthError) {
                _ = try ControlClient.send(.kill(signal: signal), to: view.directory, timeoutMilliseconds: 10_000)
            } catch where error.code == .noAnswer {
                // The request was closed unanswered, so the supervisor will not act on it later.
                warn("\(error.description); signalling the container's init directly")
                try OrphanedService(view: view).kill(signal: signal)
            }
        }
    }
}
