import BerthCore
import Glibc
import Linux
import OCI
@testable import Runtime
import TestSupport
import Testing

/// process.scheduler, process.ioPriority, linux.personality and process.execCPUAffinity: their
/// checks, the values the kernel gets, and where the init sets them.
@Suite struct ProcessAttributesTests {
    /// Checked by LaunchPlanTests.configIsRefusedNamingTheField.
    static let refused: [RefusedConfig] = [
        RefusedConfig("SCHED_ISO", "process.scheduler.policy:") { $0.process?.scheduler = Scheduler(policy: .iso) },
        RefusedConfig("nice above 19", "process.scheduler.nice:") { $0.process?.scheduler = Scheduler(policy: .batch, nice: 20) },
        RefusedConfig("priority for SCHED_OTHER", "process.scheduler.priority:") { $0.process?.scheduler = Scheduler(policy: .other, priority: 5) },
        RefusedConfig("SCHED_FIFO without a priority", "process.scheduler.priority:") { $0.process?.scheduler = Scheduler(policy: .fifo) },
        RefusedConfig("SCHED_RR priority 100", "process.scheduler.priority:") { $0.process?.scheduler = Scheduler(policy: .roundRobin, priority: 100) },
        RefusedConfig("runtime for SCHED_OTHER", "process.scheduler:") { $0.process?.scheduler = Scheduler(policy: .other, runtime: 1_000_000) },
        RefusedConfig("deadline runtime below 1024 ns", "process.scheduler.runtime:") {
            $0.process?.scheduler = Scheduler(policy: .deadline, runtime: 100, deadline: 1_000_000)
        },
        RefusedConfig("deadline shorter than runtime", "process.scheduler.deadline:") {
            $0.process?.scheduler = Scheduler(policy: .deadline, runtime: 2_000_000, deadline: 1_000_000)
        },
        RefusedConfig("period shorter than deadline", "process.scheduler.period:") {
            $0.process?.scheduler = Scheduler(policy: .deadline, runtime: 1_000_000, deadline: 2_000_000, period: 1_500_000)
        },
        RefusedConfig("I/O priority level 8", "process.ioPriority.priority:") { $0.process?.ioPriority = IOPriority(class: .bestEffort, priority: 8) },
        RefusedConfig("I/O priority level -1", "process.ioPriority.priority:") { $0.process?.ioPriority = IOPriority(class: .idle, priority: -1) },
        RefusedConfig("a CPU list with a word", "process.execCPUAffinity.initial:") { $0.process?.execCPUAffinity = CPUAffinity(initial: "0-x") },
        RefusedConfig("a reversed CPU range", "process.execCPUAffinity.final:") { $0.process?.execCPUAffinity = CPUAffinity(final: "3-1") },
        RefusedConfig("a CPU past runc's limit", "process.execCPUAffinity.final:") { $0.process?.execCPUAffinity = CPUAffinity(final: "65536") },
    ]

    @Test func theSchedulerBecomesSchedAttrFields() throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        spec.process?.scheduler = Scheduler(policy: .deadline, flags: [.resetOnFork, .reclaim], runtime: 10_000_000, deadline: 20_000_000, period: 30_000_000)
        #expect(try fixture.plan(spec).process.scheduler == SchedulerAttributes(policy: 6, flags: 0x3, runtime: 10_000_000, deadline: 20_000_000, period: 30_000_000))
        spec.process?.scheduler = Scheduler(policy: .batch, nice: -5)
        #expect(try fixture.plan(spec).process.scheduler == SchedulerAttributes(policy: 3, nice: -5))
        spec.process?.scheduler = Scheduler(policy: .roundRobin, priority: 99, flags: [.utilClampMax])
        #expect(try fixture.plan(spec).process.scheduler == SchedulerAttributes(policy: 2, flags: 0x40, priority: 99))
    }

    @Test(arguments: [(IOPriorityClass.realtime, 0, 1 << 13), (.bestEffort, 7, 2 << 13 | 7), (.idle, 0, 3 << 13)])
    func theIOPriorityIsClassAboveLevel(_ ioClass: IOPriorityClass, _ level: Int, _ value: Int32) throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        spec.process?.ioPriority = IOPriority(class: ioClass, priority: level)
        #expect(try fixture.plan(spec).process.ioPriority == value)
    }

    @Test func personalityDomainsArePerLinuxAndPerLinux32() throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        #expect(try fixture.plan(spec).personality == nil)
        spec.linux?.personality = LinuxPersonality(domain: .linux32)
        #expect(try fixture.plan(spec).personality == 0x0008)
        spec.linux?.personality = LinuxPersonality(domain: .linux)
        #expect(try fixture.plan(spec).personality == 0)
    }

    @Test func cpuListsTakeRuncsGrammar() throws {
        let fixture = try PlanFixture()
        var spec = fixture.spec()
        spec.process?.execCPUAffinity = CPUAffinity(initial: " 0-2, ,7 ,", final: "64")
        let affinity = try fixture.plan(spec).process.cpuAffinity
        #expect(affinity.initial == [0b1000_0111])
        #expect(affinity.final == [0, 1])
        spec.process?.execCPUAffinity = CPUAffinity(initial: "", final: nil)
        #expect(try fixture.plan(spec).process.cpuAffinity == LaunchPlan.ProcessPlan.Affinity())
    }

    /// runc's order: rootfs done, then scheduler, I/O priority, personality and memory policy,
    /// all before the process's identity; the inherited affinity is reset first thing.
    @Test func theInitSetsThemAfterTheRootfsAndBeforeTheIdentity() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { spec in
            spec.process?.scheduler = Scheduler(policy: .batch, nice: 7)
            spec.process?.ioPriority = IOPriority(class: .idle, priority: 0)
            spec.process?.execCPUAffinity = CPUAffinity(initial: "1", final: "1")
            spec.linux?.personality = LinuxPersonality(domain: .linux32)
            spec.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_LOCAL")
        }
        let calls = try InitOrderTests.calls(plan)
        let names = calls.map(\.name)
        let reset = try #require(names.firstIndex(of: "sched_setaffinity"))
        #expect(calls[reset].arguments == ["all"], "the exec affinity is not the init's: \(calls[reset])")
        #expect(names.filter { $0 == "sched_setaffinity" }.count == 1)
        let firstMount = try #require(names.firstIndex(of: "mount"))
        #expect(reset < firstMount)
        let pivot = try #require(names.firstIndex(of: "pivot_root"))
        let scheduler = try #require(names.firstIndex(of: "sched_setattr"))
        #expect(calls[scheduler].arguments.prefix(3) == ["SCHED_BATCH", "flags=0", "nice=7"])
        #expect(Array(names[scheduler...(scheduler + 3)]) == ["sched_setattr", "ioprio_set", "personality", "set_mempolicy"])
        #expect(calls[scheduler + 1].arguments == ["class=3", "level=0"])
        #expect(calls[scheduler + 2].arguments == ["0x8"])
        let ready = try #require(InitOrderTests.firstIndex(calls, "prctl", "PR_SET_PDEATHSIG", "0"))
        let setuid = try #require(names.firstIndex(of: "setresuid"))
        #expect(pivot < scheduler && scheduler < ready && ready < setuid)
    }

    @Test func aFailedSchedulerCallNamesTheField() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { $0.process?.scheduler = Scheduler(policy: .fifo, priority: 10) }
        let kernel = InitOrderTests.kernel()
        kernel.fail("sched_setattr", errno: EPERM)
        let error = try InitOrderTests.run(plan, kernel)
        #expect(error.description == "process.scheduler: sched_setattr: operation not permitted")
        #expect(kernel.index(of: "execve") == nil)
    }

    @Test func aFailedAffinityResetDoesNotStopTheInit() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture)
        let kernel = InitOrderTests.kernel()
        kernel.fail("sched_setaffinity", errno: EINVAL)
        let error = try InitOrderTests.run(plan, kernel)
        #expect(error.message == RecordingKernel.execMessage, "\(error)")
    }

    @Test func execsFinalAffinityOrAResetWhenNoneIsConfigured() throws {
        for (affinity, expected) in [(CPUAffinity(initial: "0", final: "1"), ["1"]), (CPUAffinity(initial: "0"), []), (nil, ["all"])] as [(CPUAffinity?, [String])] {
            let fixture = try PlanFixture()
            var spec = fixture.spec()
            spec.process?.execCPUAffinity = affinity
            let kernel = RecordingKernel()
            try fixture.plan(spec).process.cpuAffinity.applyFinal(kernel)
            #expect(kernel.calls("sched_setaffinity").map { $0.arguments[0] } == expected, "\(String(describing: affinity))")
        }
    }
}
