import Foundation
import Glibc
import Testing
import TestSupport

extension CtrSandbox {
    /// `/bin/sh -c SCRIPT` with `$CTR` (this sandbox's ctr and --root), `$ROOTFS` and `$MARK` (the marker, for `run -e`) set, and the
    /// sandbox's marker in its environment (and so in every supervisor's and container's).
    func shell(_ script: String, timeout: Double = TestTiming.command) async throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        environment += [marker, "MARK=\(marker)", "CTR=\(ctrPath) --root \(root)", "ROOTFS=\(rootfs)"]
        let stamp = UUID().uuidString
        let process = try SpawnedProcess("/bin/sh", ["-c", script], environment: environment,
                                         stdoutPath: directory.path + "/sh-\(stamp).out", stderrPath: directory.path + "/sh-\(stamp).err")
        return await process.wait(timeout: timeout)
    }
}

/// The life of a service after `ctr run`: --rm, start, restart, wait, rename.
@Suite(.timeLimit(.minutes(5)))
struct CtrLifecycleIntegrationTests {
    /// The loop: each `ctr run --rm` returns only once its service is gone, so the next
    /// one can take the name at once.
    @Test func runRmFreesTheNameBeforeItReturns() async throws {
        try await withCtrSandbox { s in
            let loop = try await s.shell("""
                for i in 1 2 3 4 5; do $CTR run --rm --name x -e "$MARK" $ROOTFS -- sh -c 'exit 3'; echo $?; done
                """, timeout: TestTiming.command * 5)
            #expect(loop.stdout == "3\n3\n3\n3\n3\n", "\(loop)")
            #expect(loop.stderr.isEmpty, "\(loop)")
            #expect(s.serviceEntries.isEmpty)
        }
    }

    /// The limit flags this machine's cgroup can take: memory and pids in the VM (cgroup v2),
    /// none on the hybrid host.
    static var limitFlags: [String] { CgroupV2Host.inVM ? ["-m", "48M", "--pids-limit", "25"] : [] }

    /// Reads the service's cgroup limits from inside its container (the VM only).
    static func limits(_ s: CtrSandbox, _ name: String) async throws -> String {
        guard CgroupV2Host.inVM else { return "" }
        return try await s.ctr("exec", name, "cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max").stdout
    }

    @Test func startBringsBackAStoppedServiceWithItsDefinition() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("start")
            let port = try HandoffIntegrationTests.freePort()
            let run = try await s.ctr(["run", "-d", "--name", name, "-p", "\(port):80", "--restart", "on-failure:2", "-e", "GREETING=hi"]
                                      + Self.limitFlags + [s.rootfs, "--", "sh", "-c", "echo $GREETING; exec sleep 1000"])
            try #require(run.succeeded, "\(run)")
            let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let limits = try await Self.limits(s, name)
            if CgroupV2Host.inVM { #expect(limits == "\(48 << 20)\n25\n", "\(limits)") }
            let config = try String(contentsOfFile: "\(s.root)/\(name)/config.json", encoding: .utf8)

            let running = try await s.ctr("start", name)
            #expect(running.status == 1 && running.errorLine == "ctr: service \"\(name)\" is running; ctr restart \(name) stops and starts it",
                    "\(running)")
            let missing = try await s.ctr("start", "no-such-service")
            #expect(missing.status == 1 && missing.errorLine == "ctr: no service named \"no-such-service\" (see ctr ps -a)", "\(missing)")

            #expect(try await s.ctr("stop", "-t", "1", name).succeeded)
            #expect((try? TCPSocket.connect(port: port, timeoutSeconds: 1)) == nil, "the port is closed while the service is stopped")
            let firstPid = s.pid(name, "supervisorPid")
            let start = try await s.ctr("start", name)
            #expect(start.succeeded && start.stdout == name + "\n", "\(start)")
            #expect(s.state(name) == "running")
            #expect(s.pid(name, "supervisorPid") != firstPid)
            // The same service: id, config, ports, limits, restart policy, log and exit history.
            let ps = try await s.ctr("ps")
            #expect(ps.lines.contains { $0.hasPrefix(name + " ") && $0.contains(id) && $0.contains("running") }, "\(ps)")
            #expect(try String(contentsOfFile: "\(s.root)/\(name)/config.json", encoding: .utf8) == config)
            #expect(await eventually { (try? TCPSocket.connect(port: port, timeoutSeconds: 1)).map { $0.close(); return true } ?? false },
                    "the supervisor listens on \(port) again")
            #expect(try await Self.limits(s, name) == limits)
            #expect(await eventually { (try? await s.ctr("logs", name))?.stdout == "hi\nhi\n" })
            let exits = (s.status(name)?["exits"] as? [[String: Any]]) ?? []
            #expect(exits.count == 1 && exits.first?["signal"] as? Int == 9, "\(exits)")
            let inspect = try await s.ctr("inspect", name)
            #expect(inspect.stdout.contains("\"restart\": \"on-failure:2\""), "\(inspect)")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func restartStopsAndStartsAndWaitPrintsTheExitStatus() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("restart")
            try #require(try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "sh", "-c", "trap '' TERM; exec sleep 1000").succeeded)
            let before = try #require(s.pid(name))
            let began = Date()
            let restart = try await s.ctr("restart", "-t", "1", name)
            #expect(restart.succeeded && restart.stdout == name + "\n", "\(restart)")
            // The init ignores SIGTERM: the grace period of 1 s was waited out.
            #expect(Date().timeIntervalSince(began) >= 0.9)
            let after = try #require(s.pid(name))
            #expect(after != before && HostProcesses.isAlive(after) && !HostProcesses.isAlive(before))
            #expect(s.state(name) == "running")
            #expect(try await s.ctr("restart", "no-such-service").errorLine == "ctr: no service named \"no-such-service\" (see ctr ps -a)")

            // wait blocks until the service ends, then prints the status (128+9 after the kill).
            let waiter = try s.spawn(["wait", name])
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(!waiter.poll(), "wait returned while the service ran")
            #expect(try await s.ctr("kill", name).succeeded)
            let waited = await waiter.wait()
            #expect(waited.succeeded && waited.stdout == "137\n", "\(waited)")
            // Ended already: at once.
            let again = try await s.ctr("wait", name)
            #expect(again.succeeded && again.stdout == "137\n", "\(again)")
            #expect(try await s.ctr("wait", "no-such-service").status == 1)

            // A stopped service is started by restart.
            let job = s.newName("job")
            try #require(try await s.ctr("run", "-d", "--name", job, s.rootfs, "--", "sh", "-c", "exit 3").succeeded)
            #expect(try await s.ctr("wait", job).stdout == "3\n")
            #expect(try await s.ctr("restart", job).succeeded)
            #expect(try await s.ctr("wait", job).stdout == "3\n")
            #expect(((s.status(job)?["exits"] as? [Any]) ?? []).count == 2)
            #expect(try await s.ctr("rm", name, job).succeeded)
        }
    }

    @Test func renameMovesAStoppedServiceToAFreeName() async throws {
        try await withCtrSandbox { s in
            let old = s.newName("old"), new = s.newName("new"), other = s.newName("other")
            try #require(try await s.ctr("run", "-d", "--name", old, s.rootfs, "--", "sleep", "1000").succeeded)
            try #require(try await s.ctr("run", "-d", "--name", other, s.rootfs, "--", "true").succeeded)
            let running = try await s.ctr("rename", old, new)
            #expect(running.status == 1 && running.errorLine.hasPrefix("ctr: service \"\(old)\" is running: stop it first"), "\(running)")
            #expect(try await s.ctr("stop", "-t", "0", old).succeeded)
            let inUse = try await s.ctr("rename", old, other)
            #expect(inUse.status == 1 && inUse.errorLine == "ctr: rename: \"\(other)\" is already in use by another service; choose another name",
                    "\(inUse)")
            let missing = try await s.ctr("rename", "no-such-service", new)
            #expect(missing.status == 1 && missing.errorLine == "ctr: no service named \"no-such-service\" (see ctr ps -a)", "\(missing)")
            let bad = try await s.ctr("rename", old, "-bad")
            #expect(bad.status != 0, "\(bad)")
            let rename = try await s.ctr("rename", old, new)
            #expect(rename.succeeded, "\(rename)")
            #expect(s.serviceEntries.contains(new) && !s.serviceEntries.contains(old))
            // Under its new name it starts, and logs, as before.
            #expect(try await s.ctr("start", new).succeeded)
            #expect(s.state(new) == "running")
            let ps = try await s.ctr("ps")
            #expect(ps.lines.contains { $0.hasPrefix(new + " ") }, "\(ps)")
            #expect(try await s.ctr("rm", "-f", new, other).succeeded)
        }
    }
}
