import OCI
import Testing

/// `berth spec --rootless` has the shape of `runc spec --rootless` (runc 1.1.5, compared field
/// by field): what differs from the default config is listed here.
@Suite struct SpecRootlessTests {
    @Test func makeRootlessGivesRuncsShape() throws {
        var spec = Spec.defaultConfig()
        spec.makeRootless(uid: 1500, gid: 1600)
        let linux = try #require(spec.linux)
        let types = (linux.namespaces ?? []).map(\.type)
        #expect(types.last == .user)
        #expect(!types.contains(.network))
        #expect(types.filter { $0 == .user }.count == 1)
        #expect(linux.uidMappings == [LinuxIDMapping(containerID: 0, hostID: 1500, size: 1)])
        #expect(linux.gidMappings == [LinuxIDMapping(containerID: 0, hostID: 1600, size: 1)])
        #expect(linux.resources == nil)
        let mounts = spec.mounts ?? []
        let sys = try #require(mounts.first { $0.destination == "/sys" })
        #expect(sys == Mount(destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"]))
        #expect(!mounts.contains { ($0.options ?? []).contains { $0.hasPrefix("gid=") || $0.hasPrefix("uid=") } })
        // Everything else is the default config's: same mounts in the same order.
        #expect(mounts.map(\.destination) == (Spec.defaultConfig().mounts ?? []).map(\.destination))
        #expect(spec.process == Spec.defaultConfig().process)
    }

    @Test func makeRootlessTwiceIsMakeRootlessOnce() {
        var once = Spec.defaultConfig()
        once.makeRootless(uid: 1, gid: 2)
        var twice = once
        twice.makeRootless(uid: 1, gid: 2)
        #expect(once == twice)
    }
}
