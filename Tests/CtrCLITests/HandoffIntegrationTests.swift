import Foundation
import Glibc
import Testing
import TestSupport

/// Published ports and the hand-off, with the real supervisor and the example web app
/// (rootfs-examples/webapp: v1 and v2 answer "v1"/"v2"), on the host and again in the VM.
@Suite(.timeLimit(.minutes(5)))
struct HandoffIntegrationTests {
    static var webapp: String { BerthPaths.repositoryRoot + "/rootfs-examples/webapp" }

    static func rootfs(_ version: String) throws -> String {
        let path = webapp + "/\(version)/rootfs"
        try #require(FileManager.default.fileExists(atPath: path + "/usr/bin/webapp"), "no \(path): run make rootfs")
        return path
    }

    /// A port nobody listens on now.
    static func freePort() throws -> UInt16 {
        let probe = try TCPSocket.listen("0.0.0.0", 0)
        defer { probe.close() }
        return probe.port
    }

    /// GET `path` on its own connection; the body.
    static func get(_ port: UInt16, _ path: String = "/") throws -> String {
        let socket = try TCPSocket.connect(port: port)
        try socket.send("GET \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        let response = String(decoding: try socket.receiveAll(), as: UTF8.self)
        guard let split = response.range(of: "\r\n\r\n") else { return "" }
        return String(response[split.upperBound...])
    }

    /// `ctr run -d` of v1 on a free port; the port.
    static func startV1(_ s: CtrSandbox, _ name: String, extra: [String] = [], portFlag: String = "-p", mapping: (UInt16) -> String = { "\($0):80" },
                        command: [String] = ["webapp", "-p", "80"]) async throws -> UInt16 {
        let port = try freePort()
        let run = try await s.ctr(["run", "-d", "--name", name, portFlag, mapping(port)] + extra + [try rootfs("v1"), "--"] + command)
        try #require(run.succeeded, "\(run)")
        #expect(await eventually { (try? get(port)) == "v1\n" }, "v1 never answered on \(port)")
        return port
    }

    /// The loadgen client started in the background: 20 connections for `seconds`, or until
    /// `then` ms after `afterFile` appears when that is sooner (a rollout under emulation takes
    /// seconds, so the load is bounded relative to its end).
    static func load(_ s: CtrSandbox, port: UInt16, seconds: Int, afterFile: String, then: Int = 2000) throws -> SpawnedProcess {
        try SpawnedProcess(webapp + "/bin/loadgen", ["-c", "20", "-d", "\(seconds)s", "-r", "5", "--after-file", afterFile, "--then", "\(then)",
                                                      "127.0.0.1:\(port)"],
                           environment: [], stdoutPath: s.directory.path + "/load-\(port).json", stderrPath: s.directory.path + "/load-\(port).err")
    }

    static func report(_ s: CtrSandbox, _ port: UInt16) throws -> [String: Any] {
        let data = try #require(FileManager.default.contents(atPath: s.directory.path + "/load-\(port).json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
    }

    static func versionCount(_ report: [String: Any], _ version: String) -> Int {
        ((report["versions"] as? [String: Any])?[version] as? [String: Any])?["count"] as? Int ?? 0
    }

    /// `bash -c SCRIPT` with pipefail; its output.
    static func shell(_ script: String) async throws -> CommandResult {
        let process = try SpawnedProcess("/bin/bash", ["-o", "pipefail", "-c", script], environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                                         stdoutPath: NSTemporaryDirectory() + "handoff-\(UInt32.random(in: 0...UInt32.max)).out",
                                         stderrPath: NSTemporaryDirectory() + "handoff-\(UInt32.random(in: 0...UInt32.max)).err")
        let result = await process.wait(timeout: TestTiming.command * 3)
        try #require(result.succeeded, "\(script): \(result)")
        return result
    }

    static func others(_ s: CtrSandbox, _ name: String) -> [[String: Any]] { s.status(name)?["others"] as? [[String: Any]] ?? [] }

    @Test func aRolloutUnderLoadFailsNoRequestAndSendsNoNewConnectionToTheOldVersion() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("web")
            let port = try await Self.startV1(s, name)
            let switched = s.directory.path + "/switched-\(port)"
            // About 10 s of load: 4 s before the rollout, 4 s after it returned.
            let load = try Self.load(s, port: port, seconds: 60, afterFile: switched, then: 4000)
            try await Task.sleep(for: .seconds(4))
            let rollout = try await s.ctr("rollout", name, "--rootfs", try Self.rootfs("v2"))
            #expect(rollout.succeeded, "\(rollout)")
            FileManager.default.createFile(atPath: switched, contents: nil)
            let finished = await load.wait(timeout: 120)
            let report = try Self.report(s, port)
            #expect(finished.status == 0, "\(finished) \(report)")
            #expect(report["failed"] as? Int == 0 && report["connect_errors"] as? Int == 0 && report["resets"] as? Int == 0, "\(report)")
            #expect(Self.versionCount(report, "v1") > 0 && Self.versionCount(report, "v2") > 0, "\(report)")
            let after = report["new_connections_by_version_after"] as? [String: Any] ?? [:]
            #expect(after["v1"] == nil && (after["v2"] as? Int ?? 0) > 0, "connections opened after the switch: \(after)")
            #expect(try Self.get(port) == "v2\n")
            // v1 had only short connections: it is gone once they closed.
            #expect(await eventually { Self.others(s, name).isEmpty }, "\(s.status(name) ?? [:])")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func aLongSessionStaysWithTheOldVersionWhichExitsOnlyWhenItCloses() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("web")
            let port = try await Self.startV1(s, name)
            let session = try TCPSocket.connect(port: port)
            try session.send("GET /hold HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(String(decoding: try session.receive(), as: UTF8.self).contains("v1"))
            let rollout = try await s.ctr("rollout", name, "--rootfs", try Self.rootfs("v2"))
            #expect(rollout.succeeded && rollout.stdout.contains("drains 1 connection"), "\(rollout)")
            #expect(try Self.get(port) == "v2\n")
            // Still served by v1, which is still there.
            let line = String(decoding: try session.receive(), as: UTF8.self)
            #expect(line.contains("v1"), "\(line)")
            #expect(Self.others(s, name).first?["role"] as? String == "draining", "\(s.status(name) ?? [:])")
            let ps = try await s.ctr("ps")
            #expect(ps.stdout.contains("\(name) (v1)") && ps.stdout.contains("draining"), "\(ps)")
            session.close()
            #expect(await eventually { Self.others(s, name).isEmpty }, "v1 should exit once its last connection closed")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func theDrainTimeoutEndsASessionHeldTooLong() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("web")
            let port = try await Self.startV1(s, name)
            let session = try TCPSocket.connect(port: port, timeoutSeconds: 30)
            try session.send("GET /hold HTTP/1.1\r\nHost: test\r\n\r\n")
            _ = try session.receive()
            let rollout = try await s.ctr("rollout", name, "--rootfs", try Self.rootfs("v2"), "--drain-timeout", "1s")
            #expect(rollout.succeeded, "\(rollout)")
            // Reset at the deadline: the receive ends with an error (or end of file) well before 30 s.
            let started = Date()
            var ended = false
            while Date().timeIntervalSince(started) < 25 {
                guard let bytes = try? session.receive(), !bytes.isEmpty else { ended = true; break }
            }
            #expect(ended, "the held session outlived the drain deadline")
            #expect(await eventually { Self.others(s, name).isEmpty })
            #expect(try Self.get(port) == "v2\n")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test(arguments: [
        (["--", "sh", "-c", "exit 3"], "exited with status 3"),
        (["--ready-timeout", "2s", "--", "sleep", "1000"], "did not become ready within 2 s"),
    ])
    func aNewVersionThatFailsIsRolledBackWhileTheOldOneServes(flags: [String], reason: String) async throws {
        try await withCtrSandbox { s in
            let name = s.newName("web")
            let port = try await Self.startV1(s, name)
            let marker = s.directory.path + "/never-\(port)"
            let load = try Self.load(s, port: port, seconds: 4, afterFile: marker)
            let rollout = try await s.ctr(["rollout", name, "--rootfs", try Self.rootfs("v2")] + flags)
            #expect(rollout.status == 1 && rollout.stderr.contains("rolled back") && rollout.stderr.contains(reason), "\(rollout)")
            let finished = await load.wait(timeout: 60)
            let report = try Self.report(s, port)
            #expect(finished.status == 0 && report["failed"] as? Int == 0 && report["connect_errors"] as? Int == 0, "\(report)")
            #expect(Self.versionCount(report, "v2") == 0 && Self.versionCount(report, "v1") > 0, "\(report)")
            #expect(Self.others(s, name).isEmpty && s.status(name)?["version"] as? Int ?? 1 == 1, "\(s.status(name) ?? [:])")
            #expect(!FileManager.default.fileExists(atPath: "\(s.root)/\(name)/config.next.json"))
            let containers = try FileManager.default.contentsOfDirectory(atPath: "\(s.root)/\(name)/runtime")
            #expect(containers.count == 1, "\(containers)")
            #expect(try Self.get(port) == "v1\n")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func theHealthCheckDecidesReadinessAndAFailingOneRollsBack() async throws {
        try await withCtrSandbox { s in
            // Healthy only while the answer is v1: v2 fails its checks and is rolled back.
            let name = s.newName("web")
            let port = try await Self.startV1(s, name, extra: ["--health-cmd", "wget -qO- http://127.0.0.1/ | grep v1",
                                                              "--health-interval", "200ms", "--health-retries", "2"])
            let failed = try await s.ctr("rollout", name, "--rootfs", try Self.rootfs("v2"), "--ready-timeout", "60s")
            #expect(failed.status == 1 && failed.stderr.contains("failed its health check 2 times in a row"), "\(failed)")
            #expect(try Self.others(s, name).isEmpty && Self.get(port) == "v1\n")
            #expect(try await s.ctr("rm", "-f", name).succeeded)

            // A check that passes for both: the switch waits for it, then happens.
            let other = s.newName("web")
            let otherPort = try await Self.startV1(s, other, extra: ["--health-cmd", "wget -qO- http://127.0.0.1/health",
                                                                    "--health-interval", "200ms"])
            let rollout = try await s.ctr("rollout", other, "--rootfs", try Self.rootfs("v2"))
            #expect(rollout.succeeded, "\(rollout)")
            #expect(try Self.get(otherPort) == "v2\n")
            #expect(try await s.ctr("rm", "-f", other).succeeded)
        }
    }

    @Test func aSupervisorKilledMidRolloutIsRecoveredWithOneVersionServing() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("web")
            let port = try await Self.startV1(s, name)
            // A candidate that never becomes ready keeps the rollout in flight.
            let rollout = try s.spawn(["rollout", name, "--rootfs", try Self.rootfs("v2"), "--ready-timeout", "60s", "--", "sleep", "1000"])
            #expect(await eventually { Self.others(s, name).first?["role"] as? String == "candidate" }, "\(s.status(name) ?? [:])")
            let supervisor = try #require(s.pid(name, "supervisorPid"))
            kill(supervisor, SIGKILL)
            let aborted = await rollout.wait(timeout: 30)
            #expect(aborted.status != 0, "\(aborted)")
            // The next command adopts: the candidate is removed, v1 serves on the port again.
            let status = try await s.ctr("rollout", name, "--status")
            #expect(status.succeeded, "\(status)")
            #expect(await eventually { Self.others(s, name).isEmpty }, "\(s.status(name) ?? [:])")
            #expect(await eventually { (try? Self.get(port)) == "v1\n" })
            // And a rollout after the recovery works.
            let again = try await s.ctr("rollout", name, "--rootfs", try Self.rootfs("v2"))
            #expect(again.succeeded, "\(again)")
            #expect(try Self.get(port) == "v2\n")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func forwardedConnectionsCarryHalfCloseResetsAndBulkDataAndLeakNoDescriptors() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("web")
            let echo = try Self.freePort(), reset = try Self.freePort()
            let port = try await Self.startV1(s, name, extra: ["-p", "\(echo):7", "-p", "\(reset):8"],
                                              command: ["sh", "-c", "webapp -q -p 80 -e 7 & exec webapp -q -p 9 -e 8 -r"])
            // Half-close: everything sent arrives back after our end of file.
            let client = try TCPSocket.connect(port: echo)
            let payload = Array(repeating: UInt8(ascii: "x"), count: 300_000)
            try client.send(payload)
            client.shutdownWrite()
            #expect(try client.receiveAll() == payload)
            // The server resets: so does the forwarded connection.
            let resetClient = try TCPSocket.connect(port: reset)
            try resetClient.send("x")
            #expect(throws: TCPSocket.Failure.self) { _ = try resetClient.receiveAll() }
            // 100 MB arrive intact: the checksum through the published port is the one of the
            // same body fetched straight from the container's loopback (curl and sha256sum, so
            // that the check costs C speed, not a debug build's, under emulation).
            let size = 100 << 20
            let pid = try #require(s.pid(name))
            let forwarded = try await Self.shell("curl -sf -w '%{stderr}%{size_download}' http://127.0.0.1:\(port)/bytes?n=\(size) | sha256sum")
            let direct = try await Self.shell("nsenter --net=/proc/\(pid)/ns/net curl -sf http://127.0.0.1:80/bytes?n=\(size) | sha256sum")
            #expect(forwarded.stdout.count == 68 && forwarded.stdout == direct.stdout, "\(forwarded) \(direct)")
            #expect(forwarded.stderr.trimmingCharacters(in: .whitespacesAndNewlines) == "\(size)", "\(forwarded)")
            // 1000 short connections leave the supervisor's descriptors as they were.
            let supervisor = try #require(s.pid(name, "supervisorPid"))
            let before = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(supervisor)/fd").count
            for _ in 0..<1000 { _ = try Self.get(port) }
            #expect(await eventually { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(supervisor)/fd").count) == before },
                    "descriptors before: \(before), after: \((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(supervisor)/fd").count) ?? -1)")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func aSocketActivatedServiceIsHandedOverWithoutAFailedRequest() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("web")
            let port = try await Self.startV1(s, name, portFlag: "--listen", mapping: { "\($0)" }, command: ["webapp"])
            let switched = s.directory.path + "/switched-\(port)"
            let load = try Self.load(s, port: port, seconds: 60, afterFile: switched)
            try await Task.sleep(for: .seconds(1))
            let rollout = try await s.ctr("rollout", name, "--rootfs", try Self.rootfs("v2"))
            #expect(rollout.succeeded, "\(rollout)")
            FileManager.default.createFile(atPath: switched, contents: nil)
            let finished = await load.wait(timeout: 120)
            let report = try Self.report(s, port)
            #expect(finished.status == 0 && report["failed"] as? Int == 0 && report["connect_errors"] as? Int == 0, "\(report)")
            #expect(Self.versionCount(report, "v1") > 0 && Self.versionCount(report, "v2") > 0, "\(report)")
            // v1 stopped accepting on the drain signal and exited once its connections closed.
            #expect(await eventually { Self.others(s, name).isEmpty }, "\(s.status(name) ?? [:])")
            #expect(try Self.get(port) == "v2\n")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func anAdoptingSupervisorTakesTheListeningSocketBackFromTheContainer() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("web")
            let port = try await Self.startV1(s, name, portFlag: "--listen", mapping: { "\($0)" }, command: ["webapp"])
            let supervisor = try #require(s.pid(name, "supervisorPid"))
            kill(supervisor, SIGKILL)
            // The container still holds the socket: the port answers with no supervisor at all.
            #expect(try Self.get(port) == "v1\n")
            // The rollout adopts the service first; the new supervisor must hand v2 the same
            // socket, which it can only take from the running container (binding again fails).
            let rollout = try await s.ctr("rollout", name, "--rootfs", try Self.rootfs("v2"))
            #expect(rollout.succeeded, "\(rollout)")
            #expect(s.pid(name, "supervisorPid") != supervisor)
            #expect(await eventually { (try? Self.get(port)) == "v2\n" }, "v2 never answered on the shared socket")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func badPortFlagsAreRefusedAndCreateNothing() async throws {
        try await withCtrSandbox { s in
            let taken = try TCPSocket.listen("0.0.0.0", 0)
            defer { taken.close() }
            for (flags, message) in [(["-p", "80"], "flag -p: \"80\" is not [ADDRESS:]HOST:CONTAINER"),
                                     (["-p", "8080:80", "-p", "8080:81"], "host port 8080 is given twice"),
                                     (["-p", "\(taken.port):80"], "cannot listen on 0.0.0.0:\(taken.port)"),
                                     (["--listen", "x"], "flag --listen: \"x\"")] {
                let name = s.newName("bad")
                let run = try await s.ctr(["run", "-d", "--name", name] + flags + [s.rootfs, "--", "true"])
                #expect(run.status != 0 && run.errorLine.contains(message) && !run.errorLine.contains("\n"), "\(flags): \(run)")
                #expect(!FileManager.default.fileExists(atPath: "\(s.root)/\(name)"), "\(flags) left a service directory")
            }
            let missing = try await s.ctr("rollout", "nosuch", "--rootfs", s.rootfs)
            #expect(missing.status != 0 && missing.errorLine.contains("no service named"), "\(missing)")
        }
    }
}
