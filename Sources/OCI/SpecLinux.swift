/// Linux-specific configuration (`linux`).
///
/// Named `LinuxConfig` rather than the spec's `Linux` so it cannot be confused with
/// this package's `Linux` module.
public struct LinuxConfig: Codable, Sendable, Equatable {
    /// User namespace UID mappings.
    public var uidMappings: [LinuxIDMapping]?
    /// User namespace GID mappings.
    public var gidMappings: [LinuxIDMapping]?
    /// Kernel parameters to write under /proc/sys, e.g. `net.ipv4.ip_forward`.
    public var sysctl: [String: String]?
    /// cgroup limits.
    public var resources: LinuxResources?
    /// cgroup path, absolute or relative to the runtime's cgroup root.
    public var cgroupsPath: String?
    /// Namespaces to create or join.
    public var namespaces: [LinuxNamespace]?
    /// Device nodes to create in the container.
    public var devices: [LinuxDevice]?
    /// Syscall filter.
    public var seccomp: LinuxSeccomp?
    /// Propagation of the rootfs mount: `shared`, `slave`, `private`, `unbindable`
    /// (runc also takes the recursive `r...` forms). Validated by the runtime.
    public var rootfsPropagation: String?
    /// Paths to hide by mounting over them.
    public var maskedPaths: [String]?
    /// Paths to remount read-only.
    public var readonlyPaths: [String]?
    /// SELinux context for mounts.
    public var mountLabel: String?
    /// Intel RDT (resctrl) settings.
    public var intelRdt: LinuxIntelRdt?
    /// personality(2) execution domain.
    public var personality: LinuxPersonality?
    /// Time namespace offsets, keyed by clock: `monotonic`, `boottime`.
    public var timeOffsets: [String: LinuxTimeOffset]?
    /// The NUMA memory policy of the container's process (set_mempolicy(2)).
    public var memoryPolicy: LinuxMemoryPolicy?
    /// Host network interfaces moved into the container's network namespace, keyed by their
    /// name on the host (runtime-spec 1.3).
    public var netDevices: [String: LinuxNetDevice]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(
        uidMappings: [LinuxIDMapping]? = nil,
        gidMappings: [LinuxIDMapping]? = nil,
        sysctl: [String: String]? = nil,
        resources: LinuxResources? = nil,
        cgroupsPath: String? = nil,
        namespaces: [LinuxNamespace]? = nil,
        devices: [LinuxDevice]? = nil,
        seccomp: LinuxSeccomp? = nil,
        rootfsPropagation: String? = nil,
        maskedPaths: [String]? = nil,
        readonlyPaths: [String]? = nil,
        mountLabel: String? = nil,
        intelRdt: LinuxIntelRdt? = nil,
        personality: LinuxPersonality? = nil,
        timeOffsets: [String: LinuxTimeOffset]? = nil,
        memoryPolicy: LinuxMemoryPolicy? = nil,
        netDevices: [String: LinuxNetDevice]? = nil
    ) {
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
        self.sysctl = sysctl
        self.resources = resources
        self.cgroupsPath = cgroupsPath
        self.namespaces = namespaces
        self.devices = devices
        self.seccomp = seccomp
        self.rootfsPropagation = rootfsPropagation
        self.maskedPaths = maskedPaths
        self.readonlyPaths = readonlyPaths
        self.mountLabel = mountLabel
        self.intelRdt = intelRdt
        self.personality = personality
        self.timeOffsets = timeOffsets
        self.memoryPolicy = memoryPolicy
        self.netDevices = netDevices
    }
}

/// `linux.netDevices[NAME]`: the interface's name in the container; absent keeps the host's.
public struct LinuxNetDevice: Codable, Sendable, Equatable {
    public var name: String?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(name: String? = nil) {
        self.name = name
    }
}

/// `linux.memoryPolicy`: a set_mempolicy(2) mode (`MPOL_BIND`, ...), its nodes (`0-3,7`) and
/// flags (`MPOL_F_STATIC_NODES`, ...), as strings the runtime validates.
public struct LinuxMemoryPolicy: Codable, Sendable, Equatable {
    public var mode: String
    public var nodes: String?
    public var flags: [String]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(mode: String = "MPOL_DEFAULT", nodes: String? = nil, flags: [String]? = nil) {
        self.mode = mode
        self.nodes = nodes
        self.flags = flags
    }
}

/// A namespace to create, or to join when `path` is set.
public struct LinuxNamespace: Codable, Sendable, Equatable {
    public var type: LinuxNamespaceType
    /// A namespace file such as `/proc/1234/ns/net` to setns(2) into.
    public var path: String?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(type: LinuxNamespaceType = .mount, path: String? = nil) {
        self.type = type
        self.path = path
    }
}

/// Namespace kinds.
public enum LinuxNamespaceType: String, OCIStringEnum, CaseIterable {
    case pid
    case network
    case mount
    case ipc
    case uts
    case user
    case cgroup
    case time

    public static var valueDescription: String { "namespace" }
}

/// A contiguous ID range mapping (user namespaces and idmapped mounts).
public struct LinuxIDMapping: Codable, Sendable, Equatable {
    /// First ID inside the container.
    public var containerID: UInt32
    /// First ID on the host.
    public var hostID: UInt32
    /// Number of IDs.
    public var size: UInt32

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(containerID: UInt32 = 0, hostID: UInt32 = 0, size: UInt32 = 0) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }
}

/// A clock offset for a time namespace.
public struct LinuxTimeOffset: Codable, Sendable, Equatable {
    public var secs: Int64?
    public var nanosecs: UInt32?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(secs: Int64? = nil, nanosecs: UInt32? = nil) {
        self.secs = secs
        self.nanosecs = nanosecs
    }
}

/// A device node to create in the container (`linux.devices[]`).
public struct LinuxDevice: Codable, Sendable, Equatable {
    /// Absolute path of the node inside the container.
    public var path: String
    public var type: LinuxDeviceType
    /// Required for character and block devices.
    public var major: Int64?
    /// Required for character and block devices.
    public var minor: Int64?
    /// Permission bits (and, per Go's os.FileMode, possibly type bits).
    public var fileMode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(path: String = "", type: LinuxDeviceType = .char, major: Int64? = nil, minor: Int64? = nil,
                fileMode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil) {
        self.path = path
        self.type = type
        self.major = major
        self.minor = minor
        self.fileMode = fileMode
        self.uid = uid
        self.gid = gid
    }
}

/// Device node types, as mknod(1) letters.
public enum LinuxDeviceType: String, OCIStringEnum, CaseIterable {
    case char = "c"
    case block = "b"
    /// Unbuffered character device.
    case unbufferedChar = "u"
    /// FIFO.
    case fifo = "p"

    public static var valueDescription: String { "device type" }
}

/// Intel Resource Director Technology settings (`linux.intelRdt`).
public struct LinuxIntelRdt: Codable, Sendable, Equatable {
    /// resctrl group (CLOS) name.
    public var closID: String?
    /// L3 cache allocation schema, e.g. `L3:0=ffff0;1=3ff`.
    public var l3CacheSchema: String?
    /// Memory bandwidth schema, e.g. `MB:0=20;1=70`.
    public var memBwSchema: String?
    /// Lines for the group's `schemata` file, written after the two above (runtime-spec 1.3).
    public var schemata: [String]?
    /// A monitoring group for the container (runtime-spec 1.3).
    public var enableMonitoring: Bool?
    /// Cache Monitoring Technology.
    public var enableCMT: Bool?
    /// Memory Bandwidth Monitoring.
    public var enableMBM: Bool?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(closID: String? = nil, l3CacheSchema: String? = nil, memBwSchema: String? = nil, schemata: [String]? = nil,
                enableMonitoring: Bool? = nil, enableCMT: Bool? = nil, enableMBM: Bool? = nil) {
        self.closID = closID
        self.l3CacheSchema = l3CacheSchema
        self.memBwSchema = memBwSchema
        self.schemata = schemata
        self.enableMonitoring = enableMonitoring
        self.enableCMT = enableCMT
        self.enableMBM = enableMBM
    }
}

/// personality(2) settings (`linux.personality`).
public struct LinuxPersonality: Codable, Sendable, Equatable {
    public var domain: LinuxPersonalityDomain
    /// Additional flags; the spec defines none yet.
    public var flags: [String]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(domain: LinuxPersonalityDomain = .linux, flags: [String]? = nil) {
        self.domain = domain
        self.flags = flags
    }
}

/// personality(2) execution domains.
public enum LinuxPersonalityDomain: String, OCIStringEnum, CaseIterable {
    case linux = "LINUX"
    case linux32 = "LINUX32"

    public static var valueDescription: String { "personality domain" }
}
