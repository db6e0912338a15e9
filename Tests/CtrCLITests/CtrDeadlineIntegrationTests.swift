import Foundation
import Glibc
import Testing
import TestSupport

/// Every control request has a deadline: a supervisor stopped with SIGSTOP makes ctr fall back to
/// acting on the container itself, and the requests it gave up on are not acted on later.
@Suite(.timeLimit(.minutes(5)))
struct CtrDeadlineIntegrationTests {
    @Test func aStoppedSupervisorNeitherBlocksStopNorActsOnStaleRequests() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("stuck")
            try #require(try await s.ctr("run", "-d", "--name", name, "--restart", "always", s.rootfs, "--", "sh", "-c",
                                         "trap 'echo usr1' USR1; echo ready; while true; do sleep 0.1; done").succeeded)
            #expect(await eventually { (try? await s.ctr("logs", name))?.stdout == "ready\n" })
            let supervisor = try #require(s.pid(name, "supervisorPid"))
            let initPid = try #require(s.pid(name))

            kill(supervisor, SIGSTOP)
            // No answer in 10 s: the signal goes to the init directly.
            let killed = try await s.ctr("kill", "-s", "USR1", name)
            #expect(killed.succeeded && killed.stderr.contains("did not answer") && killed.stderr.contains("signalling the container's init directly"),
                    "\(killed)")
            kill(supervisor, SIGCONT)
            // The supervisor wakes up to the queued kill, whose client has gone: dropped. One USR1.
            #expect(await eventually { (try? await s.ctr("logs", name))?.stdout == "ready\nusr1\n" })
            try await Task.sleep(nanoseconds: 1_000_000_000)
            let logs = try await s.ctr("logs", name)
            #expect(logs.stdout == "ready\nusr1\n", "\(logs)")
            #expect(HostProcesses.isAlive(supervisor) && HostProcesses.isAlive(initPid))

            kill(supervisor, SIGSTOP)
            let began = Date()
            let stop = try await s.ctr(["stop", "-t", "1", name], timeout: 60 * TestTiming.scale)
            let took = Date().timeIntervalSince(began)
            #expect(stop.succeeded && stop.stdout == name + "\n" && stop.stderr.contains("did not answer the stop"), "\(stop)")
            // The grace period and the 10 s margin, then the fallback.
            #expect(took >= 10.5 && took < 11 + 10 * TestTiming.scale, "stop took \(took) s")
            #expect(await HostProcesses.waitGone(initPid), "the container outlived the stop")
            #expect(await HostProcesses.waitGone(supervisor), "the stuck supervisor was not ended")
            let ps = try await s.ctr("ps", "-a")
            #expect(ps.lines.contains { $0.hasPrefix(name + " ") && $0.contains("exited") }, "\(ps)")
            // Stopped by the user: it stays stopped (no restart), and it is marked so for boot.
            #expect(s.state(name) == "exited")
            #expect(FileManager.default.fileExists(atPath: "\(s.root)/\(name)/stopped"))
            #expect(try await s.ctr("rm", name).succeeded)
        }
    }
}
