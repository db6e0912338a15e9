import CShim
import Glibc
import Linux

/// A running hook's three pipes: the state goes to its stdin for as long as it reads it, and
/// its stdout and stderr are collected (the first 64 KiB of each) for the error runc writes
/// when a hook fails. One poll loop serves all three, so that neither a hook that never reads
/// nor one that writes more than a pipe holds can stall berth.
struct HookExchange {
    static let keptBytes = 64 << 10

    private let state: [UInt8]
    private var offset = 0
    private var input: FileDescriptor?
    private var output: FileDescriptor?
    private var errors: FileDescriptor?
    private(set) var stdout: [UInt8] = []
    private(set) var stderr: [UInt8] = []

    init(state: [UInt8], input: FileDescriptor, output: FileDescriptor, errors: FileDescriptor) {
        self.state = state
        self.input = input
        self.output = output
        self.errors = errors
        for fd in [input, output, errors] {
            let flags = berth_fcntl_int(fd.rawValue, F_GETFL, 0)
            if flags >= 0 { _ = berth_fcntl_int(fd.rawValue, F_SETFL, flags | O_NONBLOCK) }
        }
    }

    /// Feeds and collects until the hook exits (its pidfd; without one, until its stdout and
    /// stderr close) or the deadline passes. Returns false at the deadline.
    mutating func run(until pidfd: FileDescriptor?, deadline: Deadline?) -> Bool {
        // A hook that closes its stdin makes the write fail with EPIPE; SIGPIPE would kill berth
        // mid-create. Ignored only here, after the spawn, so the hook keeps the default action.
        let previous = Glibc.signal(SIGPIPE, SIG_IGN)
        defer { Glibc.signal(SIGPIPE, previous) }
        while true {
            feed()
            if pidfd == nil && input == nil && output == nil && errors == nil { return true }
            var entries = [pollfd(fd: input?.rawValue ?? -1, events: Int16(POLLOUT), revents: 0),
                           pollfd(fd: output?.rawValue ?? -1, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: errors?.rawValue ?? -1, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: pidfd?.rawValue ?? -1, events: Int16(POLLIN), revents: 0)]
            let ready = Glibc.poll(&entries, 4, deadline?.remainingMilliseconds ?? -1)
            if ready == 0 { return false }
            if ready < 0 {
                if Glibc.errno == EINTR { continue }
                return true
            }
            if entries[1].revents != 0 { Self.drain(&output, into: &stdout) }
            if entries[2].revents != 0 { Self.drain(&errors, into: &stderr) }
            if entries[3].revents != 0 {
                // It exited: what it wrote is in the pipes. A child of the hook may hold them
                // open, so what is there is read, and no end of file awaited.
                Self.drain(&output, into: &stdout)
                Self.drain(&errors, into: &stderr)
                return true
            }
        }
    }

    mutating func close() {
        for fd in [input, output, errors] { fd?.close() }
        (input, output, errors) = (nil, nil, nil)
    }

    /// Writes what the pipe takes; closes stdin once the state is written or the hook stops
    /// reading (EPIPE, or any other error: the hook's problem, not berth's).
    private mutating func feed() {
        guard let fd = input else { return }
        while offset < state.count {
            let written = state.withUnsafeBytes { Glibc.write(fd.rawValue, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if written > 0 { offset += written; continue }
            if written < 0 && Glibc.errno == EINTR { continue }
            if written < 0 && Glibc.errno == EAGAIN { return }
            break
        }
        fd.close()
        input = nil
    }

    /// Reads what `fd` holds now, keeping the first `keptBytes`; closes it at end of file.
    private static func drain(_ fd: inout FileDescriptor?, into buffer: inout [UInt8]) {
        guard let open = fd else { return }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(open.rawValue, $0.baseAddress, $0.count) }
            if got > 0 {
                buffer.append(contentsOf: chunk[0..<min(got, max(0, keptBytes - buffer.count))])
                continue
            }
            if got < 0 && Glibc.errno == EINTR { continue }
            if got < 0 && Glibc.errno == EAGAIN { return }
            open.close()
            fd = nil
            return
        }
    }
}
