import BerthCore
import CLibseccomp
import Glibc
import OCI

extension SeccompProgram {
    /// Compiles `linux.seccomp` to BPF with libseccomp. Runs in the parent, before clone.
    ///
    /// Follows runc where the spec leaves room:
    /// - SCMP_ACT_ERRNO without errnoRet returns EPERM; SCMP_ACT_TRACE without errnoRet
    ///   passes message 1 (EPERM's number) to the tracer;
    /// - the native architecture is always in the filter, as libseccomp does;
    /// - a syscall name libseccomp does not know is skipped with a warning;
    /// - a rule whose action equals the default action is dropped (libseccomp refuses it);
    /// - the args of a rule are ANDed, except when an argument index appears twice: then each
    ///   comparison becomes a rule of its own (ORed), since libseccomp cannot AND two
    ///   comparisons of one argument.
    ///
    /// libseccomp needs about 9 ms for the default profile (three architectures); with a
    /// `cache`, a profile compiled before costs one file read. The configuration is always
    /// validated, cached or not.
    ///
    /// - Parameters:
    ///   - kernel: what the kernel supports; flags and actions outside it are rejected with
    ///     their path. Defaults to ``SeccompKernelSupport/host``.
    ///   - cache: where compiled filters are kept between runs, or nil.
    /// - Throws: `BerthError` naming the offending JSON path.
    public static func compile(_ seccomp: LinuxSeccomp, kernel: SeccompKernelSupport? = nil,
                               cache: SeccompCache? = nil) throws(BerthError) -> SeccompProgram {
        var plan = try FilterPlan(seccomp, kernel: kernel ?? .host)
        let key = cache == nil ? [] : plan.cacheKey
        let generated: (instructions: [BPFInstruction], warnings: [String])
        if let cache, let cached = cache.load(key: key) {
            generated = cached
        } else {
            generated = try plan.generate()
            cache?.store(key: key, instructions: generated.instructions, warnings: generated.warnings)
        }
        plan.warnings += generated.warnings
        return SeccompProgram(instructions: generated.instructions, flags: plan.flags, warnings: plan.warnings)
    }

    /// The filter return value for an action and its errnoRet, checked against the kernel.
    static func filterReturn(_ action: SeccompAction, errnoRet: UInt?, actionPath: String, errnoPath: String,
                             kernel: SeccompKernelSupport) throws(BerthError) -> UInt32 {
        guard kernel.actions.contains(action) else {
            throw BerthError(.unsupported, path: actionPath, "\(action.rawValue) is not supported by this kernel")
        }
        switch action {
        case .errno, .trace:
            let data = errnoRet ?? FilterReturn.defaultErrno
            let limit = action == .errno ? FilterReturn.maxErrno : FilterReturn.maxData
            guard data <= limit else {
                throw BerthError(.invalidConfig, path: errnoPath,
                                   "\(data) is out of range 0-\(limit) for \(action.rawValue)")
            }
            return action.baseReturn | UInt32(data)
        default:
            if errnoRet != nil {
                throw BerthError(.invalidConfig, path: errnoPath,
                                   "only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not \(action.rawValue)")
            }
            return action.baseReturn
        }
    }

    /// The largest program the kernel loads (BPF_MAXINSNS).
    public static let maxInstructions = 4096

    /// Exports the filter through a pipe. The write end is non-blocking, so a program larger
    /// than the pipe (64 KiB, twice what the kernel accepts) makes libseccomp fail or stop
    /// short instead of blocking; either way it is refused below.
    static func export(_ ctx: scmp_filter_ctx) throws(BerthError) -> [BPFInstruction] {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw BerthError(.system, "seccomp: pipe: \(errorText(errno))", errno: errno, explainsErrno: true)
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFL, O_NONBLOCK)
        let rc = seccomp_export_bpf(ctx, writeEnd)
        close(writeEnd)
        if rc == -EAGAIN {
            throw BerthError(.invalidConfig, path: "linux.seccomp",
                               "the filter is larger than 64 KiB; the kernel accepts at most \(maxInstructions) instructions (32 KiB)")
        }
        if rc < 0 {
            throw BerthError(.system, "libseccomp cannot export the filter: \(errorText(-rc))", errno: -rc, explainsErrno: true)
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n > 0 { bytes += buffer[0..<n]; continue }
            if n == 0 { break }
            if errno == EINTR { continue }
            throw BerthError(.system, "seccomp: reading the exported filter: \(errorText(errno))", errno: errno, explainsErrno: true)
        }
        guard let instructions = instructions(fromBytes: bytes), !instructions.isEmpty else {
            throw BerthError(.system, "libseccomp exported a malformed filter (\(bytes.count) bytes)")
        }
        guard instructions.count <= maxInstructions else {
            throw BerthError(.invalidConfig, path: "linux.seccomp",
                               "the filter has \(instructions.count) or more instructions; the kernel accepts at most \(maxInstructions)")
        }
        return instructions
    }
}

func errorText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
}

func quoted(_ text: String) -> String {
    "\"" + text + "\""
}
