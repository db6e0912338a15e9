import Glibc
import OCI

/// Delivery of a notify listener fd to `linux.seccomp.listenerPath`.
public enum SeccompListener {
    /// Sends `listener` and the container process state to the seccomp agent at `path`, as
    /// the runtime-spec asks: a new AF_UNIX SOCK_STREAM connection, one message whose data is
    /// the `ContainerProcessState` JSON (`fds: ["seccompFd"]`) and whose SCM_RIGHTS carry the
    /// fd, then close. Parent side; the caller still owns and closes `listener`.
    ///
    /// - Parameters:
    ///   - pid: host PID of the process the filter was loaded in.
    ///   - metadata: `linux.seccomp.listenerMetadata`.
    ///   - state: the container's state at this point (status `creating`).
    public static func send(listener: Int32, to path: String, pid: Int, metadata: String?,
                            state: State) throws(SeccompError) {
        let message = ContainerProcessState(ociVersion: state.ociVersion, fds: [ContainerProcessState.seccompFdName],
                                            pid: pid, metadata: metadata, state: state)
        let json: [UInt8]
        do {
            json = try encodeJSONBytes(message)
        } catch {
            throw SeccompError(.system, path: "linux.seccomp.listenerPath", "cannot encode the process state: \(error)")
        }
        try send(fd: listener, data: json, to: path)
    }

    /// Connects to the unix socket `path` and sends `data` with `fd` attached.
    static func send(fd: Int32, data: [UInt8], to path: String) throws(SeccompError) {
        let fail = { (what: String, code: Int32) -> SeccompError in
            SeccompError(.system, path: "linux.seccomp.listenerPath", "\(what) \(quoted(path)): \(errorText(code))", errno: code)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard !pathBytes.isEmpty, pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SeccompError(.invalidConfig, path: "linux.seccomp.listenerPath",
                               "\(quoted(path)) is not a usable unix socket path (1-107 bytes)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }

        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard sock >= 0 else { throw fail("socket for", errno) }
        defer { close(sock) }
        var rc: Int32
        repeat {
            rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        } while rc < 0 && errno == EINTR
        guard rc == 0 else { throw fail("connect to", errno) }

        // One cmsghdr (16 bytes on 64-bit) followed by the int, padded: CMSG_SPACE(sizeof(int)).
        let headerSize = MemoryLayout<cmsghdr>.size
        let align = MemoryLayout<Int>.size
        let controlSize = (headerSize + MemoryLayout<Int32>.size + align - 1) / align * align
        var control = [UInt8](repeating: 0, count: controlSize)
        control.withUnsafeMutableBytes { raw in
            var header = cmsghdr()
            header.cmsg_len = Int(headerSize + MemoryLayout<Int32>.size)
            header.cmsg_level = SOL_SOCKET
            header.cmsg_type = Int32(SCM_RIGHTS)
            raw.storeBytes(of: header, as: cmsghdr.self)
            raw.storeBytes(of: fd, toByteOffset: headerSize, as: Int32.self)
        }

        var sent = 0
        var data = data
        let first: Int = data.withUnsafeMutableBytes { payload in
            control.withUnsafeMutableBytes { controlBytes in
                var iov = iovec(iov_base: payload.baseAddress, iov_len: payload.count)
                return withUnsafeMutablePointer(to: &iov) { iovPointer in
                    var header = msghdr()
                    header.msg_iov = iovPointer
                    header.msg_iovlen = 1
                    header.msg_control = controlBytes.baseAddress
                    header.msg_controllen = controlBytes.count
                    var n: Int
                    repeat { n = sendmsg(sock, &header, Int32(MSG_NOSIGNAL)) } while n < 0 && errno == EINTR
                    return n
                }
            }
        }
        guard first >= 0 else { throw fail("sendmsg to", errno) }
        sent = first
        while sent < data.count {  // the fd went with the first byte; the rest is plain data
            let n = data.withUnsafeBytes { Glibc.send(sock, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("send to", errno)
            }
            sent += n
        }
    }
}
