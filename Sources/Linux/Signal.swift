import Glibc

/// Signals as a command line names them: berth's `kill ID SIGNAL` and ctr's `--signal`.
public enum Signal {
    /// The names runc 1.1 takes (Go's x/sys/unix table for Linux, without the SIG prefix), then
    /// IOT and POLL, the aliases Linux defines. Real-time signals have no name here: runc takes
    /// them by number only.
    public static let names: [(name: String, number: Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP), ("ABRT", SIGABRT),
        ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL), ("USR1", SIGUSR1), ("SEGV", SIGSEGV), ("USR2", SIGUSR2),
        ("PIPE", SIGPIPE), ("ALRM", SIGALRM), ("TERM", SIGTERM), ("STKFLT", SIGSTKFLT), ("CHLD", SIGCHLD),
        ("CONT", SIGCONT), ("STOP", SIGSTOP), ("TSTP", SIGTSTP), ("TTIN", SIGTTIN), ("TTOU", SIGTTOU), ("URG", SIGURG),
        ("XCPU", SIGXCPU), ("XFSZ", SIGXFSZ), ("VTALRM", SIGVTALRM), ("PROF", SIGPROF), ("WINCH", SIGWINCH),
        ("IO", SIGIO), ("PWR", SIGPWR), ("SYS", SIGSYS), ("IOT", SIGIOT), ("POLL", SIGPOLL),
    ]

    /// The highest signal number: the kernel's _NSIG is 64 on every architecture berth builds for.
    public static let highest: Int32 = 64

    /// A signal by number (1 to 64, real-time signals included), by name, or by name with the SIG
    /// prefix, in any case; nil when it is none of these.
    public static func number(_ text: String) -> Int32? {
        if let number = Int32(text) { return (1...highest).contains(number) ? number : nil }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        return names.first { $0.name == name }?.number
    }
}
