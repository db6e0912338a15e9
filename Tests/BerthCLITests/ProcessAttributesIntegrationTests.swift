import Foundation
import Glibc
import TestSupport
import Testing

/// process.scheduler, process.ioPriority, linux.personality and process.execCPUAffinity, seen
/// from inside the container: /proc/self/stat and /proc/self/sched, ionice, `uname -m`,
/// Cpus_allowed_list. Runs on the host and in the VM.
@Suite(.timeLimit(.minutes(5)))
struct ProcessAttributesIntegrationTests {
    /// nice (field 19), rt_priority (40) and policy (41) of /proc/self/stat; `exec` keeps
    /// the process the one whose attributes the init set.
    static let statFields = "exec cut -d' ' -f19,40,41 /proc/self/stat"

    @Test func theInitRunsWithItsSchedulerIOPriorityAndPersonality() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "ionice; uname -m; \(Self.statFields)"]) {
                $0["process.scheduler"] = ["policy": "SCHED_BATCH", "nice": 5]
                $0["process.ioPriority"] = ["class": "IOPRIO_CLASS_IDLE", "priority": 0]
                $0["linux.personality"] = ["domain": "LINUX32"]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == ["idle", "i686", "5 0 3"], "\(run)")
        }
    }

    @Test func realtimeAndDeadlinePoliciesReachTheProcess() async throws {
        try await withBerthSandbox { s in
            let fifo = try await s.foreignBundle(.runc, ["sh", "-c", "ionice; \(Self.statFields)"]) {
                $0["process.scheduler"] = ["policy": "SCHED_FIFO", "priority": 10]
                $0["process.ioPriority"] = ["class": "IOPRIO_CLASS_RT", "priority": 3]
            }
            let run = try await s.berth("run", "--bundle", fifo.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == ["realtime: prio 3", "0 10 1"], "\(run)")
            // A deadline task may fork only with SCHED_FLAG_RESET_ON_FORK: no shell here.
            let deadline = try await s.foreignBundle(.runc, ["cat", "/proc/self/sched"]) {
                $0["process.scheduler"] = ["policy": "SCHED_DEADLINE", "runtime": 1_000_000, "deadline": 10_000_000, "period": 10_000_000]
            }
            let dl = try await s.berth("run", "--bundle", deadline.path, s.newID())
            #expect(dl.status == 0, "\(dl)")
            let fields = dl.lines.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
            #expect(fields.contains { $0.first == "policy" && $0.last == "6" }, "\(dl)")
            // What is left of this period's runtime: at most the configured 1 ms.
            let left = fields.first { $0.first == "dl.runtime" }.flatMap { $0.last.flatMap { Int($0) } }
            #expect(left.map { $0 <= 1_000_000 } == true, "\(dl)")
        }
    }

    @Test(arguments: [
        (["policy": "SCHED_FIFO", "priority": 0], "process.scheduler.priority: "),
        (["policy": "SCHED_OTHER", "nice": 40], "process.scheduler.nice: "),
        (["policy": "SCHED_LATER"], "process.scheduler.policy: "),
    ] as [([String: any Sendable], String)])
    func aBadSchedulerIsOneLineNamingItsPath(_ scheduler: [String: any Sendable], _ path: String) async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"]) { $0["process.scheduler"] = scheduler }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status != 0 && run.errorLine.contains(": \(path)"), "\(run)")
            #expect(!run.stderr.trimmingCharacters(in: .newlines).contains("\n"), "\(run)")
        }
    }

    @Test func aBadIOPriorityIsOneLineNamingItsPath() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"]) { $0["process.ioPriority"] = ["class": "IOPRIO_CLASS_BE", "priority": 8] }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status != 0 && run.errorLine.contains(": process.ioPriority.priority: 8 is outside 0...7"), "\(run)")
            let domain = try await s.foreignBundle(.runc, ["true"]) { $0["linux.personality"] = ["domain": "LINUX64"] }
            let refused = try await s.berth("run", "--bundle", domain.path, s.newID())
            #expect(refused.status != 0 && refused.errorLine.contains(": linux.personality.domain: "), "\(refused)")
        }
    }

    /// exec takes the container's scheduler, I/O priority, personality and memory policy, and a
    /// process.json's own scheduler and I/O priority over them, as runc's exec does.
    @Test func execTakesTheContainersAttributesOrItsOwn() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sleep", "1000"]) {
                $0["process.scheduler"] = ["policy": "SCHED_BATCH", "nice": 5]
                $0["process.ioPriority"] = ["class": "IOPRIO_CLASS_IDLE", "priority": 0]
                $0["linux.personality"] = ["domain": "LINUX32"]
                $0["linux.memoryPolicy"] = ["mode": "MPOL_LOCAL"]
            }
            let id = s.newID()
            let run = try await s.berth("run", "--detach", "--bundle", bundle.path, id)
            try #require(run.succeeded, "\(run)")
            let inherited = try await s.berth("exec", id, "sh", "-c", "ionice; uname -m; grep -c ' local ' /proc/self/numa_maps >/dev/null && echo local; \(Self.statFields)")
            #expect(inherited.lines == ["idle", "i686", "local", "5 0 3"], "\(inherited)")
            let processFile = s.directory.path + "/process.json"
            let process: [String: Any] = ["args": ["sh", "-c", "ionice; \(Self.statFields)"], "cwd": "/", "user": ["uid": 0, "gid": 0],
                                          "env": ["PATH=/bin:/usr/bin", s.marker],
                                          "scheduler": ["policy": "SCHED_OTHER", "nice": -3], "ioPriority": ["class": "IOPRIO_CLASS_BE", "priority": 6]]
            try JSONSerialization.data(withJSONObject: process).write(to: URL(fileURLWithPath: processFile))
            let own = try await s.berth("exec", "--process", processFile, id)
            #expect(own.lines == ["best-effort: prio 6", "-3 0 0"], "\(own)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }
}

/// CPU affinity: an inherited one is reset for the init and for exec, as runc resets it, and
/// process.execCPUAffinity gives exec its initial and final masks. Needs two CPUs.
@Suite(.timeLimit(.minutes(5)))
struct CPUAffinityIntegrationTests {
    static let allowed = "exec grep Cpus_allowed_list /proc/self/status"

    /// `taskset -c 0 berth ARGS`, waited for.
    static func pinned(_ s: BerthSandbox, _ arguments: [String]) async throws -> CommandResult {
        let process = try SpawnedProcess("/usr/bin/taskset", ["-c", "0", s.berthPath, "--root", s.stateRoot] + arguments,
                                         environment: ["PATH=/usr/bin:/bin", s.marker],
                                         stdoutPath: s.directory.path + "/pinned-\(s.newID()).out", stderrPath: s.directory.path + "/pinned-\(s.newID()).err")
        return await process.wait()
    }

    /// What this test process may run on (never pinned), as the container should see it.
    static func ownAllowedList() throws -> String {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        return try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list") }.map(String.init))
    }

    @Test func anInheritedAffinityIsResetForTheInitAndForExec() async throws {
        let own = try Self.ownAllowedList()
        try #require(own != "Cpus_allowed_list:\t0", "needs more than CPU 0")
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", Self.allowed])
            let run = try await Self.pinned(s, ["run", "--bundle", bundle.path, s.newID()])
            #expect(run.status == 0 && run.lines == [own], "\(run)")

            let sleeper = try await s.foreignBundle(.runc, ["sleep", "1000"])
            let id = s.newID()
            let started = try await s.berth("run", "--detach", "--bundle", sleeper.path, id)
            try #require(started.succeeded, "\(started)")
            let exec = try await Self.pinned(s, ["exec", id, "sh", "-c", Self.allowed])
            #expect(exec.status == 0 && exec.lines == [own], "\(exec)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test func execRunsOnTheFinalCPUsOrStaysOnTheInitialOnes() async throws {
        try #require(try Self.ownAllowedList() != "Cpus_allowed_list:\t0", "needs more than CPU 0")
        try await withBerthSandbox { s in
            for (affinity, expected) in [(["initial": "0", "final": "1"], "1"), (["initial": "1"], "1"), (["initial": "1", "final": "0"], "0")] {
                let sleeper = try await s.foreignBundle(.runc, ["sleep", "1000"]) { $0["process.execCPUAffinity"] = affinity }
                let id = s.newID()
                let started = try await s.berth("run", "--detach", "--bundle", sleeper.path, id)
                try #require(started.succeeded, "\(started)")
                let exec = try await s.berth("exec", id, "sh", "-c", Self.allowed)
                // Without `final` the kernel decides (runtime-spec): joining a cgroup with the
                // cpuset controller, as every container's has on a cgroup v2 host (delegated as
                // runc does), sets the cpuset's CPUs.
                let cpuset = s.cgroupDirectory(id).flatMap { try? String(contentsOfFile: $0 + "/cpuset.cpus.effective", encoding: .utf8) }
                let settled = affinity["final"] == nil ? cpuset?.trimmingCharacters(in: .whitespacesAndNewlines) ?? expected : expected
                #expect(exec.status == 0 && exec.lines == ["Cpus_allowed_list:\t\(settled)"], "\(affinity): \(exec)")
                #expect(try await s.berth("delete", "--force", id).succeeded)
            }
            let bad = try await s.foreignBundle(.runc, ["true"]) { $0["process.execCPUAffinity"] = ["final": "1-0"] }
            let refused = try await s.berth("run", "--bundle", bad.path, s.newID())
            #expect(refused.status != 0 && refused.errorLine.contains(": process.execCPUAffinity.final: \"1-0\""), "\(refused)")
        }
    }
}

/// linux.intelRdt on a host without resctrl (this one and the VM): refused in one line naming
/// the field and the missing mount, with nothing left behind (the sandbox checks).
@Suite(.timeLimit(.minutes(5)))
struct IntelRdtIntegrationTests {
    @Test func intelRdtIsRefusedWhereResctrlIsNotMounted() async throws {
        try #require(!FileManager.default.fileExists(atPath: "/sys/fs/resctrl/schemata"), "this host has resctrl mounted")
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"]) { $0["linux.intelRdt"] = ["closID": "gold", "l3CacheSchema": "L3:0=f"] }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status != 0 && run.errorLine.hasSuffix(": linux.intelRdt: resctrl is not mounted at /sys/fs/resctrl (the kernel or the CPU has no Intel RDT)"), "\(run)")
            #expect(!run.stderr.trimmingCharacters(in: .newlines).contains("\n"), "\(run)")
        }
    }
}
