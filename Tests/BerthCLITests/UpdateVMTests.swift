import Foundation
import Glibc
import TestSupport
import Testing

/// `berth update` with one half of a two-value setting keeps the other half (issue 22), read
/// back from the container's cgroup files. Needs the VM's cpu and memory controllers
/// (`BERTH_VM_FILTER='UpdateVMTests' scripts/test-vm.sh`).
@Suite(.cgroupV2, .serialized, .timeLimit(.minutes(5)))
struct UpdateVMTests {
    static func file(_ s: BerthSandbox, _ id: String, _ name: String) throws -> String {
        let directory = try #require(s.cgroupDirectory(id))
        return try String(contentsOfFile: directory + "/" + name, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func startSleeper(_ s: BerthSandbox, resources: [String: Any]) async throws -> String {
        let bundle = try await s.bundle(["sleep", "1000"]) { config in
            for (key, value) in resources { config["linux.resources." + key] = value }
        }
        let id = s.newID()
        let run = try await s.berth("run", "--detach", "--bundle", bundle.path, id)
        try #require(run.succeeded, "\(run)")
        return id
    }

    @Test func eachHalfOfCpuMaxKeepsTheOther() async throws {
        try await withBerthSandbox { s in
            let id = try await Self.startSleeper(s, resources: ["cpu": ["quota": 500_000, "period": 100_000]])
            #expect(try Self.file(s, id, "cpu.max") == "500000 100000")
            #expect(try await s.berth("update", "--cpu-period", "900000", id).succeeded)
            #expect(try Self.file(s, id, "cpu.max") == "500000 900000")
            #expect(try await s.berth("update", "--cpu-quota", "300000", id).succeeded)
            #expect(try Self.file(s, id, "cpu.max") == "300000 900000")
            #expect(try await s.berth("update", "--cpu-quota", "-1", id).succeeded)
            #expect(try Self.file(s, id, "cpu.max") == "max 900000")
            #expect(try await s.berth("update", "--cpu-period", "200000", id).succeeded)
            #expect(try Self.file(s, id, "cpu.max") == "max 200000")
            // Other flags leave cpu.max alone.
            #expect(try await s.berth("update", "--cpu-share", "2048", "--pids-limit", "50", id).succeeded)
            #expect(try Self.file(s, id, "cpu.max") == "max 200000")
            #expect(try Self.file(s, id, "pids.max") == "50")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    /// runc 1.1's --cpu-burst and --cpu-idle: cpu.max.burst beside the quota, and cpu.idle.
    @Test func cpuBurstAndIdleFlagsWriteTheirFiles() async throws {
        try await withBerthSandbox { s in
            let id = try await Self.startSleeper(s, resources: ["cpu": ["quota": 50_000, "period": 100_000]])
            #expect(try await s.berth("update", "--cpu-burst", "20000", id).succeeded)
            #expect(try Self.file(s, id, "cpu.max.burst") == "20000")
            #expect(try Self.file(s, id, "cpu.max") == "50000 100000")
            #expect(try await s.berth("update", "--cpu-idle", "1", id).succeeded)
            #expect(try Self.file(s, id, "cpu.idle") == "1")
            #expect(try await s.berth("update", "--cpu-idle", "0", id).succeeded)
            #expect(try Self.file(s, id, "cpu.idle") == "0")
            let refused = try await s.berth("update", "--cpu-idle", "2", id)
            #expect(refused.status == 1 && refused.errorLine == "berth: flag --cpu-idle: \"2\" is neither 0 nor 1", "\(refused)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    /// runc 1.5: `pids.limit` 0 is pids.max 1, on create and on update; -1 is max.
    @Test func pidsLimitZeroWritesOneOnCreateAndUpdate() async throws {
        try await withBerthSandbox { s in
            let id = try await Self.startSleeper(s, resources: ["pids": ["limit": 0]])
            #expect(try Self.file(s, id, "pids.max") == "1")
            #expect(try await s.berth("update", "--pids-limit", "-1", id).succeeded)
            #expect(try Self.file(s, id, "pids.max") == "max")
            #expect(try await s.berth("update", "--pids-limit", "0", id).succeeded)
            #expect(try Self.file(s, id, "pids.max") == "1")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    /// An init that moved into a sub-cgroup and handed it controllers (as systemd inside does)
    /// leaves the container's cgroup unable to hold a process: exec follows the init there, as
    /// runc does, unless --cgroup names a sub-cgroup.
    @Test func execFollowsAnInitThatMovedIntoASubCgroup() async throws {
        try await withBerthSandbox { s in
            let id = try await Self.startSleeper(s, resources: ["pids": ["limit": 100]])
            let directory = try #require(s.cgroupDirectory(id))
            let pid = try #require(try await s.state(id)?["pid"] as? Int)
            for sub in ["init", "other"] { try FileManager.default.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: false) }
            try "\(pid)".write(toFile: directory + "/init/cgroup.procs", atomically: false, encoding: .utf8)
            try "+pids".write(toFile: directory + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
            let followed = try await s.berth("exec", id, "cat", "/proc/self/cgroup")
            #expect(followed.succeeded && followed.lines.contains { $0.hasPrefix("0::/") && $0.hasSuffix("/init") }, "\(followed)")
            let named = try await s.berth("exec", "--cgroup", "pids:other", id, "cat", "/proc/self/cgroup")
            #expect(named.succeeded && named.lines.contains { $0.hasPrefix("0::/") && $0.hasSuffix("/other") }, "\(named)")
            // berth removes the cgroups it made, not those made in it: emptied and removed here.
            #expect(try await s.berth("kill", id, "KILL").succeeded)
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(await eventually { ["init", "other"].allSatisfy { rmdir(directory + "/" + $0) == 0 || errno == ENOENT } })
            #expect(try await s.berth("delete", id).succeeded)
        }
    }

    /// checkBeforeUpdate in runc's words, and a limit above the usage still passes.
    @Test func checkBeforeUpdateRefusesALimitAtOrBelowTheUsage() async throws {
        try await withBerthSandbox { s in
            let id = try await Self.startSleeper(s, resources: ["memory": ["limit": 64 << 20]])
            let resources = s.directory.path + "/check-\(id).json"
            try Data(#"{"memory": {"limit": 4096, "checkBeforeUpdate": true}}"#.utf8).write(to: URL(fileURLWithPath: resources))
            let refused = try await s.berth("update", "--resources", resources, id)
            #expect(!refused.succeeded)
            #expect(refused.stderr.contains("linux.resources.memory.limit: rejecting memory limit 4096 <= usage "), "\(refused)")
            #expect(try Self.file(s, id, "memory.max") == String(64 << 20))
            try Data(#"{"memory": {"limit": 48000000, "checkBeforeUpdate": true}}"#.utf8).write(to: URL(fileURLWithPath: resources))
            let passed = try await s.berth("update", "--resources", resources, id)
            #expect(passed.succeeded, "\(passed)")
            #expect(try Self.file(s, id, "memory.max") == "47996928")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test func memorySwapAloneIsRelativeToTheCurrentMemoryLimit() async throws {
        try await withBerthSandbox { s in
            let id = try await Self.startSleeper(s, resources: ["memory": ["limit": 32 << 20, "swap": 64 << 20]])
            #expect(try Self.file(s, id, "memory.swap.max") == String(32 << 20))
            let swap = try await s.berth("update", "--memory-swap", "96m", id)
            #expect(swap.succeeded, "\(swap)")
            #expect(try Self.file(s, id, "memory.max") == String(32 << 20))
            #expect(try Self.file(s, id, "memory.swap.max") == String(64 << 20))
            // A memory limit alone keeps the swap amount.
            #expect(try await s.berth("update", "--memory", "48m", id).succeeded)
            #expect(try Self.file(s, id, "memory.max") == String(48 << 20))
            #expect(try Self.file(s, id, "memory.swap.max") == String(64 << 20))
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }
}
