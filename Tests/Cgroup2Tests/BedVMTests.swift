import Cgroup2
import Glibc
import Linux
import TestSupport
import Testing

/// The first tests of the cgroup v2 test bed: they prove that the VM gives a real cgroup v2
/// hierarchy whose limits the kernel enforces. They run only in the VM (`make test-vm`).
@Suite(.cgroupV2, .serialized) struct BedVMTests {
    let mount = "/sys/fs/cgroup"

    @Test func rootOffersMemoryCpuIoAndPids() throws {
        let controllers = Cgroup(root: mount, path: "").availableControllers()
        #expect(controllers.isSuperset(of: ["memory", "cpu", "io", "pids"]), "controllers: \(controllers)")
    }

    @Test func processTouchingMoreThanMemoryMaxIsOOMKilled() throws {
        let cgroup = Cgroup(root: mount, path: uniqueName("bed-oom"))
        try cgroup.create(controllers: ["memory"])
        defer { try? cgroup.remove() }
        try cgroup.write("memory.max", "16M")
        try cgroup.write("memory.swap.max", "0")
        let fd = try cgroup.open()
        defer { fd.close() }
        // dd's 64M block buffer is allocated and filled from /dev/zero, so every page is touched.
        let (pid, _) = try ProcessControl.spawn(path: "/bin/dd", arguments: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], environment: [], cgroup: fd)
        let end = try ProcessControl.wait(pid)
        #expect(end == .signaled(SIGKILL))
        let events = try cgroup.keyedValues("memory.events")
        #expect((events["oom_kill"] ?? 0) >= 1, "memory.events: \(events)")
    }

    @Test func cpuMaxOfTwentyPercentCapsABusyLoop() throws {
        let cgroup = Cgroup(root: mount, path: uniqueName("bed-cpu"))
        try cgroup.create(controllers: ["cpu"])
        defer { try? cgroup.remove() }
        try cgroup.write("cpu.max", "20000 100000")
        let fd = try cgroup.open()
        defer { fd.close() }
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let (pid, _) = try ProcessControl.spawn(path: "/bin/sh", arguments: ["sh", "-c", "while :; do :; done"], environment: [], cgroup: fd)
        usleep(2_000_000)
        kill(pid, SIGKILL)
        _ = try ProcessControl.wait(pid)
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let wallMicroseconds = Double(end.tv_sec - start.tv_sec) * 1e6 + Double(end.tv_nsec - start.tv_nsec) / 1e3
        let stat = try cgroup.keyedValues("cpu.stat")
        let used = Double(stat["usage_usec"] ?? 0)
        let share = used / wallMicroseconds
        // Emulation overshoots the quota a little (24-25% was measured); the bounds leave room.
        #expect(share > 0.10 && share < 0.30, "cpu share \(share), cpu.stat \(stat)")
        #expect((stat["nr_throttled"] ?? 0) > 0)
    }
}
