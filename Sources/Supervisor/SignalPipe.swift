import BerthCore
import CShim
import Glibc
import Linux

/// Signals as bytes on a pipe, for the supervisor's poll loop.
///
/// Not a signalfd: a signalfd needs the signals blocked, and the container's init inherits its
/// creator's signal mask through clone and exec (ContainerInit does not reset it), so the
/// container would start with SIGTERM blocked. A handler leaves the mask empty and is reset to
/// the default by exec.
enum SignalPipe {
    nonisolated(unsafe) static var writeEnd: Int32 = -1
    /// The supervisor's pid: between clone and exec the container's init runs with these
    /// handlers too, and must not wake the supervisor with signals meant for itself.
    nonisolated(unsafe) static var owner: pid_t = 0

    /// Installs the handler for `signals` and returns the pipe's non-blocking read end.
    static func install(_ signals: [Int32]) throws(BerthError) -> FileDescriptor {
        var fds: [Int32] = [0, 0]
        try sys("pipe2") { berth_pipe2(&fds, O_CLOEXEC | O_NONBLOCK) }
        writeEnd = fds[1]
        owner = Glibc.getpid()
        // glibc's signal() is sigaction with SA_RESTART (BSD semantics); Swift cannot call
        // sigaction(2) by name, which its struct shadows.
        for signal in signals { _ = Glibc.signal(signal, signalPipeHandler) }
        return FileDescriptor(rawValue: fds[0])
    }

    /// The signals that arrived since the last call.
    static func drain(_ readEnd: FileDescriptor) -> [Int32] {
        var signals: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let got = buffer.withUnsafeMutableBytes { Glibc.read(readEnd.rawValue, $0.baseAddress, $0.count) }
            if got > 0 { signals += buffer[0..<got].map { Int32($0) }; continue }
            if got < 0 && Glibc.errno == EINTR { continue }
            return signals
        }
    }
}

/// Async-signal-safe: getpid and write only, errno preserved.
private func signalPipeHandler(_ signal: Int32) {
    let saved = Glibc.errno
    if Glibc.getpid() == SignalPipe.owner {
        var byte = UInt8(truncatingIfNeeded: signal)
        _ = Glibc.write(SignalPipe.writeEnd, &byte, 1)
    }
    Glibc.errno = saved
}
