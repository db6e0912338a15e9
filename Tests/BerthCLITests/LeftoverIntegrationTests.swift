import Foundation
import Glibc
import TestSupport
import Testing

/// What a `berth create` killed halfway leaves, and that `delete --force` clears it. Runs on the
/// host and in the VM.
@Suite(.timeLimit(.minutes(5)))
struct LeftoverIntegrationTests {
    @Test func createKilledWhileItsHookRunsIsClearedByForceDelete() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            // The hook says where it is, then sleeps: berth waits for it with the container
            // half made (state directory, cgroup, init waiting for the hooks to finish).
            try bundle.write("wait.sh", "#!/bin/sh\necho $$ > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\nexec sleep 100\n", mode: 0o755)
            var config = try bundle.config()
            let hookPidFile = bundle.path + "/hook.pid"
            config.addHook("createRuntime", path: bundle.path + "/wait.sh", args: ["wait.sh", hookPidFile],
                           env: ["PATH=/usr/bin:/bin", s.marker])
            try bundle.save(config)
            let id = s.newID()

            let create = try s.spawnBerth(["create", "--bundle", bundle.path, id])
            let hookStarted = await eventually { bundle.exists("hook.pid") || create.poll() }
            let hookPidText = (bundle.read("hook.pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            defer { if let pid = pid_t(hookPidText) { kill(pid, SIGKILL) } }
            guard hookStarted, !create.poll(), let hookPid = pid_t(hookPidText) else {
                create.kill()
                Issue.record("the createRuntime hook never ran: \(await create.wait())")
                return
            }
            #expect(FileManager.default.fileExists(atPath: s.stateRoot + "/" + id), "no state directory while create runs")
            // The init is the one process in the container's cgroup (the hook is berth's child).
            let cgroup = try #require(s.cgroupDirectory(id))
            let procs = (try? String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)) ?? ""
            let initPid = try #require(procs.split(separator: "\n").compactMap { pid_t($0) }.first, "cgroup.procs of \(cgroup): \(procs)")
            #expect(HostProcesses.isAlive(initPid))

            // berth alone: the init shares its process group, and must die on its own.
            create.kill(SIGKILL, group: false)
            let killed = await create.wait()
            #expect(killed.status == 128 + SIGKILL, "\(killed)")
            // The init dies with its parent (PR_SET_PDEATHSIG).
            #expect(await HostProcesses.waitGone(initPid), "init \(initPid) outlived berth create")
            // The hook is the runtime's child, not the container's: nothing but us kills it.
            kill(hookPid, SIGKILL)
            #expect(await HostProcesses.waitGone(hookPid))

            #expect(try await s.status(id) == "stopped")
            let delete = try await s.berth("delete", "--force", id)
            #expect(delete.succeeded, "\(delete)")
            #expect(!FileManager.default.fileExists(atPath: cgroup))
            #expect(!FileManager.default.fileExists(atPath: s.stateRoot + "/" + id))
        }
    }

    @Test func foregroundRunRemovesTheContainerAfterItExits() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "sleep 1000 & exit 0"])
            let id = s.newID()
            let run = try await s.berth("run", "--bundle", bundle.path, id)
            #expect(run.status == 0, "\(run)")
            // The background sleep dies with the pid namespace; the sandbox checks that nothing
            // of it, its state or its cgroup is left.
            #expect(try await s.state(id) == nil)
        }
    }

    @Test func runWithKeepLeavesAStoppedContainerToDelete() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            let id = s.newID()
            let run = try await s.berth("run", "--keep", "--bundle", bundle.path, id)
            #expect(run.status == 0, "\(run)")
            #expect(try await s.status(id) == "stopped")
            #expect(try await s.berth("delete", id).succeeded)
        }
    }
}
