import BerthCore
import CommandLineFlags
import Glibc
import Linux
import Runtime

/// `berth kill [--all] ID [SIGNAL]`; the signal defaults to SIGTERM. Signal 0, as in runc, only
/// checks that the container runs: the kernel checks the process and sends nothing.
enum KillCommand {
    static let flags: [Flag] = [.boolean("a", "all", summary: "signal every process of the container, not only its init")]

    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        guard (1...2).contains(parsed.positionals.count) else {
            throw BerthError(.invalidArgument, "kill: expects a container id and an optional signal")
        }
        var signal = SIGTERM
        if parsed.positionals.count == 2 {
            guard let number = parsed.positionals[1] == "0" ? 0 : Signal.number(parsed.positionals[1]) else {
                throw BerthError(.invalidArgument, "kill: unknown signal \"\(parsed.positionals[1])\"")
            }
            signal = number
        }
        try Containers(store: globals.store).kill(parsed.positionals[0], signal: signal, all: parsed.flag("all"))
        return 0
    }
}
