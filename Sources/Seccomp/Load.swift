import BerthCore
import Glibc

/// `struct sock_fprog`: `unsigned short len` at 0, the instruction pointer at 8.
struct SockFprog {
    var len: UInt16
    var filter: UnsafeRawPointer?
}

extension SeccompProgram {
    /// `SECCOMP_SET_MODE_FILTER`, the operation ``load(using:)`` passes.
    public static let setModeFilter: UInt32 = 1

    /// Installs the filter on the calling thread (every thread with TSYNC). Child side.
    ///
    /// Makes exactly one call, `seccomp(SECCOMP_SET_MODE_FILTER, flags, &sock_fprog)`, through
    /// `seccomp`, and allocates nothing unless it fails, so it is safe between fork and exec.
    /// The kernel requires no_new_privs or CAP_SYS_ADMIN; call it as late as possible (right
    /// before execve), so that the runtime's own remaining syscalls need not be allowed.
    ///
    ///     let listener = try program.load(using: berth_seccomp)
    ///
    /// - Returns: the notify listener fd (close-on-exec) when ``needsListener``, else nil.
    ///   The init sends it to `linux.seccomp.listenerPath` over a socket the parent connected
    ///   before clone, with the container process state (Runtime's ProcessIdentity).
    public func load(using seccomp: SeccompSyscall) throws(BerthError) -> Int32? {
        guard !instructions.isEmpty, instructions.count <= Self.maxInstructions else {
            throw BerthError(.invalidConfig, path: "linux.seccomp",
                               "a filter must have 1-\(Self.maxInstructions) instructions, not \(instructions.count)")
        }
        let flags = self.flags.rawValue
        let result = instructions.withUnsafeBufferPointer { buffer in
            var program = SockFprog(len: UInt16(buffer.count), filter: UnsafeRawPointer(buffer.baseAddress))
            return withUnsafeMutablePointer(to: &program) { seccomp(Self.setModeFilter, flags, UnsafeMutableRawPointer($0)) }
        }
        if result < 0 {
            let code = Glibc.errno
            let reason: String
            switch code {
            case EACCES: reason = "permission denied: set no_new_privs (process.noNewPrivileges) or keep CAP_SYS_ADMIN until the filter is loaded"
            case EINVAL: reason = "invalid argument (flags 0x\(hex(flags, 2)) or program rejected by the kernel)"
            case ESRCH: reason = "another thread of the process could not be synchronized (SECCOMP_FILTER_FLAG_TSYNC)"
            case EBUSY: reason = "a notify listener already exists for this process"
            default: reason = errorText(code)
            }
            throw BerthError(.system, "seccomp(SECCOMP_SET_MODE_FILTER): \(reason)", errno: code, explainsErrno: true)
        }
        if needsListener { return result }
        if result > 0 {
            // TSYNC without TSYNC_ESRCH reports the thread that could not be synchronized.
            throw BerthError(.system, "seccomp(SECCOMP_SET_MODE_FILTER): thread \(result) could not be synchronized (SECCOMP_FILTER_FLAG_TSYNC)")
        }
        return nil
    }
}
