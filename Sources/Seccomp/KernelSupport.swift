import CLibseccomp
import Glibc
import OCI

/// What the running kernel's seccomp supports, so that ``SeccompProgram/compile(_:kernel:)``
/// can reject a flag or action with its JSON path instead of the child failing with EINVAL.
public struct SeccompKernelSupport: Sendable, Equatable {
    /// Actions the kernel accepts (SCMP_ACT_KILL_PROCESS and SCMP_ACT_LOG since 4.14,
    /// SCMP_ACT_NOTIFY since 5.0).
    public var actions: Set<SeccompAction>
    /// `linux.seccomp.flags` values the kernel accepts (TSYNC 3.17, LOG 4.14, SPEC_ALLOW
    /// 4.17, WAIT_KILLABLE_RECV 5.19).
    public var flags: Set<SeccompFlag>
    /// SECCOMP_FILTER_FLAG_TSYNC_ESRCH (5.7): TSYNC together with a notify listener.
    public var tsyncWithListener: Bool

    public init(actions: Set<SeccompAction>, flags: Set<SeccompFlag>, tsyncWithListener: Bool) {
        self.actions = actions
        self.flags = flags
        self.tsyncWithListener = tsyncWithListener
    }

    /// Everything: for compiling a filter for another machine, and for tests.
    public static let everything = SeccompKernelSupport(
        actions: Set(SeccompAction.allCases), flags: Set(SeccompFlag.allCases), tsyncWithListener: true)

    /// The running kernel, as libseccomp's API level reports it (libseccomp probes the kernel
    /// once per process), plus the kernel release for WAIT_KILLABLE_RECV, which libseccomp
    /// 2.5 does not know. Computed once.
    public static let host: SeccompKernelSupport = fromAPILevel(seccomp_api_get(), kernelRelease: kernelRelease())

    /// Asks the kernel directly, as libseccomp does: SECCOMP_GET_ACTION_AVAIL for each
    /// action, and SECCOMP_SET_MODE_FILTER with each flag and a NULL program (EFAULT means
    /// the flag passed validation; EINVAL means it is unknown). Installs nothing.
    public static func probe(using seccomp: SeccompSyscall) -> SeccompKernelSupport {
        let getActionAvail: UInt32 = 2
        var actions = Set<SeccompAction>()
        for action in SeccompAction.allCases {
            var value = action.baseReturn
            if withUnsafeMutablePointer(to: &value, { seccomp(getActionAvail, 0, $0) }) == 0 {
                actions.insert(action)
            }
        }
        func accepts(_ flags: SeccompFilterFlags) -> Bool {
            let setModeFilter: UInt32 = 1
            return seccomp(setModeFilter, flags.rawValue, nil) == -1 && Glibc.errno == EFAULT
        }
        var flags = Set<SeccompFlag>()
        for flag in SeccompFlag.allCases {
            // WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
            let extra: SeccompFilterFlags = flag == .waitKillableRecv ? .newListener : []
            if accepts(flag.filterFlag.union(extra)) { flags.insert(flag) }
        }
        return SeccompKernelSupport(actions: actions, flags: flags,
                                    tsyncWithListener: accepts([.tsync, .newListener, .tsyncESRCH]))
    }

    /// The support implied by a libseccomp API level (see seccomp_api_get(3)).
    static func fromAPILevel(_ level: UInt32, kernelRelease: (major: Int, minor: Int)?) -> SeccompKernelSupport {
        var actions: Set<SeccompAction> = [.kill, .killThread, .trap, .errno, .trace, .allow]
        var flags: Set<SeccompFlag> = []
        if level >= 2 { flags.insert(.tsync) }
        if level >= 3 { actions.formUnion([.log, .killProcess]); flags.insert(.log) }
        if level >= 4 { flags.insert(.specAllow) }
        if level >= 5 { actions.insert(.notify) }
        if level >= 5, let release = kernelRelease, release >= (5, 19) { flags.insert(.waitKillableRecv) }
        return SeccompKernelSupport(actions: actions, flags: flags, tsyncWithListener: level >= 6)
    }

    /// `(major, minor)` of uname(2)'s release, e.g. (6, 1) for "6.1.0-18-amd64".
    static func kernelRelease() -> (major: Int, minor: Int)? {
        var name = utsname()
        guard uname(&name) == 0 else { return nil }
        let release = withUnsafeBytes(of: &name.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return parseRelease(release)
    }

    static func parseRelease(_ release: String) -> (major: Int, minor: Int)? {
        let parts = release.split(separator: ".", maxSplits: 2)
        guard parts.count >= 2, let major = Int(parts[0]),
              let minor = Int(parts[1].prefix { $0.isNumber }) else { return nil }
        return (major, minor)
    }
}
