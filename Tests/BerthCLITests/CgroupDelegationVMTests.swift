import Foundation
import Glibc
import TestSupport
import Testing

/// cgroup v2 delegation as runc does it: a container without limits still gets every controller
/// the host offers, so it can create and delegate sub-groups of its own (systemd inside, a
/// nested runtime), and `events` has its memory figures. Runs only in the VM
/// (`BERTH_VM_FILTER='CgroupDelegationVMTests' scripts/test-vm.sh`).
@Suite(.cgroupV2, .timeLimit(.minutes(5)))
struct CgroupDelegationVMTests {
    /// The host root's cgroup.controllers, as a set.
    static func rootControllers() throws -> Set<String> {
        let text = try String(contentsOfFile: "/sys/fs/cgroup/cgroup.controllers", encoding: .utf8)
        return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    /// `berth spec` with a cgroup namespace and /sys/fs/cgroup mounted read-write.
    static func bundle(_ s: BerthSandbox, _ script: String) async throws -> TestBundle {
        try await s.bundle(["sh", "-c", script]) { config in
            var mounts = config["mounts"] as? [[String: Any]] ?? []
            for index in mounts.indices where mounts[index]["destination"] as? String == "/sys/fs/cgroup" {
                mounts[index]["options"] = ["nosuid", "noexec", "nodev", "relatime"]
            }
            config["mounts"] = mounts
            config.removeNamespace("cgroup")
            config["linux.namespaces"] = (config["linux.namespaces"] as? [[String: Any]] ?? []) + [["type": "cgroup"]]
        }
    }

    /// Inside, /sys/fs/cgroup lists every controller, `+pids` (threaded) can be handed down
    /// while the shell is in the cgroup, `+memory` (domain) cannot (the kernel's
    /// no-internal-processes rule; runc's containers get the same), and can once the shell
    /// moved to a sub-group, as systemd does. The sub-groups go with the container (the
    /// sandbox's leftover check).
    @Test func aContainerWithoutLimitsGetsEveryControllerAndDelegatesThem() async throws {
        try await withBerthSandbox { s in
            let script = """
            cd /sys/fs/cgroup
            cat cgroup.controllers
            echo +pids > cgroup.subtree_control && echo pids-ok
            echo -pids > cgroup.subtree_control
            echo +memory > cgroup.subtree_control 2>/dev/null || echo memory-busy
            mkdir init.scope && echo $$ > init.scope/cgroup.procs
            echo '+memory +pids' > cgroup.subtree_control && echo memory-ok
            mkdir -p nested/deeper && cat nested/cgroup.controllers
            """
            let bundle = try await Self.bundle(s, script)
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            try #require(run.succeeded, "\(run)")
            let lines = run.stdout.split(separator: "\n").map(String.init)
            try #require(lines.count == 5, "\(run)")
            #expect(Set(lines[0].split(separator: " ").map(String.init)) == (try Self.rootControllers()), "\(run)")
            #expect(Array(lines[1...3]) == ["pids-ok", "memory-busy", "memory-ok"], "\(run)")
            #expect(Set(lines[4].split(separator: " ").map(String.init)) == ["memory", "pids"], "\(run)")
        }
    }

    /// Sub-groups three deep, as systemd or a nested runtime makes them, with a process in the
    /// deepest; the shell moves to init.scope first (no internal processes).
    static let nestingScript = """
        cd /sys/fs/cgroup
        mkdir init.scope && echo $$ > init.scope/cgroup.procs
        echo '+pids +memory' > cgroup.subtree_control
        mkdir -p work/a/b && echo +pids > work/cgroup.subtree_control && echo +pids > work/a/cgroup.subtree_control
        sh -c 'echo $$ > /sys/fs/cgroup/work/a/b/cgroup.procs; exec sleep 1000' &
        exec sleep 1000
        """

    /// Waits until the container's deepest sub-group holds its process; returns that pid.
    static func deepestProcess(_ s: BerthSandbox, _ id: String) async throws -> Int32 {
        let procs = try #require(s.cgroupDirectory(id)) + "/work/a/b/cgroup.procs"
        var pid: Int32?
        _ = await eventually {
            pid = (try? String(contentsOfFile: procs, encoding: .utf8)).flatMap { Int32($0.split(separator: "\n").first ?? "") }
            return pid != nil
        }
        return try #require(pid, "no process in \(procs)")
    }

    /// Gone, or a zombie that its new parent has yet to reap.
    static func ended(_ pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return true }
        return status.contains("State:\tZ")
    }

    /// runc removes the container's cgroup with the sub-groups it made, deepest first, killing
    /// what still runs in them (measured in this VM: runc 1.1.5 `delete --force` leaves no
    /// directory). A running container, with its own pid namespace, under `delete --force`.
    @Test func deleteForceRemovesSubgroupsTheContainerMadeWithTheirProcesses() async throws {
        try await withBerthSandbox { s in
            let bundle = try await Self.bundle(s, Self.nestingScript)
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let deepest = try await Self.deepestProcess(s, id)
            let delete = try await s.berth("delete", "--force", id)
            #expect(delete.succeeded, "\(delete)")
            let cgroup = try #require(s.cgroupDirectory(id))
            #expect(!FileManager.default.fileExists(atPath: cgroup), "\(cgroup) is left")
            #expect(await eventually { Self.ended(deepest) }, "the process in work/a/b should be gone")
        }
    }

    /// Without a pid namespace of its own, the process in the deepest sub-group outlives the
    /// init: the container is stopped, and a plain `delete` kills it and removes every group
    /// (runc kills what is left of a stopped container that shares the host's pid namespace).
    @Test func deleteOfAStoppedContainerKillsWhatItsSubgroupsStillRunAndRemovesThem() async throws {
        try await withBerthSandbox { s in
            let bundle = try await Self.bundle(s, Self.nestingScript)
            var config = try bundle.config()
            config.removeNamespace("pid")
            try bundle.save(config)
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let deepest = try await Self.deepestProcess(s, id)
            let initPid = try #require(try await s.state(id)?["pid"] as? Int)
            #expect(kill(pid_t(initPid), SIGKILL) == 0)
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(kill(deepest, 0) == 0, "the sub-group's process should outlive the init")
            let delete = try await s.berth("delete", id)
            #expect(delete.succeeded, "\(delete)")
            let cgroup = try #require(s.cgroupDirectory(id))
            #expect(!FileManager.default.fileExists(atPath: cgroup), "\(cgroup) is left")
            #expect(await eventually { Self.ended(deepest) }, "the process in work/a/b should be gone")
        }
    }

    /// `events --stats` of a container that asked for no limit has its memory and pids figures.
    @Test func eventsReportMemoryAndPidsWithoutLimits() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "30"])
            let id = s.newID()
            let run = try await s.berth("run", "--detach", "--bundle", bundle.path, id)
            try #require(run.succeeded, "\(run)")
            let events = try await s.berth("events", "--stats", id)
            try #require(events.succeeded, "\(events)")
            let line = try #require(try JSONSerialization.jsonObject(with: Data(events.stdout.utf8)) as? [String: Any], "\(events)")
            let data = try #require(line["data"] as? [String: Any], "\(events)")
            let usage = ((data["memory"] as? [String: Any])?["usage"] as? [String: Any])?["usage"] as? NSNumber
            #expect((usage?.intValue ?? 0) > 0, "\(events)")
            #expect(((data["pids"] as? [String: Any])?["current"] as? NSNumber)?.intValue == 1, "\(events)")
            _ = try await s.berth("delete", "--force", id)
        }
    }
}
