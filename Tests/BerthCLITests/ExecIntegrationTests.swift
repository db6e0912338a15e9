import Foundation
import Glibc
import TestSupport
import Testing

/// `berth exec` into a running container: the same namespaces as the init, and its own exit
/// status. Runs on the host and in the VM.
@Suite(.timeLimit(.minutes(5)))
struct ExecIntegrationTests {
    /// A detached container whose init writes a marker into /dev/shm (a tmpfs only its mount
    /// namespace has) and then sleeps.
    static func startSleeper(_ s: BerthSandbox, hostname: String) async throws -> (id: String, pid: Int) {
        let bundle = try await s.bundle(["sh", "-c", "echo from-init > /dev/shm/marker; exec sleep 1000"]) { $0["hostname"] = hostname }
        let id = s.newID()
        let run = try await s.berth("run", "--detach", "--bundle", bundle.path, id)
        try #require(run.succeeded, "\(run)")
        let state = try #require(try await s.state(id))
        return (id, try #require(state["pid"] as? Int))
    }

    @Test func execSharesTheHostnamePIDNamespaceAndMountsOfTheInit() async throws {
        try await withBerthSandbox { s in
            let (id, _) = try await Self.startSleeper(s, hostname: "exec-host")
            let script = """
                i=0; while [ ! -e /dev/shm/marker ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
                hostname; cat /dev/shm/marker; tr '\\0' ' ' < /proc/1/cmdline; echo; readlink /proc/1/ns/mnt; readlink /proc/self/ns/mnt
                """
            let exec = try await s.berth("exec", id, "sh", "-c", script)
            #expect(exec.status == 0, "\(exec)")
            try #require(exec.lines.count == 5, "\(exec)")
            #expect(exec.lines[0] == "exec-host")
            #expect(exec.lines[1] == "from-init")
            #expect(exec.lines[2] == "sleep 1000 ", "PID 1 as exec sees it: \(exec.lines[2])")
            #expect(exec.lines[3] == exec.lines[4], "mount namespaces of the init and of exec differ")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test func execExitStatusIsBerthExecsExitStatus() async throws {
        try await withBerthSandbox { s in
            let (id, _) = try await Self.startSleeper(s, hostname: "exec-status")
            let exec = try await s.berth("exec", id, "sh", "-c", "exit 3")
            #expect(exec.status == 3, "\(exec)")
            let missing = try await s.berth("exec", id, "no-such-command")
            #expect(missing.status != 0)
            #expect(missing.errorLine.contains("no-such-command") && !missing.errorLine.contains("\n"), "\(missing)")
            // The container is unharmed.
            #expect(try await s.status(id) == "running")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    static func capabilityLines(_ status: String) -> [String] {
        status.split(separator: "\n").filter { $0.hasPrefix("Cap") || $0.hasPrefix("NoNewPrivs") }.map(String.init)
    }

    /// A process.json that leaves out `capabilities` and `noNewPrivileges` gets the container's,
    /// not every capability berth itself holds.
    @Test func execOfAProcessFileWithoutCapabilitiesGetsTheContainersCapabilities() async throws {
        try await withBerthSandbox { s in
            let (id, initPid) = try await Self.startSleeper(s, hostname: "exec-caps")
            let processFile = s.directory.path + "/process.json"
            let process: [String: Any] = ["args": ["cat", "/proc/self/status"], "cwd": "/", "user": ["uid": 0, "gid": 0],
                                          "env": ["PATH=/bin:/usr/bin", s.marker]]
            try JSONSerialization.data(withJSONObject: process).write(to: URL(fileURLWithPath: processFile))
            let exec = try await s.berth("exec", "--process", processFile, id)
            #expect(exec.status == 0, "\(exec)")
            let initStatus = try String(contentsOfFile: "/proc/\(initPid)/status", encoding: .utf8)
            let expected = Self.capabilityLines(initStatus)
            #expect(expected.contains("NoNewPrivs:\t1"), "the init: \(expected)")
            #expect(Self.capabilityLines(exec.stdout) == expected, "\(exec)")

            // One that names its capabilities gets exactly those.
            var own = process
            own["capabilities"] = ["bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]]
            try JSONSerialization.data(withJSONObject: own).write(to: URL(fileURLWithPath: processFile))
            let narrowed = try await s.berth("exec", "--process", processFile, id)
            #expect(narrowed.status == 0, "\(narrowed)")
            #expect(Self.capabilityLines(narrowed.stdout).contains("CapBnd:\t0000000000000020"), "\(narrowed)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test func execAppliesEnvCwdUserAndPidFileFlags() async throws {
        try await withBerthSandbox { s in
            let (id, initPid) = try await Self.startSleeper(s, hostname: "exec-flags")
            let pidFile = s.directory.path + "/exec.pid"
            let exec = try await s.berth("exec", "-e", "FOO=bar", "--cwd", "/etc", "--user", "1000:1001", "--pid-file", pidFile, id,
                                         "sh", "-c", "echo $FOO; pwd; id -u; id -g")
            #expect(exec.status == 0, "\(exec)")
            #expect(exec.lines == ["bar", "/etc", "1000", "1001"], "\(exec)")
            let written = try String(contentsOfFile: pidFile, encoding: .utf8)
            let pid = try #require(Int(written.trimmingCharacters(in: .whitespacesAndNewlines)), "pid file: \(written.debugDescription)")
            #expect(pid > 0 && pid != initPid)
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }
}
