/// What the runtime supports, as printed by `berth features` (runtime-spec features.md).
///
/// Lists are strings rather than enums: this document describes the runtime to
/// higher-level tools, which must tolerate values they do not know.
public struct Features: Codable, Sendable, Equatable {
    public var ociVersionMin: String?
    public var ociVersionMax: String?
    /// Supported hook names (`prestart`, `createRuntime`, ...).
    public var hooks: [String]?
    /// Recognized mount options.
    public var mountOptions: [String]?
    public var linux: Linux?
    /// Implementation-specific annotations, e.g. `io.github.seccomp.libseccomp.version`.
    public var annotations: [String: String]?
    /// Config annotations that may change the runtime's behaviour in unsafe ways.
    public var potentiallyUnsafeConfigAnnotations: [String]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(ociVersionMin: String? = nil, ociVersionMax: String? = nil, hooks: [String]? = nil,
                mountOptions: [String]? = nil, linux: Linux? = nil, annotations: [String: String]? = nil,
                potentiallyUnsafeConfigAnnotations: [String]? = nil) {
        self.ociVersionMin = ociVersionMin
        self.ociVersionMax = ociVersionMax
        self.hooks = hooks
        self.mountOptions = mountOptions
        self.linux = linux
        self.annotations = annotations
        self.potentiallyUnsafeConfigAnnotations = potentiallyUnsafeConfigAnnotations
    }

    /// Linux features.
    public struct Linux: Codable, Sendable, Equatable {
        public var namespaces: [String]?
        public var capabilities: [String]?
        public var cgroup: Cgroup?
        public var seccomp: Seccomp?
        public var apparmor: Enabled?
        public var selinux: Enabled?
        public var intelRdt: IntelRdt?
        public var memoryPolicy: MemoryPolicy?
        public var mountExtensions: MountExtensions?
        public var netDevices: Enabled?

        /// Memberwise initializer; every parameter has a default, so call sites name only
        /// the fields they set.
        public init(namespaces: [String]? = nil, capabilities: [String]? = nil, cgroup: Cgroup? = nil,
                    seccomp: Seccomp? = nil, apparmor: Enabled? = nil, selinux: Enabled? = nil,
                    intelRdt: IntelRdt? = nil, memoryPolicy: MemoryPolicy? = nil, mountExtensions: MountExtensions? = nil,
                    netDevices: Enabled? = nil) {
            self.namespaces = namespaces
            self.capabilities = capabilities
            self.cgroup = cgroup
            self.seccomp = seccomp
            self.apparmor = apparmor
            self.selinux = selinux
            self.intelRdt = intelRdt
            self.memoryPolicy = memoryPolicy
            self.mountExtensions = mountExtensions
            self.netDevices = netDevices
        }
    }

    /// cgroup features.
    public struct Cgroup: Codable, Sendable, Equatable {
        public var v1: Bool?
        public var v2: Bool?
        public var systemd: Bool?
        public var systemdUser: Bool?
        public var rdma: Bool?

        /// Memberwise initializer; every parameter has a default, so call sites name only
        /// the fields they set.
        public init(v1: Bool? = nil, v2: Bool? = nil, systemd: Bool? = nil, systemdUser: Bool? = nil,
                    rdma: Bool? = nil) {
            self.v1 = v1
            self.v2 = v2
            self.systemd = systemd
            self.systemdUser = systemdUser
            self.rdma = rdma
        }
    }

    /// seccomp features.
    public struct Seccomp: Codable, Sendable, Equatable {
        public var enabled: Bool?
        public var actions: [String]?
        public var operators: [String]?
        public var archs: [String]?
        /// Flags this runtime knows about.
        public var knownFlags: [String]?
        /// Known flags the running kernel and libseccomp also support.
        public var supportedFlags: [String]?

        /// Memberwise initializer; every parameter has a default, so call sites name only
        /// the fields they set.
        public init(enabled: Bool? = nil, actions: [String]? = nil, operators: [String]? = nil,
                    archs: [String]? = nil, knownFlags: [String]? = nil, supportedFlags: [String]? = nil) {
            self.enabled = enabled
            self.actions = actions
            self.operators = operators
            self.archs = archs
            self.knownFlags = knownFlags
            self.supportedFlags = supportedFlags
        }
    }

    /// A feature that is simply on or off (AppArmor, SELinux, Intel RDT, idmap mounts).
    public struct Enabled: Codable, Sendable, Equatable {
        public var enabled: Bool?

        /// Memberwise initializer; every parameter has a default, so call sites name only
        /// the fields they set.
        public init(enabled: Bool? = nil) {
            self.enabled = enabled
        }
    }

    /// Intel RDT: support at all, for `schemata` lines and for `enableMonitoring`.
    public struct IntelRdt: Codable, Sendable, Equatable {
        public var enabled: Bool?
        public var schemata: Bool?
        public var monitoring: Bool?

        /// Memberwise initializer; every parameter has a default, so call sites name only
        /// the fields they set.
        public init(enabled: Bool? = nil, schemata: Bool? = nil, monitoring: Bool? = nil) {
            self.enabled = enabled
            self.schemata = schemata
            self.monitoring = monitoring
        }
    }

    /// The set_mempolicy(2) modes and flags the runtime recognizes.
    public struct MemoryPolicy: Codable, Sendable, Equatable {
        public var modes: [String]?
        public var flags: [String]?

        /// Memberwise initializer; every parameter has a default, so call sites name only
        /// the fields they set.
        public init(modes: [String]? = nil, flags: [String]? = nil) {
            self.modes = modes
            self.flags = flags
        }
    }

    /// Mount extensions.
    public struct MountExtensions: Codable, Sendable, Equatable {
        /// Idmapped mounts (`uidMappings` / `gidMappings` on a mount).
        public var idmap: Enabled?

        /// Memberwise initializer; every parameter has a default, so call sites name only
        /// the fields they set.
        public init(idmap: Enabled? = nil) {
            self.idmap = idmap
        }
    }
}
