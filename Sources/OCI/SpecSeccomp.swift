/// Seccomp filter (`linux.seccomp`).
///
/// Actions, operators, architectures and flags are enums, so a typo such as
/// `SCMP_ACT_ALOW` is reported at decode time with its path rather than when the
/// filter is loaded.
public struct LinuxSeccomp: Codable, Sendable, Equatable {
    /// Action for syscalls no rule matches.
    public var defaultAction: SeccompAction
    /// errno returned when `defaultAction` is `SCMP_ACT_ERRNO` (default EPERM).
    public var defaultErrnoRet: UInt?
    /// Additional architectures the filter covers (the native one always is).
    public var architectures: [SeccompArch]?
    /// seccomp(2) flags.
    public var flags: [SeccompFlag]?
    /// Unix socket that receives the notify fd when a rule uses `SCMP_ACT_NOTIFY`.
    public var listenerPath: String?
    /// Opaque data passed to the listener.
    public var listenerMetadata: String?
    /// Rules, matched in order.
    public var syscalls: [LinuxSyscall]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(defaultAction: SeccompAction = .allow, defaultErrnoRet: UInt? = nil,
                architectures: [SeccompArch]? = nil, flags: [SeccompFlag]? = nil, listenerPath: String? = nil,
                listenerMetadata: String? = nil, syscalls: [LinuxSyscall]? = nil) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.flags = flags
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
        self.syscalls = syscalls
    }
}

/// A seccomp rule: an action for a set of syscalls, optionally conditioned on arguments.
public struct LinuxSyscall: Codable, Sendable, Equatable {
    /// Syscall names; kept as strings because the table is per-architecture and
    /// libseccomp resolves them.
    public var names: [String]
    public var action: SeccompAction
    /// errno for `SCMP_ACT_ERRNO` (default EPERM).
    public var errnoRet: UInt?
    /// All must match for the rule to apply.
    public var args: [LinuxSeccompArg]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(names: [String] = [], action: SeccompAction = .errno, errnoRet: UInt? = nil,
                args: [LinuxSeccompArg]? = nil) {
        self.names = names
        self.action = action
        self.errnoRet = errnoRet
        self.args = args
    }
}

/// A syscall argument comparison.
public struct LinuxSeccompArg: Codable, Sendable, Equatable {
    /// Argument position, 0-5.
    public var index: UInt
    public var value: UInt64
    /// Second operand, used by `SCMP_CMP_MASKED_EQ` (the mask is `value`).
    public var valueTwo: UInt64?
    public var op: SeccompOperator

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(index: UInt = 0, value: UInt64 = 0, valueTwo: UInt64? = nil, op: SeccompOperator = .equalTo) {
        self.index = index
        self.value = value
        self.valueTwo = valueTwo
        self.op = op
    }
}

/// What the filter does when a rule matches.
public enum SeccompAction: String, OCIStringEnum, CaseIterable {
    case kill = "SCMP_ACT_KILL"
    case killProcess = "SCMP_ACT_KILL_PROCESS"
    case killThread = "SCMP_ACT_KILL_THREAD"
    case trap = "SCMP_ACT_TRAP"
    case errno = "SCMP_ACT_ERRNO"
    case trace = "SCMP_ACT_TRACE"
    case allow = "SCMP_ACT_ALLOW"
    case log = "SCMP_ACT_LOG"
    case notify = "SCMP_ACT_NOTIFY"

    public static var valueDescription: String { "seccomp action" }
}

/// Argument comparison operators.
public enum SeccompOperator: String, OCIStringEnum, CaseIterable {
    case notEqual = "SCMP_CMP_NE"
    case lessThan = "SCMP_CMP_LT"
    case lessEqual = "SCMP_CMP_LE"
    case equalTo = "SCMP_CMP_EQ"
    case greaterEqual = "SCMP_CMP_GE"
    case greaterThan = "SCMP_CMP_GT"
    case maskedEqual = "SCMP_CMP_MASKED_EQ"

    public static var valueDescription: String { "seccomp operator" }
}

/// Architectures a filter can cover, as libseccomp names them.
public enum SeccompArch: String, OCIStringEnum, CaseIterable {
    case x86 = "SCMP_ARCH_X86"
    case x86_64 = "SCMP_ARCH_X86_64"
    case x32 = "SCMP_ARCH_X32"
    case arm = "SCMP_ARCH_ARM"
    case aarch64 = "SCMP_ARCH_AARCH64"
    case mips = "SCMP_ARCH_MIPS"
    case mips64 = "SCMP_ARCH_MIPS64"
    case mips64n32 = "SCMP_ARCH_MIPS64N32"
    case mipsel = "SCMP_ARCH_MIPSEL"
    case mipsel64 = "SCMP_ARCH_MIPSEL64"
    case mipsel64n32 = "SCMP_ARCH_MIPSEL64N32"
    case ppc = "SCMP_ARCH_PPC"
    case ppc64 = "SCMP_ARCH_PPC64"
    case ppc64le = "SCMP_ARCH_PPC64LE"
    case s390 = "SCMP_ARCH_S390"
    case s390x = "SCMP_ARCH_S390X"
    case parisc = "SCMP_ARCH_PARISC"
    case parisc64 = "SCMP_ARCH_PARISC64"
    case riscv64 = "SCMP_ARCH_RISCV64"
    /// Added in runtime-spec 1.2.1.
    case loongarch64 = "SCMP_ARCH_LOONGARCH64"

    public static var valueDescription: String { "seccomp architecture" }
}

/// seccomp(2) filter flags.
public enum SeccompFlag: String, OCIStringEnum, CaseIterable {
    case tsync = "SECCOMP_FILTER_FLAG_TSYNC"
    case log = "SECCOMP_FILTER_FLAG_LOG"
    case specAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
    case waitKillableRecv = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"

    public static var valueDescription: String { "seccomp flag" }
}
