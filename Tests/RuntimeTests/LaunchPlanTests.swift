import BerthCore
import Foundation
import Linux
import OCI
@testable import Runtime
import TestSupport
import Testing

/// A bundle directory with an empty `rootfs`, for building plans without touching the system.
final class PlanFixture: Sendable {
    let directory: TemporaryDirectory
    var bundle: String { directory.path }
    var rootfs: String { directory.path + "/rootfs" }

    init() throws {
        directory = try TemporaryDirectory("berth-plan")
        try FileManager.default.createDirectory(atPath: rootfs, withIntermediateDirectories: false)
    }

    deinit { directory.remove() }

    /// `berth spec`'s config with this fixture's rootfs.
    func spec() -> Spec {
        var spec = Spec.defaultConfig()
        spec.root = Root(path: "rootfs", readonly: true)
        return spec
    }

    func plan(_ spec: Spec, id: String = "plan-test") throws(BerthError) -> LaunchPlan {
        try LaunchPlan(spec: spec, id: id, bundle: bundle)
    }
}

/// One config that LaunchPlan must refuse, with the error it must give.
struct RefusedConfig: Sendable, CustomTestStringConvertible {
    let name: String
    let code: BerthError.Code
    /// The JSON path the message must start with.
    let path: String
    let edit: @Sendable (inout Spec) -> Void

    init(_ name: String, _ code: BerthError.Code, _ path: String, _ edit: @escaping @Sendable (inout Spec) -> Void) {
        self.name = name
        self.code = code
        self.path = path
        self.edit = edit
    }

    init(_ name: String, _ path: String, _ edit: @escaping @Sendable (inout Spec) -> Void) {
        self.init(name, .invalidConfig, path, edit)
    }

    var testDescription: String { name }
}

@Suite struct LaunchPlanTests {
    @Test func defaultConfigBecomesAPlanThatFollowsIt() throws {
        let fixture = try PlanFixture()
        let plan = try fixture.plan(fixture.spec(), id: "web-1")
        #expect(plan.id == "web-1")
        #expect(plan.rootfs == fixture.rootfs, "a relative root.path is relative to the bundle")
        #expect(plan.rootReadonly)
        #expect(Set(plan.newNamespaces) == [.pid, .network, .ipc, .uts, .mount, .cgroup])
        #expect(plan.joinedNamespaces.isEmpty)
        #expect(plan.hostname == "berth")
        #expect(plan.cgroupPath == "berth/web-1")
        #expect(plan.mounts.map(\.destination) == Spec.defaultMounts.map(\.destination))
        #expect(plan.process.arguments == ["sh"])
        #expect(plan.process.cwd == "/")
        #expect(plan.process.noNewPrivileges)
        #expect(plan.process.rlimits == [LaunchPlan.Rlimit(name: "RLIMIT_NOFILE", resource: 7 /* RLIMIT_NOFILE on Linux */, soft: 1024, hard: 1024)])
        let caps = try #require(plan.process.capabilities)
        let expected = Spec.defaultCapabilities.compactMap(Capability.number).filter { $0 <= Capability.lastCap() }
        #expect(Set(caps.bounding) == Set(expected))
        #expect(caps.effective == caps.bounding && caps.permitted == caps.bounding)
        #expect(caps.inheritable.isEmpty && caps.ambient.isEmpty)
        #expect(plan.maskedPaths == Spec.defaultMaskedPaths)
        #expect(plan.readonlyPaths == Spec.defaultReadonlyPaths)
        #expect(plan.devices.map(\.path).contains("/dev/null"))
        #expect(!plan.hooks.beforePivot)
    }

    @Test func aRepeatedEnvironmentKeyKeepsItsFirstPlaceAndTakesItsLastValue() throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        spec.process?.env = ["A=1", "B=x", "A=2", "C=", "B=y=z"]
        let plan = try fixture.plan(spec)
        #expect(plan.process.environment == ["A=2", "B=y=z", "C="])
    }

    @Test func cgroupsPathIsNormalizedRelativeToTheCgroupRoot() throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        spec.linux?.cgroupsPath = "/tenants//a/b/"
        #expect(try fixture.plan(spec).cgroupPath == "tenants/a/b")
    }

    @Test func bindMountSourceIsResolvedAgainstTheBundle() throws {
        let fixture = try PlanFixture()
        try FileManager.default.createDirectory(atPath: fixture.bundle + "/data", withIntermediateDirectories: false)
        var spec = fixture.spec()
        spec.mounts = [Mount(destination: "/srv/./data", type: "bind", source: "data", options: ["ro"])]
        let step = try #require(try fixture.plan(spec).mounts.first)
        #expect(step.source == fixture.bundle + "/data")
        #expect(step.destination == "/srv/data")
        #expect(step.isBind, "type bind without a bind option is still a bind mount")
        #expect(step.options.isReadOnly)
        #expect(step.label == "mounts[0]")
    }

    @Test func configuredDeviceReplacesTheDefaultOfTheSamePath() throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        spec.linux?.devices = [LinuxDevice(path: "/dev/null", type: .char, major: 1, minor: 3, fileMode: 0o600, uid: 7, gid: 8)]
        let nulls = try fixture.plan(spec).devices.filter { $0.path == "/dev/null" }
        #expect(nulls.count == 1)
        #expect(nulls.first?.mode == 0o600 && nulls.first?.uid == 7 && nulls.first?.label == "linux.devices[0]")
    }

    @Test func deviceCgroupRulesAreNotLimits() throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        spec.linux?.resources = LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm"),
                                                         LinuxDeviceCgroup(allow: true, type: .char, major: 1, minor: 3, access: "rw")])
        _ = try fixture.plan(spec)
    }

    static let refused: [RefusedConfig] = [
        RefusedConfig("no process", "process:") { $0.process = nil },
        RefusedConfig("no root", "root:") { $0.root = nil },
        RefusedConfig("rootfs that does not exist", "root.path:") { $0.root?.path = "no-such-rootfs" },
        RefusedConfig("empty args", "process.args:") { $0.process?.args = [] },
        RefusedConfig("relative cwd", "process.cwd:") { $0.process?.cwd = "tmp" },
        RefusedConfig("apparmor profile", .unsupported, "process.apparmorProfile:") { $0.process?.apparmorProfile = "berth-default" },
        RefusedConfig("env entry without =", "process.env[2]:") { $0.process?.env?.append("JUSTANAME") },
        RefusedConfig("env entry starting with =", "process.env[2]:") { $0.process?.env?.append("=value") },
        RefusedConfig("capability name in mixed case", "process.capabilities.effective[1]:") { $0.process?.capabilities?.effective?[1] = "CAP_Fly" },
        RefusedConfig("lowercase capability", "process.capabilities.bounding[0]:") { $0.process?.capabilities?.bounding?[0] = "cap_chown" },
        RefusedConfig("rlimit soft above hard", "process.rlimits[0]:") { $0.process?.rlimits = [POSIXRlimit(type: .nofile, hard: 10, soft: 20)] },
        RefusedConfig("rlimit twice", "process.rlimits[1].type:") {
            $0.process?.rlimits = [POSIXRlimit(type: .nofile, hard: 10, soft: 10), POSIXRlimit(type: .nofile, hard: 20, soft: 20)]
        },
        RefusedConfig("oomScoreAdj out of range", "process.oomScoreAdj:") { $0.process?.oomScoreAdj = 1001 },
        RefusedConfig("mounts without a mount namespace", "mounts:") { $0.linux?.namespaces?.removeAll { $0.type == .mount } },
        RefusedConfig("masked paths without a mount namespace", "linux.maskedPaths:") {
            $0.linux?.namespaces = []
            $0.mounts = []
            $0.root?.readonly = false
        },
        RefusedConfig("read-only root without a mount namespace", "root.readonly:") {
            $0.linux?.namespaces = []
            $0.mounts = []
        },
        RefusedConfig("rootfsPropagation without a mount namespace", "linux.rootfsPropagation:") {
            $0.linux?.namespaces = []
            $0.mounts = []
            $0.root?.readonly = false
            $0.linux?.maskedPaths = []
            $0.linux?.readonlyPaths = []
            $0.linux?.rootfsPropagation = "rslave"
        },
        RefusedConfig("hostname in the host's uts namespace joined by path", "hostname:") {
            let namespaces = ($0.linux?.namespaces ?? []).map { $0.type == .uts ? LinuxNamespace(type: .uts, path: "/proc/self/ns/uts") : $0 }
            $0.linux?.namespaces = namespaces
        },
        RefusedConfig("unknown option word on a bind mount", "mounts[7].options:") {
            $0.mounts?.append(Mount(destination: "/data", type: "bind", source: "/tmp", options: ["rbind", "tmpcopyup"]))
        },
        RefusedConfig("unknown memory policy mode", "linux.memoryPolicy.mode:") { $0.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_FASTEST") },
        RefusedConfig("unknown memory policy flag", "linux.memoryPolicy.flags[1]:") {
            $0.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES", "MPOL_F_FAST"])
        },
        RefusedConfig("memory policy with both node flags", "linux.memoryPolicy.flags:") {
            $0.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"])
        },
        RefusedConfig("memory policy bind without nodes", "linux.memoryPolicy.nodes:") { $0.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_BIND") },
        RefusedConfig("memory policy default with nodes", "linux.memoryPolicy.nodes:") {
            $0.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_DEFAULT", nodes: "0")
        },
        RefusedConfig("memory policy with a reversed range", "linux.memoryPolicy.nodes:") {
            $0.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_INTERLEAVE", nodes: "3-1")
        },
        RefusedConfig("memory policy with a node past the kernel's limit", "linux.memoryPolicy.nodes:") {
            $0.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_INTERLEAVE", nodes: "0,1024")
        },
        RefusedConfig("memory policy with a malformed list", "linux.memoryPolicy.nodes:") {
            $0.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_INTERLEAVE", nodes: "0,,2")
        },
        RefusedConfig("numa balancing without bind", "linux.memoryPolicy.flags:") {
            $0.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_INTERLEAVE", nodes: "0", flags: ["MPOL_F_NUMA_BALANCING"])
        },
        RefusedConfig("namespace twice", "linux.namespaces[6].type:") { $0.linux?.namespaces?.append(LinuxNamespace(type: .pid)) },
        RefusedConfig("relative namespace path", "linux.namespaces[1].path:") { $0.linux?.namespaces?[1].path = "proc/1/ns/net" },
        RefusedConfig("namespace path that does not exist", "linux.namespaces[1].path:") {
            $0.linux?.namespaces?[1].path = "/no/such/ns"
        },
        RefusedConfig("hostname without a uts namespace", "hostname:") { $0.linux?.namespaces?.removeAll { $0.type == .uts } },
        RefusedConfig("user namespace without mappings", "linux.uidMappings:") { $0.linux?.namespaces?.append(LinuxNamespace(type: .user)) },
        RefusedConfig("mappings without a user namespace", "linux.uidMappings:") {
            $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
        },
        RefusedConfig("empty mapping", "linux.uidMappings[0].size:") {
            $0.linux?.namespaces?.append(LinuxNamespace(type: .user))
            $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 0)]
            $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 1)]
        },
        RefusedConfig("unknown rootfsPropagation", "linux.rootfsPropagation:") { $0.linux?.rootfsPropagation = "sideways" },
        RefusedConfig("relative mount destination", "mounts[3].destination:") { $0.mounts?[3].destination = "dev/shm" },
        RefusedConfig("mount destination with ..", "mounts[0].destination:") { $0.mounts?[0].destination = "/proc/../etc" },
        RefusedConfig("bind mount without source", "mounts[7].source:") { $0.mounts?.append(Mount(destination: "/data", type: "bind")) },
        RefusedConfig("tmpcopyup on a bind mount", "mounts[7].options:") {
            $0.mounts?.append(Mount(destination: "/data", type: "bind", source: "/tmp", options: ["rbind", "tmpcopyup"]))
        },
        RefusedConfig("mount without type", "mounts[7].type:") { $0.mounts?.append(Mount(destination: "/data", source: "tmpfs")) },
        RefusedConfig("relative masked path", "linux.maskedPaths[0]:") { $0.linux?.maskedPaths?[0] = "proc/kcore" },
        RefusedConfig("readonly path with ..", "linux.readonlyPaths[1]:") { $0.linux?.readonlyPaths?[1] = "/proc/../sys" },
        RefusedConfig("sysctl name with an empty part", "linux.sysctl:") { $0.linux?.sysctl = ["net..ipv4": "1"] },
        RefusedConfig("sysctl name with a slash", "linux.sysctl:") { $0.linux?.sysctl = ["net/ipv4": "1"] },
        RefusedConfig("sysctl of the host's only", "linux.sysctl[\"kernel.core_pattern\"]:") { $0.linux?.sysctl = ["kernel.core_pattern": "|/x"] },
        RefusedConfig("net sysctl without a network namespace", "linux.sysctl[\"net.ipv4.ip_forward\"]:") {
            $0.linux?.namespaces?.removeAll { $0.type == .network }
            $0.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
        },
        RefusedConfig("ipc sysctl in the host's ipc namespace", "linux.sysctl[\"kernel.shmmax\"]:") {
            let namespaces = ($0.linux?.namespaces ?? []).map { $0.type == .ipc ? LinuxNamespace(type: .ipc, path: "/proc/self/ns/ipc") : $0 }
            $0.linux?.namespaces = namespaces
            $0.linux?.sysctl = ["kernel.shmmax": "1"]
        },
        RefusedConfig("char device without numbers", "linux.devices[0]:") { $0.linux?.devices = [LinuxDevice(path: "/dev/fuse", type: .char)] },
        RefusedConfig("relative device path", "linux.devices[0].path:") {
            $0.linux?.devices = [LinuxDevice(path: "dev/fuse", type: .char, major: 10, minor: 229)]
        },
        RefusedConfig("relative hook path", "hooks.prestart[0].path:") { $0.hooks = Hooks(prestart: [Hook(path: "hook.sh")]) },
        RefusedConfig("hook timeout of zero", "hooks.createRuntime[1].timeout:") {
            $0.hooks = Hooks(createRuntime: [Hook(path: "/bin/true"), Hook(path: "/bin/true", timeout: 0)])
        },
        RefusedConfig("kernel memory limit, which cgroup v2 lacks", "linux.resources.memory.kernel:") {
            $0.linux?.resources?.memory = LinuxMemory(limit: 64 << 20, kernel: 32 << 20)
        },
        RefusedConfig("cgroupsPath with ..", "linux.cgroupsPath:") { $0.linux?.cgroupsPath = "/berth/../../escape" },
        RefusedConfig("systemd cgroupsPath", "linux.cgroupsPath:") { $0.linux?.cgroupsPath = "system.slice:berth:web" },
        RefusedConfig("time offsets without a time namespace", "linux.timeOffsets:") {
            $0.linux?.timeOffsets = ["monotonic": LinuxTimeOffset(secs: 10)]
        },
    ]

    @Test func memoryPolicyBecomesModeFlagsAndNodeMask() throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        spec.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_BIND", nodes: "0-2,5,64", flags: ["MPOL_F_STATIC_NODES"])
        let policy = try #require(try fixture.plan(spec).memoryPolicy)
        #expect(policy.mode == 2 | 1 << 15)
        #expect(policy.nodeMask.count == 16)
        #expect(policy.nodeMask[0] == 0b100111 && policy.nodeMask[1] == 1 && policy.nodeMask[2...].allSatisfy { $0 == 0 })
        spec.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_LOCAL")
        #expect(try fixture.plan(spec).memoryPolicy?.mode == 4)
    }

    /// A namespace not listed is the runtime's own: without a mount namespace, a config that
    /// mounts nothing is accepted (and chroots), one that mounts is refused (above).
    @Test func noNamespacesAtAllIsAcceptedWhenNothingIsMounted() throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        spec.linux?.namespaces = []
        spec.mounts = []
        spec.root?.readonly = false
        spec.linux?.maskedPaths = []
        spec.linux?.readonlyPaths = []
        spec.hostname = nil
        let plan = try fixture.plan(spec)
        #expect(plan.newNamespaces.isEmpty && plan.joinedNamespaces.isEmpty && !plan.hasOwnMountNamespace)
    }

    @Test(arguments: refused + ProcessAttributesTests.refused + ResctrlTests.refused + IDMappedMountTests.refused)
    func configIsRefusedNamingTheField(_ refused: RefusedConfig) throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        refused.edit(&spec)
        let error = try #require(throws: BerthError.self) { try fixture.plan(spec) }
        #expect(error.code == refused.code, "\(error)")
        #expect(error.message.hasPrefix(refused.path), "\(error)")
        #expect(!error.description.contains("\n"))
    }

    @Test(arguments: ["a/b", "..", ".", ""])
    func invalidIDIsRefusedBeforeTheConfigIsLookedAt(_ id: String) throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        spec.process = nil
        let error = try #require(throws: BerthError.self) { try fixture.plan(spec, id: id) }
        #expect(error.code == .invalidArgument)
        #expect(error.message.hasPrefix("container id"))
    }
}

@Suite struct PathRulesTests {
    @Test(arguments: [("/a/./b//c/", "/a/b/c"), ("x/y", "/bundle/x/y"), ("../../z", "/z"), ("/", "/"), (".", "/bundle")])
    func absolutePathsAreCleaned(_ input: String, _ expected: String) {
        #expect(PathRules.absolute(input, relativeTo: "/bundle") == expected)
    }

    @Test func containerPathMustBeAbsoluteAndFreeOfDotDot() throws {
        #expect(try PathRules.containerPath("/dev//shm/.", label: "x") == "/dev/shm")
        #expect(throws: BerthError.self) { try PathRules.containerPath("dev", label: "x") }
        #expect(throws: BerthError.self) { try PathRules.containerPath("/a/../b", label: "x") }
        // `..` inside a name is just a name.
        #expect(try PathRules.containerPath("/a..b", label: "x") == "/a..b")
    }
}
