import CLibseccomp
import OCI

/// Filter return values (SECCOMP_RET_*); libseccomp's SCMP_ACT_* are the same numbers.
enum FilterReturn {
    static let killProcess: UInt32 = 0x8000_0000
    static let killThread: UInt32 = 0x0000_0000
    static let trap: UInt32 = 0x0003_0000
    static let errno: UInt32 = 0x0005_0000
    static let notify: UInt32 = 0x7fc0_0000
    static let trace: UInt32 = 0x7ff0_0000
    static let log: UInt32 = 0x7ffc_0000
    static let allow: UInt32 = 0x7fff_0000
    /// The largest errno the kernel (and libseccomp) accepts in SECCOMP_RET_ERRNO.
    static let maxErrno: UInt = 4095
    /// SECCOMP_RET_DATA: the message number of SECCOMP_RET_TRACE.
    static let maxData: UInt = 0xffff
    /// errno for SCMP_ACT_ERRNO without errnoRet, and trace message without errnoRet (runc).
    static let defaultErrno: UInt = 1
}

extension SeccompAction {
    /// SCMP_ACT_KILL is the historical name of SCMP_ACT_KILL_THREAD.
    var baseReturn: UInt32 {
        switch self {
        case .kill, .killThread: FilterReturn.killThread
        case .killProcess: FilterReturn.killProcess
        case .trap: FilterReturn.trap
        case .errno: FilterReturn.errno
        case .trace: FilterReturn.trace
        case .allow: FilterReturn.allow
        case .log: FilterReturn.log
        case .notify: FilterReturn.notify
        }
    }

    /// Whether `errnoRet` means something for this action.
    var takesData: Bool { self == .errno || self == .trace }
}

extension SeccompOperator {
    var scmp: scmp_compare {
        switch self {
        case .notEqual: SCMP_CMP_NE
        case .lessThan: SCMP_CMP_LT
        case .lessEqual: SCMP_CMP_LE
        case .equalTo: SCMP_CMP_EQ
        case .greaterEqual: SCMP_CMP_GE
        case .greaterThan: SCMP_CMP_GT
        case .maskedEqual: SCMP_CMP_MASKED_EQ
        }
    }
}

extension SeccompArch {
    /// The name libseccomp's `seccomp_arch_resolve_name` takes.
    public var libseccompName: String {
        String(rawValue.dropFirst("SCMP_ARCH_".count)).lowercased()
    }

    /// libseccomp's token for the architecture (its AUDIT_ARCH_* value), or nil when the
    /// installed libseccomp does not know it (loongarch64 needs 2.6).
    public var libseccompToken: UInt32? {
        let token = seccomp_arch_resolve_name(libseccompName)
        return token == 0 ? nil : token
    }
}

extension SeccompFlag {
    var filterFlag: SeccompFilterFlags {
        switch self {
        case .tsync: .tsync
        case .log: .log
        case .specAllow: .specAllow
        case .waitKillableRecv: .waitKillableRecv
        }
    }
}

/// The version of the libseccomp this process runs with, e.g. `2.5.4`.
public var libseccompVersion: String {
    guard let version = seccomp_version() else { return "unknown" }
    return "\(version.pointee.major).\(version.pointee.minor).\(version.pointee.micro)"
}
