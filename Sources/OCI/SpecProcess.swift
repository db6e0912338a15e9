/// The container process (`process`).
public struct Process: Codable, Sendable, Equatable {
    /// Attach a pseudo-terminal; absent means false.
    public var terminal: Bool?
    /// Initial console size, when `terminal` is true.
    public var consoleSize: ConsoleSize?
    /// Identity the process runs as.
    public var user: User
    /// argv; the first entry is resolved like execvp(3)'s file. Required on Linux.
    public var args: [String]
    /// Full command line (Windows only; kept so such configs still decode).
    public var commandLine: String?
    /// Environment, `KEY=value`.
    public var env: [String]?
    /// Absolute working directory inside the container.
    public var cwd: String
    /// Capability sets.
    public var capabilities: LinuxCapabilities?
    /// Resource limits, applied with setrlimit(2).
    public var rlimits: [POSIXRlimit]?
    /// Set PR_SET_NO_NEW_PRIVS; absent means false.
    public var noNewPrivileges: Bool?
    /// AppArmor profile name.
    public var apparmorProfile: String?
    /// Value for /proc/self/oom_score_adj.
    public var oomScoreAdj: Int?
    /// sched_setattr(2) parameters.
    public var scheduler: Scheduler?
    /// SELinux process label.
    public var selinuxLabel: String?
    /// ioprio_set(2) parameters.
    public var ioPriority: IOPriority?
    /// CPU affinity while `exec`-ing into the container (runtime-spec 1.2.1).
    public var execCPUAffinity: CPUAffinity?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(
        terminal: Bool? = nil,
        consoleSize: ConsoleSize? = nil,
        user: User = User(),
        args: [String] = [],
        commandLine: String? = nil,
        env: [String]? = nil,
        cwd: String = "/",
        capabilities: LinuxCapabilities? = nil,
        rlimits: [POSIXRlimit]? = nil,
        noNewPrivileges: Bool? = nil,
        apparmorProfile: String? = nil,
        oomScoreAdj: Int? = nil,
        scheduler: Scheduler? = nil,
        selinuxLabel: String? = nil,
        ioPriority: IOPriority? = nil,
        execCPUAffinity: CPUAffinity? = nil
    ) {
        self.terminal = terminal
        self.consoleSize = consoleSize
        self.user = user
        self.args = args
        self.commandLine = commandLine
        self.env = env
        self.cwd = cwd
        self.capabilities = capabilities
        self.rlimits = rlimits
        self.noNewPrivileges = noNewPrivileges
        self.apparmorProfile = apparmorProfile
        self.oomScoreAdj = oomScoreAdj
        self.scheduler = scheduler
        self.selinuxLabel = selinuxLabel
        self.ioPriority = ioPriority
        self.execCPUAffinity = execCPUAffinity
    }
}

extension Process {
    /// As the synthesized decoder, except that a missing `user` is uid 0, gid 0: runc's Go
    /// decoder leaves it zero, and engines write process.json files without it.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(terminal: try c.decodeIfPresent(Bool.self, forKey: .terminal),
                  consoleSize: try c.decodeIfPresent(ConsoleSize.self, forKey: .consoleSize),
                  user: try c.decodeIfPresent(User.self, forKey: .user) ?? User(),
                  args: try c.decode([String].self, forKey: .args),
                  commandLine: try c.decodeIfPresent(String.self, forKey: .commandLine),
                  env: try c.decodeIfPresent([String].self, forKey: .env),
                  cwd: try c.decode(String.self, forKey: .cwd),
                  capabilities: try c.decodeIfPresent(LinuxCapabilities.self, forKey: .capabilities),
                  rlimits: try c.decodeIfPresent([POSIXRlimit].self, forKey: .rlimits),
                  noNewPrivileges: try c.decodeIfPresent(Bool.self, forKey: .noNewPrivileges),
                  apparmorProfile: try c.decodeIfPresent(String.self, forKey: .apparmorProfile),
                  oomScoreAdj: try c.decodeIfPresent(Int.self, forKey: .oomScoreAdj),
                  scheduler: try c.decodeIfPresent(Scheduler.self, forKey: .scheduler),
                  selinuxLabel: try c.decodeIfPresent(String.self, forKey: .selinuxLabel),
                  ioPriority: try c.decodeIfPresent(IOPriority.self, forKey: .ioPriority),
                  execCPUAffinity: try c.decodeIfPresent(CPUAffinity.self, forKey: .execCPUAffinity))
    }
}

/// Console dimensions in characters.
public struct ConsoleSize: Codable, Sendable, Equatable {
    public var height: UInt
    public var width: UInt

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(height: UInt = 0, width: UInt = 0) {
        self.height = height
        self.width = width
    }
}

/// The process identity, in the container's user namespace.
public struct User: Codable, Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// File mode creation mask; absent leaves the runtime's default (0022).
    public var umask: UInt32?
    /// Supplementary groups.
    public var additionalGids: [UInt32]?
    /// User name (Windows only).
    public var username: String?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(uid: UInt32 = 0, gid: UInt32 = 0, umask: UInt32? = nil,
                additionalGids: [UInt32]? = nil, username: String? = nil) {
        self.uid = uid
        self.gid = gid
        self.umask = umask
        self.additionalGids = additionalGids
        self.username = username
    }
}

extension User {
    /// A missing `uid` or `gid` is 0, as in runc (Go's zero value): `"user": {"uid": 1000}` runs
    /// as 1000:0.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(uid: try c.decodeIfPresent(UInt32.self, forKey: .uid) ?? 0, gid: try c.decodeIfPresent(UInt32.self, forKey: .gid) ?? 0,
                  umask: try c.decodeIfPresent(UInt32.self, forKey: .umask),
                  additionalGids: try c.decodeIfPresent([UInt32].self, forKey: .additionalGids),
                  username: try c.decodeIfPresent(String.self, forKey: .username))
    }
}

/// Capability sets, as names like `CAP_CHOWN`.
///
/// Kept as strings rather than an enum: new kernels add capabilities, and runc only
/// warns about names it does not know, so rejecting them here would be stricter than
/// the ecosystem.
public struct LinuxCapabilities: Codable, Sendable, Equatable {
    public var bounding: [String]?
    public var effective: [String]?
    public var inheritable: [String]?
    public var permitted: [String]?
    public var ambient: [String]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(bounding: [String]? = nil, effective: [String]? = nil, inheritable: [String]? = nil,
                permitted: [String]? = nil, ambient: [String]? = nil) {
        self.bounding = bounding
        self.effective = effective
        self.inheritable = inheritable
        self.permitted = permitted
        self.ambient = ambient
    }
}

/// One resource limit (`process.rlimits[]`).
public struct POSIXRlimit: Codable, Sendable, Equatable {
    public var type: RlimitType
    /// Ceiling for the soft limit; `UInt64.max` is RLIM_INFINITY.
    public var hard: UInt64
    /// Limit enforced by the kernel.
    public var soft: UInt64

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(type: RlimitType = .nofile, hard: UInt64 = 0, soft: UInt64 = 0) {
        self.type = type
        self.hard = hard
        self.soft = soft
    }
}

/// Linux resource names for setrlimit(2).
public enum RlimitType: String, OCIStringEnum, CaseIterable {
    case addressSpace = "RLIMIT_AS"
    case core = "RLIMIT_CORE"
    case cpu = "RLIMIT_CPU"
    case data = "RLIMIT_DATA"
    case fileSize = "RLIMIT_FSIZE"
    case locks = "RLIMIT_LOCKS"
    case memlock = "RLIMIT_MEMLOCK"
    case msgqueue = "RLIMIT_MSGQUEUE"
    case nice = "RLIMIT_NICE"
    case nofile = "RLIMIT_NOFILE"
    case nproc = "RLIMIT_NPROC"
    case rss = "RLIMIT_RSS"
    case rtprio = "RLIMIT_RTPRIO"
    case rttime = "RLIMIT_RTTIME"
    case sigpending = "RLIMIT_SIGPENDING"
    case stack = "RLIMIT_STACK"

    public static var valueDescription: String { "rlimit" }
}

/// sched_setattr(2) parameters (`process.scheduler`).
public struct Scheduler: Codable, Sendable, Equatable {
    public var policy: SchedulerPolicy
    /// Nice value for SCHED_OTHER and SCHED_BATCH.
    public var nice: Int32?
    /// Static priority for SCHED_FIFO and SCHED_RR.
    public var priority: Int32?
    public var flags: [SchedulerFlag]?
    /// SCHED_DEADLINE runtime, in nanoseconds.
    public var runtime: UInt64?
    /// SCHED_DEADLINE deadline, in nanoseconds.
    public var deadline: UInt64?
    /// SCHED_DEADLINE period, in nanoseconds.
    public var period: UInt64?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(policy: SchedulerPolicy = .other, nice: Int32? = nil, priority: Int32? = nil,
                flags: [SchedulerFlag]? = nil, runtime: UInt64? = nil, deadline: UInt64? = nil,
                period: UInt64? = nil) {
        self.policy = policy
        self.nice = nice
        self.priority = priority
        self.flags = flags
        self.runtime = runtime
        self.deadline = deadline
        self.period = period
    }
}

/// Scheduling policies.
public enum SchedulerPolicy: String, OCIStringEnum, CaseIterable {
    case other = "SCHED_OTHER"
    case fifo = "SCHED_FIFO"
    case roundRobin = "SCHED_RR"
    case batch = "SCHED_BATCH"
    case iso = "SCHED_ISO"
    case idle = "SCHED_IDLE"
    case deadline = "SCHED_DEADLINE"

    public static var valueDescription: String { "scheduler policy" }
}

/// sched_setattr(2) flags.
public enum SchedulerFlag: String, OCIStringEnum, CaseIterable {
    case resetOnFork = "SCHED_FLAG_RESET_ON_FORK"
    case reclaim = "SCHED_FLAG_RECLAIM"
    case dlOverrun = "SCHED_FLAG_DL_OVERRUN"
    case keepPolicy = "SCHED_FLAG_KEEP_POLICY"
    case keepParams = "SCHED_FLAG_KEEP_PARAMS"
    case utilClampMin = "SCHED_FLAG_UTIL_CLAMP_MIN"
    case utilClampMax = "SCHED_FLAG_UTIL_CLAMP_MAX"

    public static var valueDescription: String { "scheduler flag" }
}

/// ioprio_set(2) parameters (`process.ioPriority`).
public struct IOPriority: Codable, Sendable, Equatable {
    public var `class`: IOPriorityClass
    /// Priority within the class, 0 (highest) to 7.
    public var priority: Int

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(class: IOPriorityClass = .bestEffort, priority: Int = 0) {
        self.class = `class`
        self.priority = priority
    }
}

/// I/O scheduling classes.
public enum IOPriorityClass: String, OCIStringEnum, CaseIterable {
    case realtime = "IOPRIO_CLASS_RT"
    case bestEffort = "IOPRIO_CLASS_BE"
    case idle = "IOPRIO_CLASS_IDLE"

    public static var valueDescription: String { "I/O priority class" }
}

/// CPU affinity for processes `exec`-ed into the container, as cpuset lists (`0-3,7`).
public struct CPUAffinity: Codable, Sendable, Equatable {
    /// Affinity while the runtime sets the process up.
    public var initial: String?
    /// Affinity once the process runs the user's program.
    public var final: String?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(initial: String? = nil, final: String? = nil) {
        self.initial = initial
        self.final = final
    }
}
