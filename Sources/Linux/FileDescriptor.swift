import BerthCore
import CShim
import Glibc

/// An open file descriptor. Closing is explicit: the launcher hands descriptors across fork, so
/// their lifetime is not a scope's.
public struct FileDescriptor: Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    /// open(2), always with O_CLOEXEC: no descriptor may leak into a container by accident.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644, relativeTo dir: FileDescriptor? = nil) throws(BerthError) -> FileDescriptor {
        let fd = try sys("open", path) { Glibc.openat(dir?.rawValue ?? AT_FDCWD, path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    /// close(2). Errors are ignored: after close the descriptor is gone whatever it returns.
    public func close() { _ = Glibc.close(rawValue) }

    /// Reads until end of file.
    public func readAll(limit: Int = 64 << 20) throws(BerthError) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = try sys("read") { buffer.withUnsafeMutableBytes { Glibc.read(rawValue, $0.baseAddress, $0.count) } }
            if count == 0 { return result }
            result.append(contentsOf: buffer[0..<count])
            if result.count > limit { throw BerthError(.system, "read: file larger than \(limit) bytes") }
        }
    }

    /// One read(2) of at most `count` bytes; empty at end of file.
    public func read(upTo count: Int) throws(BerthError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = try sys("read") { buffer.withUnsafeMutableBytes { Glibc.read(rawValue, $0.baseAddress, $0.count) } }
        buffer.removeSubrange(got...)
        return buffer
    }

    /// Writes every byte, retrying short writes.
    public func writeAll(_ bytes: some Collection<UInt8>) throws(BerthError) {
        let array = Array(bytes)
        var offset = 0
        while offset < array.count {
            let written = try sys("write") {
                array.withUnsafeBytes { Glibc.write(rawValue, $0.baseAddress! + offset, $0.count - offset) }
            }
            offset += written
        }
    }

    public func writeAll(_ string: String) throws(BerthError) { try writeAll(Array(string.utf8)) }

    /// Sets or clears FD_CLOEXEC.
    public func setCloseOnExec(_ on: Bool) throws(BerthError) {
        let flags = try sys("fcntl") { berth_fcntl_int(rawValue, F_GETFD, 0) }
        let updated = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC
        try sys("fcntl") { berth_fcntl_int(rawValue, F_SETFD, updated) }
    }

    /// dup3(2) onto `target`, leaving close-on-exec off so the descriptor survives exec.
    public func duplicate(as target: Int32) throws(BerthError) {
        if target == rawValue { try setCloseOnExec(false); return }
        try sys("dup3") { berth_dup3(rawValue, target, 0) }
    }

    public func stat() throws(BerthError) -> Glibc.stat {
        var info = Glibc.stat()
        try sys("fstat") { Glibc.fstat(rawValue, &info) }
        return info
    }

    /// The path of the object behind this descriptor, as /proc names it; for messages and for
    /// mount(2) calls, which take `/proc/self/fd/N` to act on exactly this object.
    public var procPath: String { "/proc/self/fd/\(rawValue)" }
}

/// A pipe or socket pair, both ends close-on-exec.
public func makeSocketPair() throws(BerthError) -> (FileDescriptor, FileDescriptor) {
    var fds: [Int32] = [0, 0]
    try sys("socketpair") { Glibc.socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
    return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
}

public func makePipe() throws(BerthError) -> (read: FileDescriptor, write: FileDescriptor) {
    var fds: [Int32] = [0, 0]
    try sys("pipe2") { berth_pipe2(&fds, O_CLOEXEC) }
    return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
}
