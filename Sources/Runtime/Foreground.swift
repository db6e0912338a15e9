import CShim
import Glibc
import Linux

/// Blocks the signals `waitForwardingSignals` forwards. Called before `start`, a signal that
/// arrives while poststart hooks run waits for the forwarding instead of killing berth and
/// leaving the container behind: the signalfd made later still reads it.
public func holdForwardedSignals() throws(BerthError) {
    Glibc.close(try sys("signalfd") { berth_forwarding_signalfd() })
}

/// Waits for a child of ours while forwarding every signal berth receives to it: what `run` and
/// `exec` do in the foreground. SIGCHLD and SIGWINCH are ours and not forwarded.
public func waitForwardingSignals(pid: pid_t, pidfd: FileDescriptor) throws(BerthError) -> ProcessControl.Termination {
    let signals = try sys("signalfd") { berth_forwarding_signalfd() }
    defer { Glibc.close(signals) }
    while true {
        var entries = [pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: pidfd.rawValue, events: Int16(POLLIN), revents: 0)]
        _ = try sys("poll") { Glibc.poll(&entries, 2, -1) }
        if entries[0].revents != 0 {
            while case let signal = berth_read_signalfd(signals), signal != 0 {
                if signal == SIGCHLD || signal == SIGWINCH { continue }
                try? ProcessControl.signal(pidfd: pidfd, signal)
            }
        }
        if entries[1].revents != 0 {
            return try ProcessControl.wait(pid)
        }
    }
}
