import Cgroup2
import Linux
import OCI
import Testing

@Suite struct MemoryMappingTests {
    @Test func memoryLimitWritesBytesToMemoryMax() throws {
        #expect(try writeList(LinuxResources(memory: LinuxMemory(limit: 1 << 30))) == ["memory.max=1073741824"])
    }

    @Test func memoryLimitMinusOneWritesMaxAndMakesSwapUnlimitedToo() throws {
        #expect(try writeList(LinuxResources(memory: LinuxMemory(limit: -1))) == ["memory.swap.max=max", "memory.max=max"])
    }

    @Test func memoryLimitZeroIsUnset() throws {
        #expect(try writeList(LinuxResources(memory: LinuxMemory(limit: 0))) == [])
    }

    @Test func memoryLimitBelowMinusOneIsRefused() {
        #expect(planError(LinuxResources(memory: LinuxMemory(limit: -2)))
            == "linux.resources.memory.limit: -2 is neither -1 (unlimited) nor a byte count")
    }

    @Test func reservationWritesMemoryLow() throws {
        #expect(try writeList(LinuxResources(memory: LinuxMemory(reservation: 1 << 20))) == ["memory.low=1048576"])
        #expect(try writeList(LinuxResources(memory: LinuxMemory(reservation: -1))) == ["memory.low=max"])
        #expect(planError(LinuxResources(memory: LinuxMemory(reservation: -5)))
            == "linux.resources.memory.reservation: -5 is neither -1 (unlimited) nor a byte count")
    }

    @Test func swapIsConvertedFromMemoryPlusSwapToSwapAlone() throws {
        let memory = LinuxMemory(limit: 256 << 20, swap: 384 << 20)
        #expect(try writeList(LinuxResources(memory: memory)) == ["memory.swap.max=134217728", "memory.max=268435456"])
    }

    @Test func swapEqualToLimitForbidsSwapping() throws {
        #expect(try plan(LinuxResources(memory: LinuxMemory(limit: 1 << 20, swap: 1 << 20))).value(of: "memory.swap.max") == "0")
    }

    @Test func swapMinusOneWritesMax() throws {
        #expect(try plan(LinuxResources(memory: LinuxMemory(limit: 1 << 20, swap: -1))).value(of: "memory.swap.max") == "max")
    }

    @Test func swapZeroIsUnset() throws {
        #expect(try writeList(LinuxResources(memory: LinuxMemory(limit: 1 << 20, swap: 0))) == ["memory.max=1048576"])
    }

    @Test func swapBelowLimitIsRefused() {
        #expect(planError(LinuxResources(memory: LinuxMemory(limit: 200, swap: 100)))
            == "linux.resources.memory.swap: 100 is below linux.resources.memory.limit 200; swap is memory plus swap, so it must be at least the limit")
    }

    @Test func swapWithoutMemoryLimitIsRefused() {
        let message = "linux.resources.memory.swap: a memory+swap limit needs a memory limit, but linux.resources.memory.limit is not set (cgroup v2 limits swap alone, as swap − limit)"
        #expect(planError(LinuxResources(memory: LinuxMemory(swap: 1 << 20))) == message)
    }

    @Test func swapWithUnlimitedMemoryIsRefused() {
        #expect(planError(LinuxResources(memory: LinuxMemory(limit: -1, swap: 1 << 20)))?
            .hasPrefix("linux.resources.memory.swap: a memory+swap limit needs a memory limit, but linux.resources.memory.limit is -1") == true)
    }

    @Test func swapBelowMinusOneIsRefused() {
        #expect(planError(LinuxResources(memory: LinuxMemory(limit: 100, swap: -3)))
            == "linux.resources.memory.swap: -3 is neither -1 (unlimited) nor a byte count")
    }

    @Test func memoryWritesComeInOrderLowThenSwapThenMax() throws {
        let memory = LinuxMemory(limit: 100 << 20, reservation: 50 << 20, swap: 200 << 20)
        #expect(try plan(LinuxResources(memory: memory)).writes.map(\.file) == ["memory.low", "memory.swap.max", "memory.max"])
    }

    @Test func kernelMemoryLimitIsRefused() {
        #expect(planError(LinuxResources(memory: LinuxMemory(kernel: 1 << 20)))
            == "linux.resources.memory.kernel: kernel memory limits are not supported on cgroup v2 (kernel memory is charged to memory.max)")
        #expect(planError(LinuxResources(memory: LinuxMemory(kernelTCP: 1 << 20)))
            == "linux.resources.memory.kernelTCP: kernel TCP buffer limits are not supported on cgroup v2 (socket buffers are charged to memory.max)")
    }

    @Test(arguments: [Int64(0), -1])
    func kernelMemoryZeroOrUnlimitedIsAccepted(value: Int64) throws {
        #expect(try writeList(LinuxResources(memory: LinuxMemory(kernel: value, kernelTCP: value))) == [])
    }

    @Test(arguments: [UInt64(0), 60, 100])
    func anySwappinessIsRefused(value: UInt64) {
        #expect(planError(LinuxResources(memory: LinuxMemory(swappiness: value)))?
            .hasPrefix("linux.resources.memory.swappiness: \(value) is not supported on cgroup v2") == true)
    }

    @Test func disablingTheOOMKillerIsRefused() throws {
        #expect(planError(LinuxResources(memory: LinuxMemory(disableOOMKiller: true)))
            == "linux.resources.memory.disableOOMKiller: not supported on cgroup v2: the OOM killer cannot be turned off for a cgroup")
        #expect(try writeList(LinuxResources(memory: LinuxMemory(disableOOMKiller: false))) == [])
    }

    @Test func nonHierarchicalAccountingIsRefused() throws {
        #expect(planError(LinuxResources(memory: LinuxMemory(useHierarchy: false)))
            == "linux.resources.memory.useHierarchy: false is not supported on cgroup v2, which is always hierarchical")
        #expect(try writeList(LinuxResources(memory: LinuxMemory(useHierarchy: true))) == [])
    }

    @Test func checkBeforeUpdateIsCarriedInThePlanWithoutWrites() throws {
        let planned = try plan(LinuxResources(memory: LinuxMemory(checkBeforeUpdate: true)))
        #expect(planned.checkMemoryBeforeUpdate)
        #expect(planned.writes.isEmpty)
        #expect(try !plan(LinuxResources(memory: LinuxMemory(limit: 1))).checkMemoryBeforeUpdate)
    }

    @Test func memoryWritesNeedTheMemoryController() throws {
        #expect(try plan(LinuxResources(memory: LinuxMemory(limit: 1 << 20))).controllers == ["memory"])
    }
}

@Suite struct CPUMappingTests {
    /// The v1 endpoints and default land on the v2 ones; values between follow crun's curve.
    @Test(arguments: [
        (UInt64(2), UInt64(1)), (1024, 100), (262_144, 10_000),
        (1, 1), (300_000, 10_000), (3, 2), (100, 17), (512, 59), (2048, 174), (4096, 303), (65536, 3023),
    ])
    func sharesConvertToCpuWeight(shares: UInt64, weight: UInt64) {
        #expect(CgroupResources.cpuWeight(shares: shares) == weight)
    }

    @Test func sharesWriteCpuWeight() throws {
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(shares: 1024))) == ["cpu.weight=100"])
        #expect(try plan(LinuxResources(cpu: LinuxCPU(shares: 1024))).writes.first?.field == "linux.resources.cpu.shares")
    }

    @Test func sharesZeroIsUnset() throws {
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(shares: 0))) == [])
    }

    @Test func quotaAndPeriodWriteCpuMax() throws {
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(quota: 50_000, period: 200_000))) == ["cpu.max=50000 200000"])
    }

    @Test func quotaWithoutPeriodUsesTheDefaultPeriod() throws {
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(quota: 50_000))) == ["cpu.max=50000 100000"])
    }

    @Test func quotaMinusOneWritesMaxWithThePeriod() throws {
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(quota: -1, period: 50_000))) == ["cpu.max=max 50000"])
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(quota: -1))) == ["cpu.max=max 100000"])
    }

    @Test func periodAloneWritesMaxWithThePeriod() throws {
        let planned = try plan(LinuxResources(cpu: LinuxCPU(period: 250_000)))
        #expect(planned.value(of: "cpu.max") == "max 250000")
        #expect(planned.writes.first?.field == "linux.resources.cpu.period")
    }

    @Test func quotaBelowTheKernelMinimumIsRefused() {
        #expect(planError(LinuxResources(cpu: LinuxCPU(quota: 999)))
            == "linux.resources.cpu.quota: 999 is below the kernel's minimum of 1000 microseconds")
        #expect(planError(LinuxResources(cpu: LinuxCPU(quota: -7)))
            == "linux.resources.cpu.quota: -7 is neither -1 (unlimited) nor a time in microseconds")
    }

    @Test(arguments: [UInt64(999), 1_000_001])
    func periodOutsideTheKernelRangeIsRefused(period: UInt64) {
        #expect(planError(LinuxResources(cpu: LinuxCPU(quota: 50_000, period: period)))
            == "linux.resources.cpu.period: \(period) is outside the kernel's range of 1000-1000000 microseconds")
    }

    @Test func burstWritesCpuMaxBurstAfterCpuMax() throws {
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(quota: 50_000, burst: 20_000)))
            == ["cpu.max=50000 100000", "cpu.max.burst=20000"])
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(burst: 0))) == ["cpu.max.burst=0"])
    }

    @Test func burstAboveQuotaIsRefused() {
        #expect(planError(LinuxResources(cpu: LinuxCPU(quota: 10_000, burst: 20_000)))
            == "linux.resources.cpu.burst: 20000 exceeds linux.resources.cpu.quota 10000")
    }

    @Test func idleOneIsWrittenAfterTheWeightAndIdleZeroBefore() throws {
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(shares: 1024, idle: 1))) == ["cpu.weight=100", "cpu.idle=1"])
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(shares: 1024, idle: 0))) == ["cpu.idle=0", "cpu.weight=100"])
    }

    @Test func idleOtherThanZeroOrOneIsRefused() {
        #expect(planError(LinuxResources(cpu: LinuxCPU(idle: 2))) == "linux.resources.cpu.idle: 2 is neither 0 nor 1")
    }

    @Test func cpusAndMemsWriteCpusetFilesFirst() throws {
        let resources = LinuxResources(memory: LinuxMemory(limit: 4096), cpu: LinuxCPU(shares: 2, cpus: "0-3,7", mems: "0"))
        #expect(try writeList(resources) == ["cpuset.cpus=0-3,7", "cpuset.mems=0", "memory.max=4096", "cpu.weight=1"])
        #expect(try plan(resources).controllers == ["cpuset", "cpu", "memory"])
    }

    @Test func emptyCpusIsUnset() throws {
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(cpus: "", mems: ""))) == [])
    }

    @Test func malformedCpusIsRefused() {
        #expect(planError(LinuxResources(cpu: LinuxCPU(cpus: "0-3,a"))) == "linux.resources.cpu.cpus: \"0-3,a\" is not a list such as 0-3,7")
        #expect(planError(LinuxResources(cpu: LinuxCPU(mems: "1-0"))) == "linux.resources.cpu.mems: \"1-0\" is not a list such as 0-3,7")
    }

    @Test(arguments: [("0", true), ("0-3,7", true), ("0-15:2/4", true), ("1,3,5-6", true),
                      ("", false), ("a", false), ("3-1", false), ("0,", false), ("0--2", false), ("0:1/2", false),
                      ("0-7:3/2", false), ("-1", false), (" 1", false)])
    func cpuListSyntax(list: String, valid: Bool) {
        #expect(CgroupResources.isValidCPUList(list) == valid)
    }

    @Test func realtimeSchedulingIsRefused() throws {
        #expect(planError(LinuxResources(cpu: LinuxCPU(realtimeRuntime: 950_000)))
            == "linux.resources.cpu.realtimeRuntime: real-time CPU limits are not supported on cgroup v2")
        #expect(planError(LinuxResources(cpu: LinuxCPU(realtimePeriod: 1_000_000)))
            == "linux.resources.cpu.realtimePeriod: real-time CPU limits are not supported on cgroup v2")
        #expect(try writeList(LinuxResources(cpu: LinuxCPU(realtimeRuntime: 0, realtimePeriod: 0))) == [])
    }
}

@Suite struct PidsMappingTests {
    @Test func pidsLimitWritesPidsMax() throws {
        #expect(try writeList(LinuxResources(pids: LinuxPids(limit: 16))) == ["pids.max=16"])
    }

    @Test(arguments: [Int64(-1), -100])
    func pidsLimitNegativeWritesMax(limit: Int64) throws {
        #expect(try writeList(LinuxResources(pids: LinuxPids(limit: limit))) == ["pids.max=max"])
    }

    /// runc 1.5 (opencontainers/cgroups fs2/pids.go): 0 becomes 1, as systemd's TasksMax.
    @Test func pidsLimitZeroWritesOne() throws {
        #expect(try writeList(LinuxResources(pids: LinuxPids(limit: 0))) == ["pids.max=1"])
    }
}
