import BerthCore
import Glibc
import Linux
import Runtime

/// `berth kill [--all] ID [SIGNAL]`; the signal defaults to SIGTERM.
enum KillCommand {
    static func run(_ arguments: [String], _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, valued: [:], booleans: ["all": "all", "a": "all"])
        guard (1...2).contains(parsed.positionals.count) else {
            throw BerthError(.invalidArgument, "kill: expects a container id and an optional signal")
        }
        let signal = try parsed.positionals.count == 2 ? signalNumber(parsed.positionals[1]) : SIGTERM
        try Containers(store: globals.store).kill(parsed.positionals[0], signal: signal, all: parsed.flag("all"))
        return 0
    }

    static let names: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT,
        "IOT": SIGIOT, "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV,
        "USR2": SIGUSR2, "PIPE": SIGPIPE, "ALRM": SIGALRM, "TERM": SIGTERM, "STKFLT": SIGSTKFLT,
        "CHLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU,
        "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF,
        "WINCH": SIGWINCH, "IO": SIGIO, "POLL": SIGPOLL, "PWR": SIGPWR, "SYS": SIGSYS,
    ]

    /// A signal by number (real-time signals included), by name, or by name with the SIG prefix.
    static func signalNumber(_ text: String) throws(BerthError) -> Int32 {
        if let number = Int32(text), number > 0, number < 65 { return number }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let number = names[name] { return number }
        throw BerthError(.invalidArgument, "kill: unknown signal \"\(text)\"")
    }
}
