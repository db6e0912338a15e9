import BerthCore
import Foundation
import Glibc
import SupervisorAPI
import Testing
import TestSupport

/// Health checks run by the real supervisor, on the host and again in the VM (the name ends in
/// IntegrationTests). Checks every 200 ms with 2 retries keep each test to a few seconds.
@Suite(.timeLimit(.minutes(5)))
struct HealthIntegrationTests {
    static let fastCheck = ["--health-interval", "200ms", "--health-retries", "2"]

    static func health(_ s: CtrSandbox, _ name: String) -> [String: Any]? { s.status(name)?["health"] as? [String: Any] }

    static func healthState(_ s: CtrSandbox, _ name: String) -> String? { health(s, name)?["state"] as? String }

    static func psRow(_ s: CtrSandbox, _ name: String) async throws -> String {
        let ps = try await s.ctr("ps", "-a")
        return try #require(ps.lines.first { $0.hasPrefix(name + " ") }, "\(ps)")
    }

    @Test func serviceTurnsHealthyWhenTheCheckPassesAndUnhealthyWhenItFails() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("health")
            // A tmpfs: in the VM the rootfs is on the host's read-only root.
            let run = try await s.ctr(["run", "-d", "--name", name, "--tmpfs", "/tmp", "--health-cmd", "test -e /tmp/ok && echo present"]
                                      + Self.fastCheck + [s.rootfs, "--", "sleep", "1000"])
            #expect(run.succeeded, "\(run)")
            let pid = try #require(s.pid(name))
            // Two failures with the file missing; restart=no keeps the container running.
            #expect(await eventually { Self.healthState(s, name) == "unhealthy" }, "\(Self.health(s, name) ?? [:])")
            #expect(try await Self.psRow(s, name).contains("running (unhealthy)"))

            #expect(try await s.ctr("exec", name, "touch", "/tmp/ok").succeeded)
            #expect(await eventually { Self.healthState(s, name) == "healthy" }, "\(Self.health(s, name) ?? [:])")
            #expect(try await Self.psRow(s, name).contains("running (healthy)"))
            let healthy = try #require(Self.health(s, name))
            #expect(healthy["failingStreak"] as? Int == 0)
            let passed = try #require((healthy["results"] as? [[String: Any]])?.last)
            #expect(passed["exitCode"] as? Int == 0 && passed["output"] as? String == "present\n", "\(passed)")

            let ps = try await s.ctr("ps", "--format", "json")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [[String: Any]])
            #expect(rows.first { $0["name"] as? String == name }?["health"] as? String == "healthy", "\(ps)")
            let inspect = try await s.ctr("inspect", name)
            #expect(inspect.stdout.contains("\"state\": \"healthy\"") && inspect.stdout.contains("\"command\": \"test -e /tmp/ok && echo present\""),
                    "\(inspect)")

            #expect(try await s.ctr("exec", name, "rm", "/tmp/ok").succeeded)
            #expect(await eventually { Self.healthState(s, name) == "unhealthy" }, "\(Self.health(s, name) ?? [:])")
            let unhealthy = try #require(Self.health(s, name))
            #expect((unhealthy["failingStreak"] as? Int ?? 0) >= 2, "\(unhealthy)")
            #expect((unhealthy["results"] as? [[String: Any]])?.last?["exitCode"] as? Int == 1, "\(unhealthy)")
            #expect(s.pid(name) == pid && s.status(name)?["restartCount"] as? Int == 0, "restart=no leaves it running")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func failuresDuringTheStartPeriodDoNotCount() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("grace")
            #expect(try await s.ctr("run", "-d", "--name", name, "--health-cmd", "false", "--health-interval", "100ms",
                                    "--health-retries", "1", "--health-start-period", "1m", s.rootfs, "--", "sleep", "1000").succeeded)
            #expect(await eventually { (Self.health(s, name)?["results"] as? [Any])?.count ?? 0 >= 3 }, "\(Self.health(s, name) ?? [:])")
            let health = try #require(Self.health(s, name))
            #expect(health["state"] as? String == "starting" && health["failingStreak"] as? Int == 0, "\(health)")
            #expect(try await Self.psRow(s, name).contains("running (health: starting)"))
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func unhealthyServiceIsRestartedByTheAlwaysPolicy() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("heal")
            #expect(try await s.ctr(["run", "-d", "--name", name, "--restart", "always", "--health-cmd", "test -e /tmp/ok"] + Self.fastCheck
                                    + [s.rootfs, "--", "sleep", "1000"]).succeeded)
            // Restarted at least once; not necessarily running at the moment we look: with checks
            // every 200 ms it is unhealthy again within half a second, and on a loaded host the
            // polls can miss every running window.
            #expect(await eventually { (s.status(name)?["restartCount"] as? Int ?? 0) >= 1 }, "\(s.status(name) ?? [:])")
            let exits = try #require(s.status(name)?["exits"] as? [[String: Any]])
            let exit = try #require(exits.first)
            #expect(exit["signal"] as? Int == 9, "the cgroup was killed: \(exit)")
            #expect(exit["error"] as? String == "unhealthy: 2 consecutive health check failures", "\(exit)")
            #expect(exit["restartAt"] != nil, "the restart goes through the back-off: \(exit)")
            // A new container, told by times rather than pids (on a loaded VM the first restart can
            // come before the test reads the first pid), and it starts over: every result kept is
            // from its own run.
            let status = try #require(s.status(name))
            let started = try #require((status["startedAt"] as? String).flatMap(Timestamp.init(parsing:)))
            let firstEnd = try #require((exit["finishedAt"] as? String).flatMap(Timestamp.init(parsing:)))
            #expect(started > firstEnd, "\(status)")
            let results = (Self.health(s, name)?["results"] as? [[String: Any]]) ?? []
            #expect(results.allSatisfy { ($0["start"] as? String).flatMap(Timestamp.init(parsing:)).map { $0 >= started } ?? false },
                    "\(status)")
            let stop = try await s.ctr("stop", "-t", "0", name)
            #expect(stop.succeeded && s.state(name) == "exited", "\(stop)")
            #expect(try await s.ctr("rm", name).succeeded)
        }
    }

    @Test func aHangingCheckIsKilledAtTheTimeoutAndFails() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("hang")
            // `sleep 100; true` keeps sh waiting on a child: the whole group has to be killed.
            #expect(try await s.ctr("run", "-d", "--name", name, "--health-cmd", "sleep 100; true", "--health-timeout", "300ms",
                                    "--health-interval", "100ms", "--health-retries", "2", s.rootfs, "--", "sleep", "1000").succeeded)
            #expect(await eventually { Self.healthState(s, name) == "unhealthy" }, "\(Self.health(s, name) ?? [:])")
            let results = try #require(Self.health(s, name)?["results"] as? [[String: Any]])
            let last = try #require(results.last)
            #expect(last["exitCode"] == nil, "\(last)")
            #expect((last["output"] as? String)?.contains("timed out after 300 ms") == true, "\(last)")
            let start = try #require((last["start"] as? String).flatMap(Timestamp.init(parsing:)))
            let end = try #require((last["end"] as? String).flatMap(Timestamp.init(parsing:)))
            let took = end.seconds(since: start)
            #expect(took >= 0.29 && took < 0.3 + 2 * TestTiming.scale, "the check ran \(took) s")
            // Killed checks leave nothing: at most the check under way is sleeping.
            let sleepers = HostProcesses.carrying(s.marker).filter { $0.command.contains("sleep 100") && !$0.command.contains("sleep 1000") }
            #expect(sleepers.count <= 2, "\(sleepers)")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test(arguments: [
        (["--health-interval", "1s"], "--health-interval"), (["--health-cmd", "true", "--health-interval", "30"], "--health-interval"),
        (["--health-cmd", "true", "--health-timeout", "0s"], "--health-timeout"), (["--health-cmd", "true", "--health-retries", "0"], "--health-retries"),
        (["--health-cmd", ""], "--health-cmd"), (["--health-cmd", "true", "--health-start-period", "-1s"], "--health-start-period"),
    ])
    func badHealthFlagIsRefusedNamingItAndCreatesNothing(_ flags: [String], _ named: String) async throws {
        try await withCtrSandbox { s in
            let result = try await s.ctr(["run", "-d"] + flags + [s.rootfs, "--", "sleep", "1000"])
            #expect(result.status == 125 && !result.timedOut, "\(result)")
            #expect(result.errorLine.hasPrefix("ctr: flag \(named)") && !result.errorLine.contains("\n"), "\(result)")
            #expect(result.stdout.isEmpty)
            #expect(s.serviceEntries.isEmpty, "created \(s.serviceEntries)")
        }
    }
}
