import BerthCore
import CShim
import Glibc
import Linux

/// sd_notify through a container, as runc does: when berth's environment has NOTIFY_SOCKET (a
/// systemd unit of Type=notify, `podman run --sdnotify=container`), `create` and `run` bind a
/// directory of the container's state directory read-only at /run/notify and set the process's
/// NOTIFY_SOCKET to /run/notify/notify.sock; `start` and `run` bind a datagram socket there
/// before the process runs, then relay what the process sends to the host's socket until it
/// says READY=, add MAINPID and wait for systemd's BARRIER=1 acknowledgement.
public enum NotifySocket {
    /// runc's place for the socket in the container.
    public static let containerDirectory = "/run/notify"
    public static let socketName = "notify.sock"

    /// The host's socket: NOTIFY_SOCKET in berth's environment, when set and not empty.
    public static var hostSocket: String? {
        guard let value = getenv("NOTIFY_SOCKET") else { return nil }
        let path = String(cString: value)
        return path.isEmpty ? nil : path
    }

    /// The directory bound into the container, in its state directory (removed with it).
    public static func directory(in stateDirectory: String) -> String { stateDirectory + "/notify" }
}

extension LaunchPlan {
    /// Binds `directory` (made by the launcher: ``Launcher/notifyDirectory``) read-only at
    /// /run/notify and points the process's NOTIFY_SOCKET at the socket in it.
    public mutating func proxyNotifySocket(from directory: String) {
        mounts.append(MountStep(label: "NOTIFY_SOCKET", destination: NotifySocket.containerDirectory, type: nil, source: directory,
                                options: MountOptions(parsing: ["bind", "nosuid", "noexec", "nodev", "ro"])))
        process.environment.removeAll { $0.hasPrefix("NOTIFY_SOCKET=") }
        process.environment.append("NOTIFY_SOCKET=\(NotifySocket.containerDirectory)/\(NotifySocket.socketName)")
    }
}

/// berth's end of a container's notify socket. Made before the container's process runs, so
/// its first message finds the socket; `relay` then runs in `start` or `run` (after the init
/// has exec'd: a poll loop, no thread).
public struct NotifyRelay {
    let socket: FileDescriptor
    let host: String

    /// The relay for container `id` when berth's environment has NOTIFY_SOCKET and the container
    /// was created with one (its notify directory exists); nil otherwise.
    public static func open(store: StateStore, id: String) throws(BerthError) -> NotifyRelay? {
        guard let host = NotifySocket.hostSocket else { return nil }
        let directory = NotifySocket.directory(in: store.directory(id))
        guard Files.isDirectory(directory) else { return nil }
        return try NotifyRelay(directory: directory, host: host)
    }

    init(directory: String, host: String) throws(BerthError) {
        // Bound through the directory's descriptor: /proc/self/fd/N/notify.sock stays short
        // where the state path would pass sun_path's 108 bytes (containerd's state roots).
        let handle = try FileDescriptor.open(directory, BERTH_O_PATH | O_DIRECTORY)
        defer { handle.close() }
        let path = "/proc/self/fd/\(handle.rawValue)/\(NotifySocket.socketName)"
        _ = Glibc.unlink(path)
        let fd = FileDescriptor(rawValue: try sys("socket", "NOTIFY_SOCKET") { Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
        do {
            try NotifyRelay.withAddress(path) { (address, length) throws(BerthError) in
                _ = try sys("bind", directory + "/" + NotifySocket.socketName) { Glibc.bind(fd.rawValue, address, length) }
            }
            // Any user of the container may notify, as under runc.
            _ = try sys("chmod", directory + "/" + NotifySocket.socketName) { Glibc.chmod(path, 0o777) }
        } catch {
            fd.close()
            throw error
        }
        socket = fd
        self.host = host
    }

    public func close() { socket.close() }

    /// Relays each datagram the container sends to the host's socket as it comes, until one
    /// with a READY= line; then sends MAINPID=`mainPID` and BARRIER=1, and waits (at most 30 s,
    /// runc's bound) for the host to close the pipe sent with it. Returns early, relaying
    /// nothing more, when the process `pid` ends first.
    public func relay(pid: pid_t, mainPID: pid_t) throws(BerthError) {
        let client = FileDescriptor(rawValue: try sys("socket", "NOTIFY_SOCKET") { Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
        defer { client.close() }
        try NotifyRelay.withAddress(host) { (address, length) throws(BerthError) in
            _ = try sys("connect", "NOTIFY_SOCKET \(host)") { Glibc.connect(client.rawValue, address, length) }
        }
        let pidfd = berth_pidfd_open(pid, 0)
        defer { if pidfd >= 0 { Glibc.close(pidfd) } }
        if pidfd < 0 { return }  // already gone
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var fds = [pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0), pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)]
            if Glibc.poll(&fds, 2, -1) < 0 {
                if Glibc.errno == EINTR { continue }
                throw BerthError(.system, "poll NOTIFY_SOCKET", errno: Glibc.errno)
            }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let count = buffer.withUnsafeMutableBytes { Glibc.recv(socket.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                guard count > 0 else { continue }
                let message = Array(buffer.prefix(count))
                try send(message, to: client)
                if String(decoding: message, as: UTF8.self).split(separator: "\n").contains(where: { $0.hasPrefix("READY=") }) {
                    try send(Array("MAINPID=\(mainPID)\n".utf8), to: client)
                    try barrier(client)
                    return
                }
            } else if fds[1].revents != 0 {
                return
            }
        }
    }

    private func send(_ message: [UInt8], to client: FileDescriptor) throws(BerthError) {
        _ = try sys("send", "NOTIFY_SOCKET \(host)") { message.withUnsafeBytes { Glibc.send(client.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
    }

    /// sd_notify_barrier: BARRIER=1 with the write end of a pipe, whose read end sees EOF once
    /// the host has processed everything before it.
    private func barrier(_ client: FileDescriptor) throws(BerthError) {
        let (reading, writing) = try makePipe()
        defer { reading.close() }
        let sent = berth_send_fd(client.rawValue, writing.rawValue, "BARRIER=1")
        let sendErrno = Glibc.errno
        writing.close()
        if sent != 0 { throw BerthError(.system, "sendmsg BARRIER=1 to NOTIFY_SOCKET \(host)", errno: sendErrno) }
        var reader = pollfd(fd: reading.rawValue, events: Int16(POLLIN), revents: 0)
        while Glibc.poll(&reader, 1, 30_000) < 0 && Glibc.errno == EINTR {}
    }

    /// Calls `body` with a sockaddr_un for `path`; `@name` is an abstract address, as systemd
    /// may give it.
    static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(BerthError) -> Void) throws(BerthError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw BerthError(.invalidArgument, "NOTIFY_SOCKET: \(path) is too long for a unix socket address")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        // An abstract name is exactly its bytes; a path ends at its NUL.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let result: Result<Void, BerthError> = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                do throws(BerthError) { try body(generic, length); return .success(()) } catch { return .failure(error) }
            }
        }
        try result.get()
    }
}
