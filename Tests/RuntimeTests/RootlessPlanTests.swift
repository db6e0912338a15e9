import BerthCore
import OCI
@testable import Runtime
import Testing

/// runc's rootless rules as a plan: mappings, groups and cgroup placement for a caller that is
/// not root, decided without touching the system (the caller is a value).
@Suite struct RootlessPlanTests {
    static let subuid = """
        someone:100000:65536
        alice:200000:65536
        1500:400000:10
        alice:bad:1
        alice:500000:0
        """

    func caller(ownCgroup: String? = "user.slice/user-1500.slice/user@1500.service/app.slice/run-1.scope",
                delegated: Set<String> = ["user.slice/user-1500.slice/user@1500.service/app.slice"]) -> RootlessCaller {
        RootlessCaller(uid: 1500, gid: 1600, subordinateUIDs: [200000...265535], subordinateGIDs: [300000...365535],
                       newuidmap: "/usr/bin/newuidmap", newgidmap: "/usr/bin/newgidmap", ownCgroup: ownCgroup,
                       canDelegate: { delegated.contains($0) })
    }

    /// `berth spec --rootless` for uid 1500, gid 1600.
    func rootlessSpec(_ fixture: PlanFixture) -> Spec {
        var spec = fixture.spec()
        spec.makeRootless(uid: 1500, gid: 1600)
        return spec
    }

    func plan(_ spec: Spec, _ fixture: PlanFixture, caller: RootlessCaller) throws(BerthError) -> LaunchPlan {
        try LaunchPlan(spec: spec, id: "rl", bundle: fixture.bundle, rootlessCaller: caller)
    }

    @Test func subordinateRangesMatchByNameOrUidAndSkipMalformedLines() {
        let ranges = SubordinateIDs.ranges(in: Self.subuid, user: "alice", uid: 1500)
        #expect(ranges == [200000...265535, 400000...400009])
        #expect(SubordinateIDs.ranges(in: Self.subuid, user: nil, uid: 1500) == [400000...400009])
        #expect(SubordinateIDs.ranges(in: "bob:4294967295:2\n", user: "bob", uid: 7).isEmpty)
    }

    @Test func unifiedCgroupIsTheZeroLineWithoutItsSlash() {
        #expect(SubordinateIDs.unifiedCgroup("4:memory:/x\n0::/user.slice/a.scope\n") == "user.slice/a.scope")
        #expect(SubordinateIDs.unifiedCgroup("0::/\n") == "")
        #expect(SubordinateIDs.unifiedCgroup("4:memory:/x\n") == nil)
    }

    @Test func theCallersOwnIdsAreWrittenByTheKernelAndMoreByTheHelpers() throws {
        let fixture = try PlanFixture()
        let single = try plan(rootlessSpec(fixture), fixture, caller: caller())
        #expect(single.rootless?.uidWriter == .kernel)
        #expect(single.rootless?.gidWriter == .kernel)
        #expect(single.process.keepsGroups)
        #expect(!single.bindsSourcesAsHostRoot, "the caller reaches no more than the init")

        var spec = rootlessSpec(fixture)
        spec.linux?.uidMappings?.append(LinuxIDMapping(containerID: 1, hostID: 200000, size: 65536))
        spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 300000, size: 100)]
        let ranged = try plan(spec, fixture, caller: caller())
        #expect(ranged.rootless?.uidWriter == .helper("/usr/bin/newuidmap"))
        #expect(ranged.rootless?.gidWriter == .helper("/usr/bin/newgidmap"))
    }

    @Test(arguments: [
        RefusedConfig("a host range beyond the subuid range", "linux.uidMappings[1]") {
            $0.linux?.uidMappings?.append(LinuxIDMapping(containerID: 1, hostID: 265000, size: 1000))
        },
        RefusedConfig("another user's id", "linux.gidMappings[0]") {
            $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 0, size: 1)]
        },
        RefusedConfig("the caller's uid with a size of 2", "linux.uidMappings[0]") {
            $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 1500, size: 2)]
        },
        RefusedConfig("no user namespace", "linux.namespaces") {
            $0.linux?.namespaces?.removeAll { $0.type == .user }
            $0.linux?.uidMappings = nil
            $0.linux?.gidMappings = nil
        },
        RefusedConfig("additional groups", "process.user.additionalGids") { $0.process?.user.additionalGids = [5] },
        RefusedConfig("limits without a delegated cgroup", .unsupported, "linux.resources.pids.limit") {
            $0.linux?.resources = LinuxResources(pids: LinuxPids(limit: 10))
            $0.linux?.cgroupsPath = nil
        },
        RefusedConfig("a cgroupsPath outside the delegated cgroup", .unsupported, "linux.cgroupsPath") {
            $0.linux?.cgroupsPath = "/system.slice/x"
        },
    ])
    func refused(_ refused: RefusedConfig) throws {
        let fixture = try PlanFixture()
        var spec = rootlessSpec(fixture)
        refused.edit(&spec)
        // Delegation only where the limits test says there is none: the caller's parent.
        let error = #expect(throws: BerthError.self) {
            try plan(spec, fixture, caller: caller(delegated: refused.path == "linux.resources.pids.limit" ? [] : ["user.slice"]))
        }
        #expect(error?.code == refused.code)
        #expect(error?.description.hasPrefix(refused.path + ":") == true, "\(String(describing: error))")
    }

    @Test func aHelperThatIsMissingIsNamed() throws {
        let fixture = try PlanFixture()
        var spec = rootlessSpec(fixture)
        spec.linux?.uidMappings?.append(LinuxIDMapping(containerID: 1, hostID: 200000, size: 10))
        var noHelper = caller()
        noHelper.newuidmap = nil
        let error = #expect(throws: BerthError.self) { try plan(spec, fixture, caller: noHelper) }
        #expect(error?.description.contains("newuidmap") == true)
    }

    @Test func theContainersCgroupGoesBesideTheCallersWhenItsParentIsDelegated() throws {
        let fixture = try PlanFixture()
        var spec = rootlessSpec(fixture)
        spec.linux?.resources = LinuxResources(pids: LinuxPids(limit: 10))
        let placed = try plan(spec, fixture, caller: caller())
        #expect(placed.rootless?.cgroup?.base == "user.slice/user-1500.slice/user@1500.service/app.slice")
        #expect(placed.rootless?.cgroup?.leaf == "rl")
        #expect(placed.cgroupPath == "user.slice/user-1500.slice/user@1500.service/app.slice/rl")
        #expect(placed.rootless?.warning == nil)
    }

    @Test func withoutDelegationTheContainerStaysInTheCallersCgroupWithOneWarning() throws {
        let fixture = try PlanFixture()
        let unplaced = try plan(rootlessSpec(fixture), fixture, caller: caller(delegated: []))
        #expect(unplaced.rootless?.cgroup == nil)
        #expect(unplaced.cgroupPath == "user.slice/user-1500.slice/user@1500.service/app.slice/run-1.scope")
        #expect(unplaced.rootless?.warning?.contains("without resource limits") == true)
        let rootCgroup = try plan(rootlessSpec(fixture), fixture, caller: caller(ownCgroup: ""))
        #expect(rootCgroup.rootless?.warning?.contains("root cgroup") == true)
    }

    @Test func aGivenCgroupsPathInADelegatedCgroupIsUsed() throws {
        let fixture = try PlanFixture()
        var spec = rootlessSpec(fixture)
        spec.linux?.cgroupsPath = "/user.slice/user-1500.slice/user@1500.service/app.slice/mine"
        let placed = try plan(spec, fixture, caller: caller())
        #expect(placed.rootless?.cgroup?.leaf == "mine")
        #expect(placed.cgroupPath == "user.slice/user-1500.slice/user@1500.service/app.slice/mine")
    }

    @Test func rootHasNoRootlessPlan() throws {
        let fixture = try PlanFixture()
        let plan = try LaunchPlan(spec: fixture.spec(), id: "r", bundle: fixture.bundle, rootlessCaller: nil)
        #expect(plan.rootless == nil)
        #expect(!plan.process.keepsGroups)
    }

    @Test func theStateRootFollowsRuncsXDGRule() {
        let xdg: (String) -> String? = { ["XDG_RUNTIME_DIR": "/run/user/1500/", "USER": "alice"][$0] }
        #expect(StateRoot.defaultPath(program: "berth", euid: 1500, environment: xdg, inUserNamespace: { false }) == "/run/user/1500/berth")
        #expect(StateRoot.defaultPath(program: "ctr", euid: 1500, environment: { _ in nil }, inUserNamespace: { false }) == "/run/ctr")
        #expect(StateRoot.defaultPath(program: "berth", euid: 0, environment: xdg, inUserNamespace: { false }) == "/run/berth")
        #expect(StateRoot.defaultPath(program: "berth", euid: 0, environment: xdg, inUserNamespace: { true }) == "/run/user/1500/berth")
        let rootUser: (String) -> String? = { ["XDG_RUNTIME_DIR": "/run/user/0", "USER": "root"][$0] }
        #expect(StateRoot.defaultPath(program: "berth", euid: 0, environment: rootUser, inUserNamespace: { true }) == "/run/berth")
    }

    @Test func aStateRootOfAnotherUserIsRefused() throws {
        let error = #expect(throws: BerthError.self) { try StateRoot.checkOwner("/", label: "flag --root", euid: 1500) }
        #expect(error?.description == "flag --root: / belongs to uid 0, not to this user (uid 1500)")
        try StateRoot.checkOwner("/", label: "flag --root", euid: 0)
        try StateRoot.checkOwner("/nonexistent-berth-root", label: "flag --root", euid: 1500)
        // One the user cannot look at is refused, not taken for a missing one.
        let unreachable = #expect(throws: BerthError.self) { try StateRoot.checkOwner("/etc/passwd/root", label: "flag --root", euid: 1500) }
        #expect(unreachable?.description == "flag --root: stat /etc/passwd/root: not a directory")
    }
}
