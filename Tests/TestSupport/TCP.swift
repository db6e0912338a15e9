import Foundation
import Glibc

/// Blocking IPv4 TCP sockets with receive and send timeouts, for tests of forwarded ports.
public final class TCPSocket: @unchecked Sendable {
    public let fd: Int32
    private var closed = false

    public struct Failure: Error, CustomStringConvertible {
        public let call: String
        public let errno: Int32
        public init(call: String, errno: Int32) {
            self.call = call
            self.errno = errno
        }
        public var description: String { "\(call): \(String(cString: strerror(errno)))" }
    }

    init(fd: Int32, timeoutSeconds: Int = 10) {
        self.fd = fd
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close() }

    static func address(_ host: String, _ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    /// Connects to host:port in the calling thread's network namespace.
    public static func connect(port: UInt16, host: String = "127.0.0.1", timeoutSeconds: Int = 10) throws -> TCPSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(call: "socket", errno: errno) }
        let socket = TCPSocket(fd: fd, timeoutSeconds: timeoutSeconds)
        var address = address(host, port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw Failure(call: "connect \(host):\(port)", errno: errno) }
        return socket
    }

    /// A listening socket on host:port (0: any free port, see `port`).
    public static func listen(_ host: String = "127.0.0.1", _ port: UInt16 = 0) throws -> TCPSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(call: "socket", errno: errno) }
        let socket = TCPSocket(fd: fd, timeoutSeconds: 30)
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = address(host, port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0, Glibc.listen(fd, 128) == 0 else { throw Failure(call: "bind/listen \(host):\(port)", errno: errno) }
        return socket
    }

    public var port: UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    public func accept() throws -> TCPSocket {
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw Failure(call: "accept", errno: errno) }
        return TCPSocket(fd: client)
    }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw Failure(call: "send", errno: errno) }
            offset += written
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Up to `count` bytes; empty at end of file.
    public func receive(upTo count: Int = 65536) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let read = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, count, 0) }
        guard read >= 0 else { throw Failure(call: "recv", errno: errno) }
        return Array(buffer.prefix(read))
    }

    /// Everything until end of file.
    public func receiveAll() throws -> [UInt8] {
        var all: [UInt8] = []
        while case let chunk = try receive(), !chunk.isEmpty { all += chunk }
        return all
    }

    /// Reads until `count` bytes arrived (or end of file).
    public func receive(exactly count: Int) throws -> [UInt8] {
        var all: [UInt8] = []
        while all.count < count, case let chunk = try receive(upTo: count - all.count), !chunk.isEmpty { all += chunk }
        return all
    }

    public func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with a reset (SO_LINGER 0) instead of a FIN.
    public func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    public func close() {
        if !closed { Glibc.close(fd) }
        closed = true
    }
}
