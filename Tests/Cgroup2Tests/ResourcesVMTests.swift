import BerthCore
import Cgroup2
import Foundation
import Glibc
import Linux
import OCI
import TestSupport
import Testing

/// `apply`, freeze and stats against the VM's real cgroup v2 hierarchy. The VM boots with the
/// root's subtree_control empty, so every test also proves that `apply` enables controllers
/// down the tree. Runs only in the VM (`make test-vm`).
@Suite(.cgroupV2, .serialized) struct ResourcesVMTests {
    let mount = "/sys/fs/cgroup"

    /// A fresh cgroup one level below a fresh parent, so `apply` has an ancestor besides the
    /// root to enable controllers in. Remove it with `remove(createdAncestors: 1)`.
    func makeCgroup(_ name: String) throws -> Cgroup {
        let cgroup = Cgroup(root: mount, path: uniqueName(name) + "/ctr")
        try cgroup.create()
        return cgroup
    }

    func value(_ cgroup: Cgroup, _ file: String) throws -> String {
        try cgroup.read(file).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func appliedLimitsReadBackFromTheKernel() throws {
        let cgroup = try makeCgroup("res-apply")
        defer { try? cgroup.remove(createdAncestors: 1) }
        let hasDisk = Files.exists("/dev/vda")
        let hasHugePages = Files.exists("/sys/kernel/mm/hugepages/hugepages-2048kB")
        var resources = LinuxResources(
            memory: LinuxMemory(limit: 64 << 20, reservation: 1 << 20, swap: 96 << 20),
            cpu: LinuxCPU(shares: 1024, quota: 50_000, burst: 1000, cpus: "0", mems: "0"),
            pids: LinuxPids(limit: 16),
            blockIO: LinuxBlockIO(weight: 500),
            unified: ["memory.high": "48M"])
        if hasDisk {
            resources.blockIO?.throttleReadBpsDevice = [LinuxThrottleDevice(major: 254, minor: 0, rate: 1 << 20)]
            resources.blockIO?.throttleWriteIOPSDevice = [LinuxThrottleDevice(major: 254, minor: 0, rate: 1000)]
        }
        if hasHugePages { resources.hugepageLimits = [LinuxHugepageLimit(pageSize: "2MB", limit: 4 << 20)] }
        try cgroup.apply(resources)

        #expect(try value(cgroup, "memory.max") == "67108864")
        #expect(try value(cgroup, "memory.swap.max") == "33554432")
        #expect(try value(cgroup, "memory.low") == "1048576")
        #expect(try value(cgroup, "memory.high") == "50331648")
        #expect(try value(cgroup, "cpu.weight") == "100")
        #expect(try value(cgroup, "cpu.max") == "50000 100000")
        #expect(try value(cgroup, "cpu.max.burst") == "1000")
        #expect(try value(cgroup, "cpuset.cpus") == "0")
        #expect(try value(cgroup, "cpuset.mems") == "0")
        #expect(try value(cgroup, "pids.max") == "16")
        #expect(try value(cgroup, "io.weight") == "default 4950")
        if hasDisk {
            #expect(try value(cgroup, "io.max") == "254:0 rbps=1048576 wbps=max riops=max wiops=1000")
        }
        if hasHugePages {
            #expect(try value(cgroup, "hugetlb.2MB.max") == "4194304")
        }
        let parent = Cgroup(root: mount, path: String(cgroup.path.split(separator: "/")[0]))
        for level in [Cgroup(root: mount, path: ""), parent] {
            let enabled = Set(try value(level, "cgroup.subtree_control").split(separator: " ").map(String.init))
            #expect(enabled.isSuperset(of: ["cpuset", "cpu", "io", "memory", "pids"]), "\(level.directory): \(enabled)")
        }
        #expect(try value(cgroup, "cgroup.subtree_control") == "")
    }

    /// runc's delegation: the new cgroup gets every controller the root offers, and its own
    /// subtree_control is left to what runs in it. The kernel's no-internal-processes rule
    /// then decides what a populated cgroup can hand down: threaded controllers (pids) yes,
    /// domain ones (memory) only once the processes moved to a sub-group, as systemd does
    /// with init.scope.
    @Test func createHandsEveryControllerDownAndTheContainerDelegatesFurther() throws {
        let cgroup = try makeCgroup("res-delegate")
        defer { try? cgroup.remove(createdAncestors: 1) }
        #expect(cgroup.availableControllers() == Cgroup(root: mount, path: "").availableControllers())
        #expect(cgroup.availableControllers().isSuperset(of: ["cpu", "io", "memory", "pids"]))
        #expect(try value(cgroup, "cgroup.subtree_control") == "")
        #expect(Files.exists(cgroup.directory + "/memory.current"))

        let fd = try cgroup.open()
        defer { fd.close() }
        let (pid, _) = try ProcessControl.spawn(path: "/bin/sleep", arguments: ["sleep", "30"], environment: [], cgroup: fd)
        defer { kill(pid, SIGKILL); _ = try? ProcessControl.wait(pid) }
        try cgroup.enable(["pids"])
        try cgroup.write("cgroup.subtree_control", "-pids")
        let busy = thrownError { () throws(BerthError) in try cgroup.enable(["memory"]) }
        #expect(busy?.errno == EBUSY, "\(String(describing: busy))")

        #expect(mkdir(cgroup.directory + "/init.scope", 0o755) == 0)
        try Cgroup(root: mount, path: cgroup.path + "/init.scope").write("cgroup.procs", String(pid))
        try cgroup.enable(["memory", "pids"])
        #expect(mkdir(cgroup.directory + "/nested", 0o755) == 0 && mkdir(cgroup.directory + "/nested/deeper", 0o755) == 0)
        #expect(Files.exists(cgroup.directory + "/nested/memory.max"))
        #expect(Files.exists(cgroup.directory + "/nested/pids.max"))

        // remove kills the moved process and takes the sub-groups with the cgroup.
        try cgroup.remove(createdAncestors: 1)
        #expect(!cgroup.exists)
        #expect(!Cgroup(root: mount, path: String(cgroup.path.split(separator: "/")[0])).exists)
    }

    @Test func unlimitedValuesReadBackAsMax() throws {
        let cgroup = try makeCgroup("res-max")
        defer { try? cgroup.remove(createdAncestors: 1) }
        try cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 32 << 20, swap: 32 << 20), pids: LinuxPids(limit: 4)))
        #expect(try value(cgroup, "memory.swap.max") == "0")
        try cgroup.apply(LinuxResources(memory: LinuxMemory(limit: -1), cpu: LinuxCPU(quota: -1, period: 50_000), pids: LinuxPids(limit: -1)))
        #expect(try value(cgroup, "memory.max") == "max")
        #expect(try value(cgroup, "memory.swap.max") == "max")
        #expect(try value(cgroup, "cpu.max") == "max 50000")
        #expect(try value(cgroup, "pids.max") == "max")
        // runc 1.5 writes 0 as 1 (opencontainers/cgroups fs2/pids.go), not "max" as runc 1.1.
        try cgroup.apply(LinuxResources(pids: LinuxPids(limit: 0)))
        #expect(try value(cgroup, "pids.max") == "1")
    }

    /// The kernel refuses a quota below the current burst; apply retries it after the burst.
    @Test func loweringQuotaAndBurstTogetherSucceeds() throws {
        let cgroup = try makeCgroup("res-burst")
        defer { try? cgroup.remove(createdAncestors: 1) }
        try cgroup.apply(LinuxResources(cpu: LinuxCPU(quota: 50_000, burst: 40_000)))
        try cgroup.apply(LinuxResources(cpu: LinuxCPU(quota: 20_000, burst: 10_000)))
        #expect(try value(cgroup, "cpu.max") == "20000 100000")
        #expect(try value(cgroup, "cpu.max.burst") == "10000")
    }

    @Test func idleAndWeightApplyInEitherDirection() throws {
        let cgroup = try makeCgroup("res-idle")
        defer { try? cgroup.remove(createdAncestors: 1) }
        try cgroup.apply(LinuxResources(cpu: LinuxCPU(shares: 2048, idle: 1)))
        #expect(try value(cgroup, "cpu.idle") == "1")
        try cgroup.apply(LinuxResources(cpu: LinuxCPU(shares: 1024, idle: 0)))
        #expect(try value(cgroup, "cpu.idle") == "0")
        #expect(try value(cgroup, "cpu.weight") == "100")
    }

    @Test func pidsMaxStopsAForkLoop() throws {
        let cgroup = try makeCgroup("res-pids")
        defer { try? cgroup.remove(createdAncestors: 1) }
        try cgroup.apply(LinuxResources(pids: LinuxPids(limit: 16)))
        let fd = try cgroup.open()
        defer { fd.close() }
        let (pid, _) = try ProcessControl.spawn(
            path: "/bin/sh", arguments: ["sh", "-c", "for i in $(seq 40); do sleep 5 & done; wait"],
            environment: ["PATH=/usr/bin:/bin"], cgroup: fd)
        var refused: UInt64 = 0
        var highest: UInt64 = 0
        for _ in 0..<100 {
            highest = max(highest, UInt64(try value(cgroup, "pids.current")) ?? 0)
            refused = try cgroup.keyedValues("pids.events")["max"] ?? 0
            if refused > 0 { break }
            usleep(50_000)
        }
        highest = max(highest, UInt64(try value(cgroup, "pids.current")) ?? 0)
        #expect(refused > 0, "no fork was refused")
        #expect(highest <= 16)
        #expect(highest >= 10, "the loop should have filled most of the limit, pids.current peaked at \(highest)")
        let stats = cgroup.stats()
        #expect(stats.pids?.max == .value(16))
        #expect((stats.pids?.maxEvents ?? 0) > 0)
        try cgroup.killAll()
        _ = try ProcessControl.wait(pid)
    }

    @Test func freezeStopsABusyProcessAndThawResumesIt() throws {
        let cgroup = try makeCgroup("res-freeze")
        defer { try? cgroup.remove(createdAncestors: 1) }
        let fd = try cgroup.open()
        defer { fd.close() }
        let (pid, _) = try ProcessControl.spawn(path: "/bin/sh", arguments: ["sh", "-c", "while :; do :; done"], environment: [], cgroup: fd)
        defer { kill(pid, SIGKILL); _ = try? ProcessControl.wait(pid) }
        usleep(300_000)
        func usage() throws -> UInt64 { try cgroup.keyedValues("cpu.stat")["usage_usec"] ?? 0 }

        try cgroup.freeze()
        #expect(cgroup.isFrozen)
        let frozenStart = try usage()
        usleep(500_000)
        let frozenEnd = try usage()
        #expect(frozenEnd - frozenStart < 20_000, "used \(frozenEnd - frozenStart) µs while frozen")

        try cgroup.thaw()
        #expect(!cgroup.isFrozen)
        usleep(500_000)
        let thawed = try usage()
        #expect(thawed - frozenEnd > 100_000, "used only \(thawed - frozenEnd) µs in 0.5 s after thawing")
    }

    @Test func statsOfARunningContainerCgroup() throws {
        let cgroup = try makeCgroup("res-stats")
        defer { try? cgroup.remove(createdAncestors: 1) }
        try cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20), cpu: LinuxCPU(shares: 1024), pids: LinuxPids(limit: 8),
                                        blockIO: LinuxBlockIO(weight: 100)))
        let fd = try cgroup.open()
        defer { fd.close() }
        let (pid, _) = try ProcessControl.spawn(path: "/bin/sh", arguments: ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 30"],
                                                environment: [], cgroup: fd)
        defer { kill(pid, SIGKILL); _ = try? ProcessControl.wait(pid) }
        usleep(300_000)
        let stats = cgroup.stats()
        #expect((stats.memory?.current ?? 0) > 0)
        #expect(stats.memory?.max == .value(64 << 20))
        #expect(stats.memory?.stat?.anon != nil)
        #expect(stats.memory?.events?.oomKill == 0)
        // sh, and its sleep once the loop is done.
        #expect((1...2).contains(stats.pids?.current ?? 0))
        #expect((stats.cpu?.usageUsec ?? 0) > 0)
        #expect(stats.cpu?.nrPeriods != nil, "cpu.stat lacks nr_periods: \(String(describing: stats.cpu))")
        #expect(stats.io != nil)
        if Files.exists(cgroup.directory + "/cpu.pressure"), (try? cgroup.read("cpu.pressure")) != nil {
            #expect(stats.pressure?.cpu?.some != nil)
        }
        // The CLI prints these through the OCI module's encoder.
        let json = try encodeJSON(stats)
        #expect(json.contains(#""max":8,"#) && json.contains(#""max":67108864,"#), "\(json)")
    }

    /// cgroup v2's no-internal-processes rule: a cgroup holding processes cannot hand domain
    /// controllers (memory, io, hugetlb...) down, so a container cgroup below it cannot get
    /// those limits. Threaded controllers (cpu, cpuset, pids) are exempt.
    @Test func controllersCannotBeEnabledBelowACgroupWithProcesses() throws {
        let parent = Cgroup(root: mount, path: uniqueName("res-busy"))
        try parent.create()
        defer { try? parent.remove() }
        let fd = try parent.open()
        defer { fd.close() }
        let (pid, _) = try ProcessControl.spawn(path: "/bin/sleep", arguments: ["sleep", "30"], environment: [], cgroup: fd)
        defer { kill(pid, SIGKILL); _ = try? ProcessControl.wait(pid) }
        let child = Cgroup(root: mount, path: parent.path + "/ctr")
        // Handing the threaded controllers down made the parent a thread root: as runc, create
        // makes the new cgroup threaded, where a process can go, or refuses a domain controller.
        let refused = thrownError { () throws(BerthError) in try child.create(controllers: ["pids", "memory"]) }
        #expect(refused?.code == .unsupported, "\(String(describing: refused))")
        #expect(!child.exists)
        try child.create(controllers: ["pids"])
        defer { try? child.remove() }
        #expect(try value(child, "cgroup.type") == "threaded")
        let childFD = try child.open()
        defer { childFD.close() }
        let (inChild, _) = try ProcessControl.spawn(path: "/bin/sleep", arguments: ["sleep", "30"], environment: [], cgroup: childFD)
        defer { kill(inChild, SIGKILL); _ = try? ProcessControl.wait(inChild) }
        #expect(child.processes() == [inChild])
        let memory = LinuxResources(memory: LinuxMemory(limit: 16 << 20))
        let error = thrownError { () throws(BerthError) in try child.apply(memory) }
        #expect(error?.code == .unsupported)
        #expect(error?.message.contains("\(parent.directory) holds processes itself") == true, "\(String(describing: error))")
        // EBUSY from the kernel (EOPNOTSUPP on some versions).
        #expect(error?.errno == EBUSY || error?.errno == EOPNOTSUPP)
        try child.apply(LinuxResources(pids: LinuxPids(limit: 4)))
        #expect(try value(child, "pids.max") == "4")
        // Still refused once a threaded controller is enabled there.
        let again = thrownError { () throws(BerthError) in try child.apply(memory) }
        #expect(again?.code == .unsupported)
        #expect(again?.message.contains("\(parent.directory) holds processes itself") == true, "\(String(describing: again))")
    }

    @Test func aUnifiedKeyTheKernelDoesNotHaveIsRefused() throws {
        let cgroup = try makeCgroup("res-unified")
        defer { try? cgroup.remove(createdAncestors: 1) }
        let error = thrownError { () throws(BerthError) in try cgroup.apply(LinuxResources(unified: ["memory.hihg": "1G"])) }
        #expect(error?.code == .invalidConfig)
        try cgroup.apply(LinuxResources(unified: ["memory.high": "32M", "pids.max": "7"]))
        #expect(try value(cgroup, "memory.high") == "33554432")
        #expect(try value(cgroup, "pids.max") == "7")
    }

    @Test func aValueTheKernelRefusesNamesTheConfigField() throws {
        let cgroup = try makeCgroup("res-einval")
        defer { try? cgroup.remove(createdAncestors: 1) }
        let error = thrownError { () throws(BerthError) in try cgroup.apply(LinuxResources(cpu: LinuxCPU(cpus: "63"))) }
        #expect(error?.code == .invalidConfig)
        #expect(error?.message == "linux.resources.cpu.cpus: writing \"63\" to \(cgroup.directory)/cpuset.cpus", "\(String(describing: error))")
    }
}
