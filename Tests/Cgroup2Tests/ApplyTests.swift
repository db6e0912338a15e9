import BerthCore
import Cgroup2
import Linux
import OCI
import TestSupport
import Testing

/// A temporary directory tree standing in for cgroupfs: `root/pod/ctr` with the control files
/// a kernel would create. Unlike cgroupfs, enabling a controller in a parent does not make the
/// child's files appear, so the leaf gets all of them up front.
struct FakeCgroupfs {
    let directory: TemporaryDirectory
    let cgroup: Cgroup
    var root: String { directory.path }

    static let leafFiles: [String: String] = [
        "memory.max": "max\n", "memory.swap.max": "max\n", "memory.low": "0\n", "memory.high": "max\n",
        "memory.current": "0\n", "cpu.max": "max 100000\n", "cpu.weight": "100\n", "cpu.max.burst": "0\n",
        "cpu.idle": "0\n", "cpuset.cpus": "\n", "cpuset.mems": "\n", "pids.max": "max\n", "io.max": "",
        "io.weight": "default 100\n", "hugetlb.2MB.max": "max\n", "cgroup.freeze": "0\n",
        "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.max.depth": "max\n",
    ]

    init(controllers: String = "cpuset cpu io memory hugetlb pids", leafControllers: String? = nil,
         omit: Set<String> = [], extra: [String: String] = [:]) throws {
        directory = try TemporaryDirectory("berth-cgroupfs")
        cgroup = Cgroup(root: directory.path, path: "pod/ctr")
        for level in ["", "pod/", "pod/ctr/"] {
            try directory.write(level + "cgroup.controllers", (level == "pod/ctr/" ? leafControllers ?? controllers : controllers) + "\n")
            try directory.write(level + "cgroup.subtree_control", "")
        }
        for (file, text) in FakeCgroupfs.leafFiles.merging(extra, uniquingKeysWith: { $1 }) where !omit.contains(file) {
            try directory.write("pod/ctr/" + file, text)
        }
    }

    func leaf(_ file: String) throws -> String { try directory.read("pod/ctr/" + file) }

    func remove() { directory.remove() }
}

/// The BerthError `body` throws, for checking code and message.
func thrownError(_ body: () throws(BerthError) -> Void) -> BerthError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

@Suite struct ApplyTests {
    @Test func applyEnablesControllersInEveryAncestorButNotTheLeaf() throws {
        let fs = try FakeCgroupfs()
        defer { fs.remove() }
        try fs.cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 1 << 20), cpu: LinuxCPU(shares: 1024), pids: LinuxPids(limit: 16)))
        #expect(try fs.directory.read("cgroup.subtree_control") == "+cpu +memory +pids")
        #expect(try fs.directory.read("pod/cgroup.subtree_control") == "+cpu +memory +pids")
        #expect(try fs.leaf("cgroup.subtree_control") == "")
    }

    @Test func applyWritesTheMappedValues() throws {
        let fs = try FakeCgroupfs()
        defer { fs.remove() }
        let resources = LinuxResources(
            memory: LinuxMemory(limit: 64 << 20, reservation: 1 << 20, swap: 96 << 20),
            cpu: LinuxCPU(shares: 1024, quota: 50_000, burst: 1000, cpus: "0-1", mems: "0"),
            pids: LinuxPids(limit: 16),
            blockIO: LinuxBlockIO(throttleReadBpsDevice: [LinuxThrottleDevice(major: 254, minor: 0, rate: 1 << 20)]),
            hugepageLimits: [LinuxHugepageLimit(pageSize: "2MB", limit: 2 << 20)],
            unified: ["memory.high": "48M"])
        try fs.cgroup.apply(resources)
        let expected = [
            "memory.max": "67108864", "memory.swap.max": "33554432", "memory.low": "1048576", "memory.high": "48M",
            "cpu.weight": "100", "cpu.max": "50000 100000", "cpu.max.burst": "1000", "cpuset.cpus": "0-1",
            "cpuset.mems": "0", "pids.max": "16", "io.max": "254:0 rbps=1048576", "hugetlb.2MB.max": "2097152",
        ]
        for (file, value) in expected { #expect(try fs.leaf(file) == value, "\(file)") }
        #expect(try fs.directory.read("cgroup.subtree_control") == "+cpuset +cpu +io +memory +hugetlb +pids")
    }

    /// Already enabled controllers are written again: the kernel ignores them, and the write waits
    /// for a concurrent enable to finish making the children's files.
    @Test func applyWritesEveryNeededControllerEvenWhenEnabled() throws {
        let fs = try FakeCgroupfs()
        defer { fs.remove() }
        try fs.directory.write("cgroup.subtree_control", "memory\n")
        try fs.cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 4096), pids: LinuxPids(limit: 3)))
        #expect(try fs.directory.read("cgroup.subtree_control") == "+memory +pids")
    }

    @Test func applyFallsBackToBfqWeightWhenIoWeightIsMissing() throws {
        let fs = try FakeCgroupfs(omit: ["io.weight"], extra: ["io.bfq.weight": "default 100\n"])
        defer { fs.remove() }
        try fs.cgroup.apply(LinuxResources(blockIO: LinuxBlockIO(weight: 300)))
        #expect(try fs.leaf("io.bfq.weight") == "300")
    }

    @Test func applyPrefersIoWeightWhenBothExist() throws {
        let fs = try FakeCgroupfs(extra: ["io.bfq.weight": "default 100\n"])
        defer { fs.remove() }
        try fs.cgroup.apply(LinuxResources(blockIO: LinuxBlockIO(weight: 300)))
        #expect(try fs.leaf("io.weight") == "default 2930")
        #expect(try fs.leaf("io.bfq.weight") == "default 100\n")
    }

    @Test func applyRefusesAControllerTheRootDoesNotOffer() throws {
        let fs = try FakeCgroupfs(controllers: "cpu pids")
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in try fs.cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 4096), pids: LinuxPids(limit: 3))) }
        #expect(error?.code == .unsupported)
        #expect(error?.message.hasPrefix("linux.resources.memory.limit: the memory controller is not available in \(fs.root) (") == true, "\(String(describing: error))")
        // Nothing was enabled or written.
        #expect(try fs.directory.read("cgroup.subtree_control") == "")
        #expect(try fs.leaf("pids.max") == "max\n")
    }

    @Test func applyRefusesAControllerTheLeafDoesNotGet() throws {
        let fs = try FakeCgroupfs(leafControllers: "cpu")
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in try fs.cgroup.apply(LinuxResources(pids: LinuxPids(limit: 3))) }
        #expect(error?.message.hasPrefix("linux.resources.pids.limit: the pids controller is not available in \(fs.cgroup.directory) (") == true)
    }

    @Test func applyRefusesAnUnknownUnifiedKeyBeforeWritingAnything() throws {
        let fs = try FakeCgroupfs()
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in
            try fs.cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 4096), unified: ["memory.hihg": "1G"]))
        }
        #expect(error?.code == .invalidConfig)
        #expect(error?.description == "linux.resources.unified[\"memory.hihg\"]: \(fs.cgroup.directory) has no file memory.hihg (not an interface file of this cgroup or of its enabled controllers)")
        #expect(try fs.leaf("memory.max") == "max\n")
    }

    @Test func applyAcceptsAUnifiedCoreFile() throws {
        let fs = try FakeCgroupfs()
        defer { fs.remove() }
        try fs.cgroup.apply(LinuxResources(unified: ["cgroup.max.depth": "2"]))
        #expect(try fs.leaf("cgroup.max.depth") == "2")
        #expect(try fs.directory.read("cgroup.subtree_control") == "")
    }

    @Test func applyReportsAMissingSwapFileAsUnsupported() throws {
        let fs = try FakeCgroupfs(omit: ["memory.swap.max"])
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in try fs.cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 100, swap: 200))) }
        #expect(error?.code == .unsupported)
        #expect(error?.description == "linux.resources.memory.swap: \(fs.cgroup.directory) has no memory.swap.max (swap accounting is off: CONFIG_MEMCG_SWAP or swapaccount=0)")
        #expect(try fs.leaf("memory.max") == "max\n")
    }

    @Test func applyReportsAMissingIoWeightAndBfqWeight() throws {
        let fs = try FakeCgroupfs(omit: ["io.weight"])
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in try fs.cgroup.apply(LinuxResources(blockIO: LinuxBlockIO(weight: 300))) }
        #expect(error?.description.hasPrefix("linux.resources.blockIO.weight: \(fs.cgroup.directory) has no io.weight nor io.bfq.weight (") == true)
    }

    @Test func applyReportsAMissingHugePageSize() throws {
        let fs = try FakeCgroupfs()
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in try fs.cgroup.apply(LinuxResources(hugepageLimits: [LinuxHugepageLimit(pageSize: "1GB", limit: 0)])) }
        #expect(error?.description == "linux.resources.hugepageLimits[0].limit: \(fs.cgroup.directory) has no hugetlb.1GB.max (this machine has no such huge page size)")
    }

    @Test func checkBeforeUpdateRefusesALimitBelowCurrentUsage() throws {
        let fs = try FakeCgroupfs(extra: ["memory.current": "5000000\n"])
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in
            try fs.cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 1_000_000, checkBeforeUpdate: true)))
        }
        #expect(error?.description == "linux.resources.memory.limit: rejecting memory limit 1000000 <= usage 5000000")
        #expect(try fs.leaf("memory.max") == "max\n")
        // runc refuses a limit equal to the usage too, and checks the memory+swap total first.
        let equal = thrownError { () throws(BerthError) in
            try fs.cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 5_000_000, checkBeforeUpdate: true)))
        }
        #expect(equal?.description == "linux.resources.memory.limit: rejecting memory limit 5000000 <= usage 5000000")
        let swap = thrownError { () throws(BerthError) in
            try fs.cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 4_000_000, swap: 4_500_000, checkBeforeUpdate: true)))
        }
        #expect(swap?.description == "linux.resources.memory.swap: rejecting memory+swap limit 4500000 <= usage 5000000")
        #expect(try fs.leaf("memory.max") == "max\n")
        try fs.cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 6_000_000, checkBeforeUpdate: true)))
        #expect(try fs.leaf("memory.max") == "6000000")
    }

    @Test func withoutCheckBeforeUpdateALimitBelowUsageIsWritten() throws {
        let fs = try FakeCgroupfs(extra: ["memory.current": "5000000\n"])
        defer { fs.remove() }
        try fs.cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 1_000_000)))
        #expect(try fs.leaf("memory.max") == "1000000")
    }

    @Test func applyToAMissingCgroupFails() throws {
        let fs = try FakeCgroupfs()
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in try Cgroup(root: fs.root, path: "pod/gone").apply(LinuxResources(pids: LinuxPids(limit: 1))) }
        #expect(error?.description == "cgroup \(fs.root)/pod/gone does not exist")
    }

    @Test func applyOfAnInvalidConfigWritesNothing() throws {
        let fs = try FakeCgroupfs()
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in
            try fs.cgroup.apply(LinuxResources(memory: LinuxMemory(limit: 4096, swappiness: 10), pids: LinuxPids(limit: 1)))
        }
        #expect(error?.code == .invalidConfig)
        #expect(try fs.directory.read("cgroup.subtree_control") == "")
        #expect(try fs.leaf("pids.max") == "max\n")
    }
}

@Suite struct UnavailabilityReasonTests {
    let hybridMountinfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """
    let procCgroups = """
        #subsys_name\thierarchy\tnum_cgroups\tenabled
        cpu\t3\t1\t1
        memory\t4\t36\t1
        blkio\t7\t1\t1
        hugetlb\t0\t1\t1
        pids\t0\t1\t0
        rdma\t5\t1\t1
        """

    @Test func aControllerMountedAsCgroupV1IsNamedWithItsMountPoint() {
        #expect(Cgroup.unavailabilityReason("memory", isRoot: true, mountinfo: hybridMountinfo, procCgroups: procCgroups)
            == "on this host it is bound to cgroup v1 at /sys/fs/cgroup/memory")
        #expect(Cgroup.unavailabilityReason("cpu", isRoot: true, mountinfo: hybridMountinfo, procCgroups: procCgroups)
            == "on this host it is bound to cgroup v1 at /sys/fs/cgroup/cpu,cpuacct")
    }

    @Test func theIoControllerIsBlkioOnCgroupV1() {
        #expect(Cgroup.unavailabilityReason("io", isRoot: true, mountinfo: hybridMountinfo, procCgroups: procCgroups)
            == "on this host it is bound to cgroup v1 at /sys/fs/cgroup/blkio")
    }

    @Test func aV1HierarchyWithoutAMountIsFoundInProcCgroups() {
        #expect(Cgroup.unavailabilityReason("rdma", isRoot: true, mountinfo: hybridMountinfo, procCgroups: procCgroups)
            == "on this host it is bound to a cgroup v1 hierarchy")
    }

    @Test func aDisabledControllerIsReported() {
        #expect(Cgroup.unavailabilityReason("pids", isRoot: true, mountinfo: hybridMountinfo, procCgroups: procCgroups)
            == "it is disabled on the kernel command line")
    }

    @Test func aControllerUnknownToTheKernelIsReported() {
        #expect(Cgroup.unavailabilityReason("misc", isRoot: true, mountinfo: hybridMountinfo, procCgroups: procCgroups)
            == "the kernel was built without it")
    }

    @Test func belowTheRootAMissingControllerIsNotDelegated() {
        #expect(Cgroup.unavailabilityReason("hugetlb", isRoot: false, mountinfo: hybridMountinfo, procCgroups: procCgroups)
            == "the parent cgroup does not delegate it")
        #expect(Cgroup.unavailabilityReason("hugetlb", isRoot: true, mountinfo: nil, procCgroups: nil)
            == "the kernel does not offer it on cgroup v2")
    }
}

@Suite struct FreezeTests {
    @Test func freezeWritesOneAndReturnsOnceEventsSayFrozen() throws {
        let fs = try FakeCgroupfs(extra: ["cgroup.events": "populated 1\nfrozen 1\n"])
        defer { fs.remove() }
        try fs.cgroup.freeze(timeoutMilliseconds: 1000)
        #expect(try fs.leaf("cgroup.freeze") == "1")
        #expect(fs.cgroup.isFrozen)
    }

    @Test func freezeThatDoesNotCompleteTimesOutAndThawsAgain() throws {
        let fs = try FakeCgroupfs(extra: ["cgroup.events": "populated 1\nfrozen 0\n"])
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in try fs.cgroup.freeze(timeoutMilliseconds: 50) }
        #expect(error?.description == "cgroup \(fs.cgroup.directory) did not freeze within 50 ms (cgroup.events: frozen 0)")
        #expect(try fs.leaf("cgroup.freeze") == "0")
    }

    @Test func thawWritesZeroAndReturnsOnceEventsSayThawed() throws {
        let fs = try FakeCgroupfs(extra: ["cgroup.freeze": "1\n", "cgroup.events": "populated 1\nfrozen 0\n"])
        defer { fs.remove() }
        try fs.cgroup.thaw(timeoutMilliseconds: 1000)
        #expect(try fs.leaf("cgroup.freeze") == "0")
        #expect(!fs.cgroup.isFrozen)
    }

    @Test func thawThatDoesNotCompleteTimesOut() throws {
        let fs = try FakeCgroupfs(extra: ["cgroup.events": "populated 1\nfrozen 1\n"])
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in try fs.cgroup.thaw(timeoutMilliseconds: 30) }
        #expect(error?.description == "cgroup \(fs.cgroup.directory) did not thaw within 30 ms (cgroup.events: frozen 1)")
    }

    @Test func freezeWithoutTheFreezerFileIsUnsupported() throws {
        let fs = try FakeCgroupfs(omit: ["cgroup.freeze"])
        defer { fs.remove() }
        let error = thrownError { () throws(BerthError) in try fs.cgroup.freeze() }
        #expect(error?.code == .unsupported)
        #expect(error?.description == "cgroup \(fs.cgroup.directory) has no cgroup.freeze: the cgroup v2 freezer needs Linux 5.2")
    }
}
