import BerthCore
import Cgroup2
import Linux
import OCI
import Testing

/// `update` keeps what it does not name, in files that hold two settings (issue 22).
@Suite struct UpdateCompletionTests {
    static let current = CgroupResources.CurrentLimits(cpuMax: "500000 200000\n", memoryMax: "268435456\n")

    static func writes(_ update: LinuxResources, _ current: CgroupResources.CurrentLimits = current) throws -> [String] {
        try writeList(CgroupResources.completing(update, current: current))
    }

    @Test func periodAloneKeepsTheQuota() throws {
        #expect(try Self.writes(LinuxResources(cpu: LinuxCPU(period: 900_000))) == ["cpu.max=500000 900000"])
        #expect(try Self.writes(LinuxResources(cpu: LinuxCPU(period: 900_000)), .init(cpuMax: "max 100000\n")) == ["cpu.max=max 900000"])
    }

    @Test func quotaAloneKeepsThePeriod() throws {
        #expect(try Self.writes(LinuxResources(cpu: LinuxCPU(quota: 300_000))) == ["cpu.max=300000 200000"])
        #expect(try Self.writes(LinuxResources(cpu: LinuxCPU(quota: -1))) == ["cpu.max=max 200000"])
    }

    @Test func bothHalvesOrNeitherUseOnlyTheUpdate() throws {
        #expect(try Self.writes(LinuxResources(cpu: LinuxCPU(quota: 20_000, period: 50_000))) == ["cpu.max=20000 50000"])
        #expect(try Self.writes(LinuxResources(cpu: LinuxCPU(shares: 1024))) == ["cpu.weight=100"])
        #expect(try Self.writes(LinuxResources(cpu: LinuxCPU(quota: 0, period: 0, cpus: "0"))) == ["cpuset.cpus=0"])
    }

    @Test func anUnreadableCpuMaxLeavesThePlanAsItWas() throws {
        #expect(try Self.writes(LinuxResources(cpu: LinuxCPU(period: 900_000)), .init()) == ["cpu.max=max 900000"])
        #expect(try Self.writes(LinuxResources(cpu: LinuxCPU(period: 900_000)), .init(cpuMax: "garbage")) == ["cpu.max=max 900000"])
    }

    @Test func swapAloneIsRelativeToTheCurrentMemoryLimit() throws {
        // 256 MiB now: a memory+swap of 384 MiB leaves 128 MiB of swap.
        #expect(try Self.writes(LinuxResources(memory: LinuxMemory(swap: 402_653_184)))
            == ["memory.swap.max=134217728", "memory.max=268435456"])
        #expect(try Self.writes(LinuxResources(memory: LinuxMemory(swap: -1))) == ["memory.swap.max=max"])
        let unlimited = CgroupResources.CurrentLimits(memoryMax: "max\n")
        #expect(throws: BerthError.self) { try Self.writes(LinuxResources(memory: LinuxMemory(swap: 402_653_184)), unlimited) }
    }

    @Test func memoryAloneLeavesSwapAlone() throws {
        #expect(try Self.writes(LinuxResources(memory: LinuxMemory(limit: 536_870_912))) == ["memory.max=536870912"])
        #expect(try Self.writes(LinuxResources(memory: LinuxMemory(reservation: 1 << 20))) == ["memory.low=1048576"])
    }
}
