@testable import Cgroup2
import CShim
import Glibc
import Linux
import OCI
import TestSupport
import Testing

/// Attaching, replacing and removing device programs on a cgroup of the test's own under the
/// host's cgroup2 mount (no controller needed), as root. Also the figures for docs/security.md.
@Suite(.enabled(if: geteuid() == 0 && Cgroup.hostMount() != nil, "needs root and a cgroup2 mount"))
struct DeviceAttachTests {
    static func microseconds(_ body: () throws -> Void) rethrows -> Double {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        try body()
        clock_gettime(CLOCK_MONOTONIC, &end)
        return Double(end.tv_sec - start.tv_sec) * 1e6 + Double(end.tv_nsec - start.tv_nsec) / 1e3
    }

    @Test func replacingKeepsOneProgramAndRemovingFreesIt() throws {
        let mount = try #require(Cgroup.hostMount())
        let cgroup = Cgroup(root: mount, path: "berth-device-test-\(getpid())")
        let created = try cgroup.create()
        defer { try? cgroup.remove(createdAncestors: created - 1) }
        let program = DeviceProgram.compile(try DeviceRule.rules(for: [LinuxDeviceCgroup(allow: false, access: "rwm")]))

        var times: [Double] = []
        for _ in 0..<20 { times.append(try Self.microseconds { try cgroup.attachDeviceProgram(program) }) }
        let ids = try cgroup.deviceProgramIDs()
        #expect(ids.count == 1, "\(ids)")
        let first = times[0], median = times.sorted()[times.count / 2]
        print("device program: first attach (load + query + attach) \(first) µs, replace median (load + attach + detach) \(median) µs")

        let removal = try Self.microseconds { try cgroup.remove(createdAncestors: created - 1) }
        print("device program: detach + rmdir \(removal) µs")
        #expect(!cgroup.exists)
        #expect(ids.allSatisfy { !DeviceProgram.isLoaded(id: $0) }, "remove frees the program")
    }

    @Test func aProgramOfSomeoneElseStaysAttached() throws {
        let mount = try #require(Cgroup.hostMount())
        let cgroup = Cgroup(root: mount, path: "berth-device-other-\(getpid())")
        let created = try cgroup.create()
        defer { try? cgroup.remove(createdAncestors: created - 1) }
        // Another tool's program: the same code under another name.
        let program = DeviceProgram.compile(DeviceRule.defaults)
        var log = [CChar](repeating: 0, count: 256)
        let foreign = program.bytes.withUnsafeBytes { berth_bpf_load_device_program($0.baseAddress, UInt32(program.instructions.count), "other_devices", &log, UInt32(log.count)) }
        try #require(foreign >= 0)
        defer { close(foreign) }
        let directory = try cgroup.open()
        defer { directory.close() }
        try #require(berth_bpf_attach_device_program(foreign, directory.rawValue, Cgroup.allowMulti) == 0)
        try cgroup.attachDeviceProgram(program)
        try cgroup.attachDeviceProgram(program)
        #expect(try cgroup.deviceProgramIDs().count == 2)
        cgroup.detachDevicePrograms()
        #expect(try cgroup.deviceProgramIDs().count == 1, "only berth's are detached")
    }
}
