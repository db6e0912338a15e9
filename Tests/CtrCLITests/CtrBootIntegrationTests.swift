import Foundation
import Glibc
import Testing
import TestSupport

extension CtrSandbox {
    /// The persistent root these tests give ctr with --data-root (a scratch directory).
    var dataRoot: String { directory.path + "/data" }

    /// `ctr --root ROOT --data-root DATA ARGS...`, with the marker in its environment and, for
    /// `run`, in the container's.
    func ctrSplit(_ arguments: [String], timeout: Double = TestTiming.command) async throws -> CommandResult {
        var arguments = arguments
        if arguments.first == "run" { arguments.insert(contentsOf: ["-e", marker], at: 1) }
        var environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        environment.append(marker)
        let stamp = UUID().uuidString
        let process = try SpawnedProcess(ctrPath, ["--root", root, "--data-root", dataRoot] + arguments, environment: environment,
                                         stdoutPath: directory.path + "/split-\(stamp).out", stderrPath: directory.path + "/split-\(stamp).err")
        return await process.wait(timeout: timeout)
    }

    /// A service's service.json under the data root, parsed.
    func definition(_ name: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: "\(dataRoot)/\(name)/service.json") else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}

/// Services that survive a reboot: definitions and logs under --data-root, runtime state under
/// --root; `ctr system boot` brings back what should run.
@Suite(.timeLimit(.minutes(5)))
struct CtrBootIntegrationTests {
    /// What a reboot does to ctr, on this test's services only: every supervisor and container
    /// gone (SIGKILL, their cgroups killed and removed), the runtime root wiped.
    static func reboot(_ s: CtrSandbox, _ names: [String]) async throws {
        var processes: [pid_t] = []
        for name in names {
            for key in ["supervisorPid", "pid"] { if let pid = s.pid(name, key), pid > 0 { processes.append(pid) } }
        }
        for pid in processes { kill(pid, SIGKILL) }
        for name in names {
            guard let id = s.definition(name)?["id"] as? String, let cgroup = s.cgroupDirectory(id),
                  FileManager.default.fileExists(atPath: cgroup) else { continue }
            try? "1".write(toFile: cgroup + "/cgroup.kill", atomically: false, encoding: .utf8)
            #expect(await eventually { rmdir(cgroup) == 0 }, "cgroup \(cgroup) stays")
        }
        for pid in processes { #expect(await HostProcesses.waitGone(pid), "pid \(pid) outlived the reboot") }
        try FileManager.default.removeItem(atPath: s.root)
    }

    @Test func bootBringsBackWhatShouldRunWithItsNameLimitsAndPorts() async throws {
        try await withCtrSandbox { s in
            let always = s.newName("always"), stopped = s.newName("stopped"), unless = s.newName("unless"), once = s.newName("once")
            let port = try HandoffIntegrationTests.freePort()
            let limits = CtrLifecycleIntegrationTests.limitFlags
            let run = try await s.ctrSplit(["run", "-d", "--name", always, "--restart", "always", "-p", "\(port):80"] + limits
                                           + [s.rootfs, "--", "sh", "-c", "echo up; exec sleep 1000"])
            try #require(run.succeeded, "\(run)")
            let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try #require(try await s.ctrSplit(["run", "-d", "--name", stopped, "--restart", "always", s.rootfs, "--", "sleep", "1000"]).succeeded)
            try #require(try await s.ctrSplit(["stop", "-t", "0", stopped]).succeeded)
            try #require(try await s.ctrSplit(["run", "-d", "--name", unless, "--restart", "unless-stopped", s.rootfs, "--", "sleep", "1000"]).succeeded)
            try #require(try await s.ctrSplit(["run", "-d", "--name", once, s.rootfs, "--", "sleep", "1000"]).succeeded)
            // The split: the definition and the log persistent, the rest in the runtime root.
            for file in ["service.json", "config.json", "log"] {
                #expect(FileManager.default.fileExists(atPath: "\(s.dataRoot)/\(always)/\(file)"), "\(file)")
                #expect(!FileManager.default.fileExists(atPath: "\(s.root)/\(always)/\(file)"), "\(file)")
            }
            #expect(FileManager.default.fileExists(atPath: "\(s.root)/\(always)/status.json"))
            #expect(FileManager.default.fileExists(atPath: "\(s.dataRoot)/\(stopped)/stopped"))
            #expect(await eventually { (try? await s.ctrSplit(["logs", always]))?.stdout == "up\n" })
            let limitsBefore = try await s.ctrSplit(["exec", always, "cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max"])

            try await Self.reboot(s, [always, stopped, unless, once])
            let down = try await s.ctrSplit(["ps", "-a"])
            #expect(down.lines.count == 5 && down.lines.dropFirst().allSatisfy { $0.contains("exited (before boot") }, "\(down)")
            #expect(down.lines.contains { $0.hasPrefix(stopped + " ") && $0.contains("exited (before boot, stopped)") }, "\(down)")
            #expect((try? TCPSocket.connect(port: port, timeoutSeconds: 1)) == nil, "nothing listens on \(port) after the reboot")

            let boot = try await s.ctrSplit(["system", "boot"])
            #expect(boot.succeeded && boot.lines.sorted() == [always, unless].sorted(), "\(boot)")
            let ps = try await s.ctrSplit(["ps", "-a"])
            #expect(ps.lines.contains { $0.hasPrefix(always + " ") && $0.contains(id) && $0.contains(" running ") }, "\(ps)")
            #expect(ps.lines.contains { $0.hasPrefix(unless + " ") && $0.contains(" running ") }, "\(ps)")
            #expect(ps.lines.contains { $0.hasPrefix(stopped + " ") && !$0.contains("running") }, "\(ps)")
            #expect(ps.lines.contains { $0.hasPrefix(once + " ") && !$0.contains("running") }, "\(ps)")
            #expect(await eventually { (try? TCPSocket.connect(port: port, timeoutSeconds: 1)).map { $0.close(); return true } ?? false },
                    "the supervisor listens on \(port) again")
            if CgroupV2Host.inVM {
                let limitsAfter = try await s.ctrSplit(["exec", always, "cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max"])
                #expect(limitsAfter.stdout == limitsBefore.stdout && limitsAfter.stdout == "\(48 << 20)\n25\n", "\(limitsAfter)")
            }
            // The log goes on across the reboot.
            #expect(await eventually { (try? await s.ctrSplit(["logs", always]))?.stdout == "up\nup\n" })
            // Again: everything that should run runs, nothing more starts.
            let again = try await s.ctrSplit(["system", "boot"])
            #expect(again.succeeded && again.stdout.isEmpty, "\(again)")
            // A stopped service comes back only when asked, and then stays up across a boot.
            #expect(try await s.ctrSplit(["start", stopped]).succeeded)
            #expect(!FileManager.default.fileExists(atPath: "\(s.dataRoot)/\(stopped)/stopped"))

            let rm = try await s.ctrSplit(["rm", "-f", always, stopped, unless, once])
            #expect(rm.succeeded, "\(rm)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: s.dataRoot)) ?? ["?"]).isEmpty)
            if let cgroup = s.cgroupDirectory(id) { #expect(!FileManager.default.fileExists(atPath: cgroup)) }
        }
    }

    @Test func dataRootDefaultsAndFlags() async throws {
        try await withCtrSandbox { s in
            // --root alone keeps everything in it, as before.
            let name = s.newName("one")
            try #require(try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "true").succeeded)
            #expect(FileManager.default.fileExists(atPath: "\(s.root)/\(name)/service.json"))
            #expect(try await s.ctr("rm", "-f", name).succeeded)
            let relative = try await s.ctr("--data-root", "data", "ps")
            #expect(relative.status == 1 && relative.errorLine == "ctr: flag --data-root: \"data\" must be an absolute path", "\(relative)")
        }
    }
}
