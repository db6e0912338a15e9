/// cgroup resource limits (`linux.resources`).
///
/// Widths follow the spec: signed where -1 means "unlimited" (memory, quota), unsigned
/// otherwise.
public struct LinuxResources: Codable, Sendable, Equatable {
    /// Device access rules, applied in order.
    public var devices: [LinuxDeviceCgroup]?
    public var memory: LinuxMemory?
    public var cpu: LinuxCPU?
    public var pids: LinuxPids?
    public var blockIO: LinuxBlockIO?
    public var hugepageLimits: [LinuxHugepageLimit]?
    public var network: LinuxNetwork?
    /// RDMA limits keyed by device name.
    public var rdma: [String: LinuxRdma]?
    /// cgroup v2 files to write verbatim, e.g. `"memory.high": "1G"`.
    public var unified: [String: String]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(
        devices: [LinuxDeviceCgroup]? = nil,
        memory: LinuxMemory? = nil,
        cpu: LinuxCPU? = nil,
        pids: LinuxPids? = nil,
        blockIO: LinuxBlockIO? = nil,
        hugepageLimits: [LinuxHugepageLimit]? = nil,
        network: LinuxNetwork? = nil,
        rdma: [String: LinuxRdma]? = nil,
        unified: [String: String]? = nil
    ) {
        self.devices = devices
        self.memory = memory
        self.cpu = cpu
        self.pids = pids
        self.blockIO = blockIO
        self.hugepageLimits = hugepageLimits
        self.network = network
        self.rdma = rdma
        self.unified = unified
    }
}

/// A device cgroup rule (`linux.resources.devices[]`).
public struct LinuxDeviceCgroup: Codable, Sendable, Equatable {
    public var allow: Bool
    /// Absent means all device types.
    public var type: LinuxDeviceCgroupType?
    /// Absent means all majors.
    public var major: Int64?
    /// Absent means all minors.
    public var minor: Int64?
    /// Some of `r` (read), `w` (write), `m` (mknod).
    public var access: String?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(allow: Bool = false, type: LinuxDeviceCgroupType? = nil, major: Int64? = nil,
                minor: Int64? = nil, access: String? = nil) {
        self.allow = allow
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access
    }
}

/// Device types in a device cgroup rule.
public enum LinuxDeviceCgroupType: String, OCIStringEnum, CaseIterable {
    case all = "a"
    case char = "c"
    case block = "b"

    public static var valueDescription: String { "device cgroup type" }
}

/// Memory limits, in bytes; -1 means unlimited.
public struct LinuxMemory: Codable, Sendable, Equatable {
    public var limit: Int64?
    /// Soft limit (memory.low on cgroup v2).
    public var reservation: Int64?
    /// Memory plus swap limit.
    public var swap: Int64?
    /// Deprecated kernel memory limit.
    public var kernel: Int64?
    /// Deprecated kernel TCP buffer limit.
    public var kernelTCP: Int64?
    /// cgroup v1 swappiness, 0-100.
    public var swappiness: UInt64?
    public var disableOOMKiller: Bool?
    /// cgroup v1 hierarchical accounting.
    public var useHierarchy: Bool?
    /// Refuse to lower the limit below current usage.
    public var checkBeforeUpdate: Bool?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(limit: Int64? = nil, reservation: Int64? = nil, swap: Int64? = nil, kernel: Int64? = nil,
                kernelTCP: Int64? = nil, swappiness: UInt64? = nil, disableOOMKiller: Bool? = nil,
                useHierarchy: Bool? = nil, checkBeforeUpdate: Bool? = nil) {
        self.limit = limit
        self.reservation = reservation
        self.swap = swap
        self.kernel = kernel
        self.kernelTCP = kernelTCP
        self.swappiness = swappiness
        self.disableOOMKiller = disableOOMKiller
        self.useHierarchy = useHierarchy
        self.checkBeforeUpdate = checkBeforeUpdate
    }
}

/// CPU limits; times in microseconds.
public struct LinuxCPU: Codable, Sendable, Equatable {
    /// Relative weight (cgroup v1 shares; converted to cpu.weight on v2).
    public var shares: UInt64?
    /// CPU time per `period`; -1 means unlimited.
    public var quota: Int64?
    /// Extra time that may accumulate and be used in bursts.
    public var burst: UInt64?
    public var period: UInt64?
    public var realtimeRuntime: Int64?
    public var realtimePeriod: UInt64?
    /// cpuset list, e.g. `0-3,7`.
    public var cpus: String?
    /// NUMA node list, e.g. `0-1`.
    public var mems: String?
    /// 1 puts the cgroup in SCHED_IDLE.
    public var idle: Int64?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(shares: UInt64? = nil, quota: Int64? = nil, burst: UInt64? = nil, period: UInt64? = nil,
                realtimeRuntime: Int64? = nil, realtimePeriod: UInt64? = nil, cpus: String? = nil,
                mems: String? = nil, idle: Int64? = nil) {
        self.shares = shares
        self.quota = quota
        self.burst = burst
        self.period = period
        self.realtimeRuntime = realtimeRuntime
        self.realtimePeriod = realtimePeriod
        self.cpus = cpus
        self.mems = mems
        self.idle = idle
    }
}

/// Process count limit.
public struct LinuxPids: Codable, Sendable, Equatable {
    /// Maximum number of tasks; -1 (or 0, historically) means unlimited.
    public var limit: Int64

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(limit: Int64 = -1) {
        self.limit = limit
    }
}

/// Block I/O weights and throttles.
public struct LinuxBlockIO: Codable, Sendable, Equatable {
    /// Default weight, 10-1000.
    public var weight: UInt16?
    /// Weight while competing with child cgroups (CFQ only).
    public var leafWeight: UInt16?
    public var weightDevice: [LinuxWeightDevice]?
    /// Bytes per second.
    public var throttleReadBpsDevice: [LinuxThrottleDevice]?
    /// Bytes per second.
    public var throttleWriteBpsDevice: [LinuxThrottleDevice]?
    /// Operations per second.
    public var throttleReadIOPSDevice: [LinuxThrottleDevice]?
    /// Operations per second.
    public var throttleWriteIOPSDevice: [LinuxThrottleDevice]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(weight: UInt16? = nil, leafWeight: UInt16? = nil, weightDevice: [LinuxWeightDevice]? = nil,
                throttleReadBpsDevice: [LinuxThrottleDevice]? = nil,
                throttleWriteBpsDevice: [LinuxThrottleDevice]? = nil,
                throttleReadIOPSDevice: [LinuxThrottleDevice]? = nil,
                throttleWriteIOPSDevice: [LinuxThrottleDevice]? = nil) {
        self.weight = weight
        self.leafWeight = leafWeight
        self.weightDevice = weightDevice
        self.throttleReadBpsDevice = throttleReadBpsDevice
        self.throttleWriteBpsDevice = throttleWriteBpsDevice
        self.throttleReadIOPSDevice = throttleReadIOPSDevice
        self.throttleWriteIOPSDevice = throttleWriteIOPSDevice
    }
}

/// A per-device block I/O weight.
public struct LinuxWeightDevice: Codable, Sendable, Equatable {
    public var major: Int64
    public var minor: Int64
    public var weight: UInt16?
    public var leafWeight: UInt16?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(major: Int64 = 0, minor: Int64 = 0, weight: UInt16? = nil, leafWeight: UInt16? = nil) {
        self.major = major
        self.minor = minor
        self.weight = weight
        self.leafWeight = leafWeight
    }
}

/// A per-device block I/O rate limit.
public struct LinuxThrottleDevice: Codable, Sendable, Equatable {
    public var major: Int64
    public var minor: Int64
    public var rate: UInt64

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(major: Int64 = 0, minor: Int64 = 0, rate: UInt64 = 0) {
        self.major = major
        self.minor = minor
        self.rate = rate
    }
}

/// A hugetlb limit.
public struct LinuxHugepageLimit: Codable, Sendable, Equatable {
    /// Page size with unit, e.g. `2MB`, `1GB`.
    public var pageSize: String
    /// Bytes.
    public var limit: UInt64

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(pageSize: String = "", limit: UInt64 = 0) {
        self.pageSize = pageSize
        self.limit = limit
    }
}

/// net_cls / net_prio settings (cgroup v1 only).
public struct LinuxNetwork: Codable, Sendable, Equatable {
    public var classID: UInt32?
    public var priorities: [LinuxInterfacePriority]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(classID: UInt32? = nil, priorities: [LinuxInterfacePriority]? = nil) {
        self.classID = classID
        self.priorities = priorities
    }
}

/// A network interface priority.
public struct LinuxInterfacePriority: Codable, Sendable, Equatable {
    public var name: String
    public var priority: UInt32

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(name: String = "", priority: UInt32 = 0) {
        self.name = name
        self.priority = priority
    }
}

/// RDMA limits for one device.
public struct LinuxRdma: Codable, Sendable, Equatable {
    public var hcaHandles: UInt32?
    public var hcaObjects: UInt32?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(hcaHandles: UInt32? = nil, hcaObjects: UInt32? = nil) {
        self.hcaHandles = hcaHandles
        self.hcaObjects = hcaObjects
    }
}
