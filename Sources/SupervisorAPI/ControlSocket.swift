import BerthCore
import CShim
import Glibc
import Linux

/// The control socket: AF_UNIX SOCK_SEQPACKET, so every message is one packet and the kernel
/// keeps the boundaries; nothing needs framing, and a sender cannot leave half a message behind.
public enum ControlSocket {
    /// What one receive got.
    public enum Received: Equatable, Sendable {
        case message([UInt8])
        /// A packet longer than the limit; its length. The kernel has discarded it.
        case oversized(Int)
        /// The peer closed the connection.
        case closed
        /// Nothing to read yet (non-blocking socket).
        case wouldBlock
    }

    /// Binds and listens at `path`, replacing a stale socket, with mode 0600 from the start.
    public static func listen(at path: String, backlog: Int32 = 64) throws(BerthError) -> FileDescriptor {
        let fd = try makeSocket(nonBlocking: true)
        do throws(BerthError) {
            _ = Glibc.unlink(path)
            // The umask makes bind create the socket 0600: no moment in which others could connect.
            let previous = Glibc.umask(0o177)
            let bound = withAddress(of: path) { address, length in Glibc.bind(fd.rawValue, address, length) }
            let bindErrno = Glibc.errno
            Glibc.umask(previous)
            if bound != 0 { throw BerthError(.system, "bind \(path)", errno: bindErrno) }
            try sys("chmod", path) { Glibc.chmod(path, 0o600) }
            try sys("listen", path) { Glibc.listen(fd.rawValue, backlog) }
            return fd
        } catch {
            fd.close()
            throw error
        }
    }

    /// Whether the other end of a connection has closed it (POLLHUP: both directions shut). A
    /// request still queued from a client that gave up waiting for its answer reads as one.
    public static func peerHasGone(_ fd: FileDescriptor) -> Bool {
        var entry = pollfd(fd: fd.rawValue, events: 0, revents: 0)
        return Glibc.poll(&entry, 1, 0) > 0 && entry.revents & Int16(POLLHUP) != 0
    }

    /// Connects to the socket at `path` (blocking connect; a listening unix socket answers at once).
    public static func connect(to path: String) throws(BerthError) -> FileDescriptor {
        let fd = try makeSocket(nonBlocking: false)
        let connected = withAddress(of: path) { address, length in Glibc.connect(fd.rawValue, address, length) }
        if connected != 0 {
            let code = Glibc.errno
            fd.close()
            throw BerthError(.system, "connect \(path)", errno: code)
        }
        return fd
    }

    /// Accepts one pending connection, non-blocking and close-on-exec; nil when none is pending.
    /// (accept4 is hidden behind _GNU_SOURCE; the supervisor is single-threaded, so setting the
    /// flags after accept leaves no window for a concurrent exec.)
    public static func accept(_ listener: FileDescriptor) throws(BerthError) -> FileDescriptor? {
        while true {
            let fd = Glibc.accept(listener.rawValue, nil, nil)
            if fd >= 0 {
                _ = berth_fcntl_int(fd, F_SETFD, FD_CLOEXEC)
                _ = berth_fcntl_int(fd, F_SETFL, O_NONBLOCK)
                return FileDescriptor(rawValue: fd)
            }
            switch Glibc.errno {
            case EINTR: continue
            // A client that gave up between connect and accept is not an error of ours.
            case EAGAIN, ECONNABORTED, EPROTO: return nil
            default: throw BerthError(.system, "accept", errno: Glibc.errno)
            }
        }
    }

    /// Sends one packet. MSG_NOSIGNAL: a peer that hung up is an error, never a SIGPIPE that
    /// would kill the supervisor.
    public static func send(_ bytes: [UInt8], on fd: FileDescriptor) throws(BerthError) {
        let sent = try sys("send") {
            bytes.withUnsafeBytes { Glibc.send(fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        if sent != bytes.count { throw BerthError(.system, "send: short send") }
    }

    /// Receives one packet of at most `limit` bytes. MSG_TRUNC makes the kernel report the real
    /// length of a longer packet, which it then drops, so an oversized message costs no memory.
    public static func receive(on fd: FileDescriptor, limit: Int = ControlProtocol.maximumMessageSize) throws(BerthError) -> Received {
        var buffer = [UInt8](repeating: 0, count: limit)
        while true {
            let got = buffer.withUnsafeMutableBytes { Glibc.recv(fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_TRUNC)) }
            if got >= 0 {
                if got == 0 { return .closed }
                if got > limit { return .oversized(got) }
                buffer.removeSubrange(got...)
                return .message(buffer)
            }
            switch Glibc.errno {
            case EINTR: continue
            case EAGAIN: return .wouldBlock
            case ECONNRESET: return .closed
            default: throw BerthError(.system, "recv", errno: Glibc.errno)
            }
        }
    }

    /// The uid of the process at the other end (SO_PEERCRED), nil if unknown.
    public static func peerUID(_ fd: FileDescriptor) -> uid_t? {
        // struct ucred (pid, uid, gid), which Swift's Glibc does not import without _GNU_SOURCE.
        var credentials: [Int32] = [0, 0, 0]
        var length = socklen_t(12)
        let got = credentials.withUnsafeMutableBytes { Glibc.getsockopt(fd.rawValue, SOL_SOCKET, SO_PEERCRED, $0.baseAddress, &length) }
        guard got == 0, length == 12 else { return nil }
        return uid_t(bitPattern: credentials[1])
    }

    private static func makeSocket(nonBlocking: Bool) throws(BerthError) -> FileDescriptor {
        var type = Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        return FileDescriptor(rawValue: try sys("socket") { Glibc.socket(AF_UNIX, type, 0) })
    }

    /// Calls `body` with a sockaddr_un for `path`. sun_path holds 107 bytes; a longer path (a deep
    /// --root) is reached through /proc/self/fd of its directory instead.
    private static func withAddress(of path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        var directory: Int32 = -1
        defer { if directory >= 0 { Glibc.close(directory) } }
        var name = path
        if path.utf8.count >= capacity, let slash = path.lastIndex(of: "/") {
            directory = Glibc.open(String(path[..<slash]), BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC)
            name = "/proc/self/fd/\(directory)/" + path[path.index(after: slash)...]
        }
        let bytes = Array(name.utf8)
        guard bytes.count < capacity else {
            Glibc.errno = ENAMETOOLONG
            return -1
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
