import BerthCore
import Glibc
import Linux
import TestSupport
import Testing

/// The operations Linux builds on the primitives of `KernelCalls`, run against the recording
/// double: what they ask of the kernel, and how they take its refusals.
@Suite struct KernelCallsTests {
    @Test func aBindRemountRefusedForLockedFlagsIsRetriedWithTheFlagsTheMountHas() throws {
        let kernel = RecordingKernel()
        kernel.currentMountFlags["/proc/self/fd/9"] = [.noSuid, .noDev, .noAtime]
        kernel.fail("mount", errno: EPERM, times: 1)
        try kernel.remountBind(target: "/proc/self/fd/9", flags: [.readOnly, .relatime], describing: "/data")
        #expect(kernel.calls == [
            KernelCall("mount", ["-", "/proc/self/fd/9", "-", "ro,remount,bind,relatime", ""]),
            KernelCall("statfs", ["/proc/self/fd/9"]),
            KernelCall("mount", ["-", "/proc/self/fd/9", "-", "ro,nosuid,nodev,remount,bind,noatime", ""]),
        ])
    }

    @Test func aBindRemountRefusedForAnotherReasonFailsNamingTheDestination() {
        let kernel = RecordingKernel()
        kernel.fail("mount", errno: EINVAL)
        let error = #expect(throws: BerthError.self) { try kernel.remountBind(target: "/proc/self/fd/9", flags: [.readOnly], describing: "/data") }
        #expect(error?.description == "mount /data: invalid argument")
        #expect(kernel.calls("statfs").isEmpty)
    }

    @Test func theBoundingSetKeepsOnlyWhatIsAskedUpToTheKernelsLastCapability() throws {
        let kernel = RecordingKernel()
        kernel.contents["/proc/sys/kernel/cap_last_cap"] = "37\n"
        let kept = [Capability.number("CAP_CHOWN"), Capability.number("CAP_KILL")].compactMap { $0 }
        try kernel.limitBoundingSet(to: kept)
        let dropped = kernel.calls("prctl").map { $0.arguments[1] }
        #expect(dropped.count == 36)
        #expect(!dropped.contains("CAP_CHOWN") && !dropped.contains("CAP_KILL") && dropped.last == "CAP_AUDIT_READ")
    }

    @Test func anAmbientCapabilityTheKernelRefusesWithEPERMIsSkipped() throws {
        let kernel = RecordingKernel()
        let raw = try #require(Capability.number("CAP_NET_RAW")), bind = try #require(Capability.number("CAP_NET_BIND_SERVICE"))
        kernel.fail("prctl", at: "CAP_NET_RAW", errno: EPERM)
        try kernel.applyCapabilities(Capability.Sets(permitted: [raw, bind], inheritable: [raw, bind], ambient: [raw, bind]))
        #expect(kernel.calls.map(\.description) == [
            "capset effective= permitted=CAP_NET_RAW,CAP_NET_BIND_SERVICE inheritable=CAP_NET_RAW,CAP_NET_BIND_SERVICE",
            "prctl PR_CAP_AMBIENT_CLEAR_ALL", "prctl PR_CAP_AMBIENT_RAISE CAP_NET_RAW", "prctl PR_CAP_AMBIENT_RAISE CAP_NET_BIND_SERVICE",
        ])
    }

    @Test func anAmbientCapabilityRefusedForAnotherReasonIsAnError() throws {
        let kernel = RecordingKernel()
        let raw = try #require(Capability.number("CAP_NET_RAW"))
        kernel.fail("prctl", at: "CAP_NET_RAW", errno: EINVAL)
        let error = #expect(throws: BerthError.self) { try kernel.applyCapabilities(Capability.Sets(ambient: [raw])) }
        #expect(error?.description == "prctl PR_CAP_AMBIENT_RAISE CAP_NET_RAW: invalid argument")
    }

    @Test func theExecutableIsTheFirstRegularExecutableFileOnThePath() {
        let kernel = RecordingKernel()
        kernel.files["/usr/bin/tool"] = .regular
        kernel.files["/bin/tool"] = .regular
        kernel.files["/opt/tool"] = .missing
        #expect(kernel.lookUp("tool", path: "/opt:/usr/local/bin:/usr/bin:/bin") == "/usr/bin/tool")
        #expect(kernel.lookUp("./tool", path: nil) == "./tool", "a command with a slash is not looked up")
        #expect(kernel.lookUp("absent", path: "/opt") == nil)
    }

    @Test func aMissingComponentIsCreatedInsideTheRootfs() throws {
        let kernel = RecordingKernel()
        kernel.files["/rootfs/data"] = .missing
        let rootfs = try Rootfs(path: "/rootfs", kernel: kernel)
        let fd = try rootfs.openOrCreate("/data/cache", directory: true)
        #expect(kernel.calls("mkdir").map(\.description) == ["mkdir /rootfs/data 755", "mkdir /rootfs/data/cache 755"])
        #expect(kernel.calls("open").allSatisfy { $0.arguments.first == "/rootfs" || $0.arguments.contains("RESOLVE_IN_ROOT") })
        kernel.close(fd)
        rootfs.close()
        #expect(kernel.openDescriptors.isEmpty)
    }
}
