import BerthCore
import Cgroup2
import Linux
import Seccomp

/// Everything `create` will do, decided and checked before the first side effect. Built from a
/// parsed config.json by `LaunchPlan(spec:...)`; the launcher and the init only follow it.
public struct LaunchPlan: Sendable {
    public struct IDMapping: Equatable, Sendable {
        public var containerID: UInt32
        public var hostID: UInt32
        public var size: UInt32
        public var line: String { "\(containerID) \(hostID) \(size)\n" }
    }

    public struct MountStep: Equatable, Sendable {
        /// The config.json path of this mount, for error messages.
        public var label: String
        public var destination: String
        public var type: String?
        public var source: String?
        public var options: MountOptions
        /// uidMappings/gidMappings, or idmap/ridmap: made by the parent (IDMappedMountFiles).
        public var idmap: MountIDMap?
        public var isBind: Bool { options.isBind }
    }

    public struct DeviceNode: Equatable, Sendable {
        public var label: String
        public var path: String
        /// S_IFCHR, S_IFBLK or S_IFIFO.
        public var fileType: UInt32
        public var major: Int64
        public var minor: Int64
        public var mode: UInt32
        public var uid: UInt32
        public var gid: UInt32
    }

    public struct Rlimit: Equatable, Sendable {
        public var name: String
        public var resource: Int32
        public var soft: UInt64
        public var hard: UInt64
    }

    public struct ProcessPlan: Sendable {
        public var arguments: [String]
        public var environment: [String]
        public var cwd: String
        public var uid: UInt32
        public var gid: UInt32
        public var additionalGids: [UInt32]
        public var umask: UInt32?
        /// nil keeps the capabilities the process has (no `capabilities` object in the config).
        public var capabilities: Capability.Sets?
        public var rlimits: [Rlimit]
        public var noNewPrivileges: Bool
        public var oomScoreAdj: Int?
        /// process.terminal: the process gets a pty whose master goes to --console-socket.
        public var terminal: Bool
        public var consoleSize: (rows: UInt16, columns: UInt16)?
        /// Rootless: setgroups is never called, the process keeps the caller's groups.
        public var keepsGroups = false
        /// process.scheduler, checked; set by the init, and by exec for its process.
        public var scheduler: SchedulerAttributes?
        /// process.ioPriority as ioprio_set(2) takes it.
        public var ioPriority: Int32?
        /// process.execCPUAffinity; used by exec only (the runtime-spec: not for the init).
        public var cpuAffinity = Affinity()

        /// CPU masks (bit N is CPU N): `initial` before the process joins the container's
        /// cgroup, `final` after it.
        public struct Affinity: Sendable, Equatable {
            public var initial: [UInt]?
            public var final: [UInt]?
        }

        /// PATH from the process environment, for looking up `arguments[0]`.
        public var searchPath: String? {
            environment.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
        }
    }

    public struct HookSet: Sendable {
        public var prestart: [HookCommand] = []
        public var createRuntime: [HookCommand] = []
        public var createContainer: [HookCommand] = []
        public var startContainer: [HookCommand] = []
        public var poststart: [HookCommand] = []
        public var poststop: [HookCommand] = []
        public var beforePivot: Bool { !prestart.isEmpty || !createRuntime.isEmpty }
    }

    public var id: String
    public var bundle: String
    public var rootfs: String
    public var rootReadonly: Bool
    /// Namespaces made new by clone3 in the order the init needs them.
    public var newNamespaces: [NamespaceKind]
    /// Namespaces joined by path.
    public var joinedNamespaces: [(kind: NamespaceKind, path: String)]
    public var uidMappings: [IDMapping]
    public var gidMappings: [IDMapping]
    public var timeOffsets: [TimeOffset]
    public var hostname: String?
    public var domainname: String?
    public var rootPropagation: MountFlags
    public var mounts: [MountStep]
    public var devices: [DeviceNode]
    public var maskedPaths: [String]
    public var readonlyPaths: [String]
    public var sysctls: [(name: String, value: String)]
    /// linux.memoryPolicy, checked; set by the init and inherited by the process.
    public var memoryPolicy: MemoryPolicy?
    /// linux.personality as personality(2) takes it; set by the init and by exec.
    public var personality: UInt?
    /// linux.intelRdt, checked against a mounted resctrl; joined by the parent before `begin`.
    public var intelRdt: ResctrlPlan?
    /// linux.netDevices, checked; moved by the parent before `begin`.
    public var netDevices: [NetDeviceMove] = []
    public var process: ProcessPlan
    public var hooks: HookSet
    /// Relative to the cgroup2 mount.
    public var cgroupPath: String
    /// The cgroup writes for linux.resources, checked; applied before the init joins the cgroup.
    public var resources: CgroupResourcePlan
    /// linux.seccomp compiled to BPF here in the parent; the init only loads it.
    public var seccomp: SeccompProgram?
    /// Where a notify listener goes (linux.seccomp.listenerPath) and what it carries.
    public var seccompListenerPath: String?
    public var seccompListenerMetadata: String?
    public var annotations: [String: String]
    public var usePivotRoot: Bool
    /// Set when berth runs as an unprivileged user (Rootless.swift).
    public var rootless: Rootless?

    /// Where containers without a cgroupsPath get their cgroup, below the cgroup2 mount.
    public static let defaultCgroupParent = "berth"

    public func creates(_ kind: NamespaceKind) -> Bool { newNamespaces.contains(kind) }
    public func joins(_ kind: NamespaceKind) -> String? { joinedNamespaces.first(where: { $0.kind == kind })?.path }
    public var hasOwnMountNamespace: Bool { creates(.mount) || joins(.mount) != nil }
    /// runc's rule (1.1+): with a user namespace and a mount namespace, bind sources are opened
    /// by the runtime as host root, not by the init. Rootless, the caller is no more than the init.
    var bindsSourcesAsHostRoot: Bool { (creates(.user) || joins(.user) != nil) && hasOwnMountNamespace && rootless == nil }

    /// Whether namespaces must be set up after clone rather than by it: joining by path needs the
    /// host's privileges, which a process created inside a new user namespace has lost, and a
    /// joined user namespace must own the namespaces created after it.
    public var stagedNamespaces: Bool {
        joins(.user) != nil || (creates(.user) && joinedNamespaces.contains { $0.kind != .pid && $0.kind != .time })
    }
}

extension [LaunchPlan.IDMapping] {
    /// The host id that `id` inside the container maps to, if any mapping covers it.
    public func hostID(of id: UInt32) -> UInt32? {
        for mapping in self where id >= mapping.containerID && UInt64(id) < UInt64(mapping.containerID) + UInt64(mapping.size) {
            return mapping.hostID + (id - mapping.containerID)
        }
        return nil
    }
}

/// The nodes every container gets in /dev, as runc and crun create them.
let defaultDevices: [(String, Int64, Int64)] = [
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
]

/// Path helpers for plan validation.
enum PathRules {
    /// Joins `path` to `base` unless it is absolute, and drops `.` and empty components.
    static func absolute(_ path: String, relativeTo base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") where part != "." {
            if part == ".." { if !parts.isEmpty { parts.removeLast() } } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// A clean absolute path inside the container: absolute and free of `..`, so that it cannot
    /// name anything above the rootfs even before the kernel resolves it.
    static func containerPath(_ path: String, label: String) throws(BerthError) -> String {
        guard path.hasPrefix("/") else { throw BerthError(.invalidConfig, "\(label): \"\(path)\" must be an absolute path") }
        if path.split(separator: "/").contains("..") {
            throw BerthError(.invalidConfig, "\(label): \"\(path)\" may not contain \"..\"")
        }
        return absolute(path, relativeTo: "/")
    }
}
