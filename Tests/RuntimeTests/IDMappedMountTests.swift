import BerthCore
import Glibc
import Linux
import OCI
@testable import Runtime
import TestSupport
import Testing

/// mounts[].uidMappings/gidMappings and idmap/ridmap: the plan's rules, and how the init puts
/// the parent's idmapped trees in place (bind) or idmaps what it mounts itself (tmpfs).
@Suite struct IDMappedMountTests {
    static let toRoot = [LinuxIDMapping(containerID: 1000, hostID: 0, size: 1)]

    static func bind(_ options: [String], uid: [LinuxIDMapping]? = toRoot, gid: [LinuxIDMapping]? = toRoot) -> Mount {
        Mount(destination: "/data", type: "bind", source: "/tmp", options: options, uidMappings: uid, gidMappings: gid)
    }

    @Test func mappingsIdmapTheTopMountAndRidmapTheTree() throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        spec.mounts?.append(Self.bind(["rbind"]))
        let top = try #require(try fixture.plan(spec).mounts.last?.idmap)
        #expect(top == LaunchPlan.MountIDMap(uidMappings: [LaunchPlan.IDMapping(containerID: 1000, hostID: 0, size: 1)],
                                             gidMappings: [LaunchPlan.IDMapping(containerID: 1000, hostID: 0, size: 1)], recursive: false))
        spec.mounts?[7] = Self.bind(["rbind", "ridmap"])
        #expect(try fixture.plan(spec).mounts.last?.idmap?.recursive == true)
        spec.mounts?[7] = Self.bind(["rbind"], uid: nil, gid: nil)
        #expect(try fixture.plan(spec).mounts.last?.idmap == nil)
    }

    @Test func idmapWithoutMappingsTakesTheContainersMaps() throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        RootfsSetupTests.addUserNamespace(&spec)
        spec.mounts?.append(Self.bind(["rbind", "idmap"], uid: nil, gid: nil))
        let plan = try fixture.plan(spec)
        #expect(plan.mounts.last?.idmap?.uidMappings == plan.uidMappings)
        #expect(plan.mounts.last?.idmap?.gidMappings == plan.gidMappings)
    }

    static let refused: [RefusedConfig] = [
        RefusedConfig("idmap without mappings or a user namespace", "mounts[1].options:") { $0.mounts?[1].options?.append("idmap") },
        RefusedConfig("ridmap without mappings or a user namespace", "mounts[7].options:") {
            $0.mounts?.append(Mount(destination: "/data", type: "bind", source: "/tmp", options: ["rbind", "ridmap"]))
        },
        RefusedConfig("uidMappings without gidMappings", "mounts[7].gidMappings:") { $0.mounts?.append(IDMappedMountTests.bind(["rbind"], gid: nil)) },
        RefusedConfig("an empty uidMappings", "mounts[7].uidMappings:") { $0.mounts?.append(IDMappedMountTests.bind(["rbind"], uid: [])) },
        RefusedConfig("a mapping of size 0", "mounts[7].gidMappings[0].size:") {
            $0.mounts?.append(IDMappedMountTests.bind(["rbind"], gid: [LinuxIDMapping(containerID: 0, hostID: 0, size: 0)]))
        },
        RefusedConfig("an idmapped tmpfs with a user namespace", .unsupported, "mounts[7]: an idmapped tmpfs mount") {
            RootfsSetupTests.addUserNamespace(&$0)
            $0.mounts?.append(Mount(destination: "/t", type: "tmpfs", source: "tmpfs", uidMappings: IDMappedMountTests.toRoot, gidMappings: IDMappedMountTests.toRoot))
        },
    ]

    /// The parent's tree is moved onto the destination instead of a bind mount(2).
    @Test func theInitMovesTheParentsIdmappedTreeInPlace() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { $0.mounts?.append(Self.bind(["rbind", "ro"])) }
        let kernel = InitOrderTests.kernel()
        var setup = RootfsSetup(plan: plan, kernel: kernel)
        setup.idmappedMounts.trees["mounts[7]"] = kernel.descriptor(named: "idmapped /tmp")
        defer { setup.close() }
        try setup.prepare()
        let move = try #require(kernel.index(of: "move_mount", "idmapped /tmp"))
        #expect(kernel.calls[move].arguments.last?.hasSuffix("/data") == true, "\(kernel.calls[move])")
        #expect(kernel.index(of: "mount", "/tmp") == nil, "no bind mount(2) of the source")
        let remount = try #require(kernel.calls.indices.first { $0 > move && kernel.calls[$0].name == "mount" && kernel.calls[$0].arguments.contains { $0.contains("remount") } })
        #expect(kernel.calls[remount].arguments.contains { $0.contains("ro") }, "the mount's own flags still follow: \(kernel.calls[remount])")
    }

    /// A tmpfs is mounted, cloned, the clone idmapped, the original detached, the clone moved in.
    @Test func theInitIdmapsATmpfsItMountedByReplacingItWithAnIdmappedClone() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) {
            $0.mounts?.append(Mount(destination: "/t", type: "tmpfs", source: "tmpfs", options: ["mode=755"], uidMappings: Self.toRoot, gidMappings: Self.toRoot))
        }
        let kernel = InitOrderTests.kernel()
        var setup = RootfsSetup(plan: plan, kernel: kernel)
        setup.idmappedMounts.namespaces["mounts[7]"] = kernel.descriptor(named: "userns 1000:0")
        defer { setup.close() }
        try setup.prepare()
        let mount = try #require(kernel.calls.firstIndex { $0.name == "mount" && $0.arguments.contains("tmpfs") && $0.arguments.contains { $0.hasSuffix("/t") } })
        let names = kernel.calls[mount...].map(\.name).filter { $0 != "open" && $0 != "fstat" && $0 != "close" }
        #expect(Array(names.prefix(5)) == ["mount", "open_tree", "mount_setattr", "umount", "move_mount"], "\(kernel.calls[mount...])")
        let setattr = try #require(kernel.index(of: "mount_setattr", "idmap", "userns 1000:0"))
        #expect(!kernel.calls[setattr].arguments.contains("recursive"))
        #expect(kernel.calls(kernel.calls[setattr].name).count == 1)
        #expect(kernel.index(of: "umount", "MNT_DETACH") != nil)
    }

    @Test func aFilesystemTheKernelCannotIdmapIsSaidSo() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) {
            $0.mounts?.append(Mount(destination: "/t", type: "tmpfs", source: "tmpfs", uidMappings: Self.toRoot, gidMappings: Self.toRoot))
        }
        let kernel = InitOrderTests.kernel()
        kernel.fail("mount_setattr", errno: EINVAL)
        var setup = RootfsSetup(plan: plan, kernel: kernel)
        setup.idmappedMounts.namespaces["mounts[7]"] = kernel.descriptor(named: "userns")
        defer { setup.close() }
        let error = try #require(throws: BerthError.self) { try setup.prepare() }
        #expect(error.description == "mounts[7]: the filesystem of /t does not support idmapped mounts on this kernel: invalid argument")
    }
}
