import Glibc
import Linux
import Testing

/// The one signal parser of berth kill and ctr --signal, against runc 1.1.5's rules: a number,
/// or a name with or without SIG in any case.
@Suite struct SignalTests {
    /// The names the two old tables disagreed on, and some both had.
    static let named: [(String, Int32)] = [
        ("SEGV", SIGSEGV), ("ILL", SIGILL), ("BUS", SIGBUS), ("FPE", SIGFPE), ("CHLD", SIGCHLD), ("IO", SIGIO),
        ("TERM", 15), ("kill", 9), ("Hup", 1), ("STKFLT", 16), ("IOT", SIGABRT), ("POLL", SIGIO), ("SYS", 31),
    ]

    @Test(arguments: named)
    func namesWithOrWithoutTheSIGPrefixInAnyCase(_ name: String, _ number: Int32) {
        #expect(Signal.number(name) == number)
        #expect(Signal.number("SIG" + name) == number)
        #expect(Signal.number(name.lowercased()) == number)
        #expect(Signal.number("sig" + name.lowercased()) == number)
    }

    @Test func numbersUpToTheLastRealTimeSignal() {
        #expect(Signal.number("1") == 1)
        #expect(Signal.number("34") == 34, "SIGRTMIN as glibc counts it")
        #expect(Signal.number("64") == 64)
        for text in ["0", "65", "-9", "99999999999", "9x", ""] { #expect(Signal.number(text) == nil, "\(text)") }
    }

    @Test func unknownNamesAreRefused() {
        for text in ["NOPE", "SIG", "RTMIN", "SIGRTMIN+1", "KILL9", " KILL", "SIGSIGKILL"] { #expect(Signal.number(text) == nil, "\(text)") }
    }

    /// Every number 1 to 31 has exactly one primary name, as in Go's x/sys/unix table runc reads.
    @Test func everyStandardSignalHasOneName() {
        let primary = Signal.names.filter { $0.name != "IOT" && $0.name != "POLL" }
        #expect(primary.map(\.number).sorted() == Array(1...31))
        #expect(Set(Signal.names.map(\.name)).count == Signal.names.count)
    }
}
