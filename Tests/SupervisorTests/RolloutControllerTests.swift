import Glibc
import Linux
@testable import Supervisor
import SupervisorAPI
import Testing

/// The hand-off's decisions, with no process and no socket: each rule HandoffIntegrationTests
/// checks end to end (readiness, the switch, rollback on exit, on the ready deadline and on
/// failed health checks), one at a time and to the nanosecond.
struct RolloutControllerTests {
    static let ms: Int64 = 1_000_000

    static func rollout(_ readiness: RolloutController.Readiness, sharesSockets: Bool = false, readyTimeout: Int = 30_000,
                        drainTimeout: Int = 300_000, drainSignal: Int32 = SIGTERM, candidateStarted: Int64 = 0) -> RolloutController {
        let v2 = ServiceVersion(number: 2, id: "bbbb", source: "/v2", bundle: "/v2", rootfs: "/v2", command: ["webapp"])
        let request = RolloutRequest(version: v2, readyTimeout: readyTimeout, drainTimeout: drainTimeout, drainSignal: drainSignal)
        return RolloutController(request: request, readiness: readiness, sharesSockets: sharesSockets,
                                 candidateStarted: candidateStarted, now: candidateStarted)
    }

    @Test func aPortProbeIsMadeEveryHundredMillisecondsAndTheOneThatConnectsSwitches() {
        var rollout = Self.rollout(.port, drainTimeout: 5_000)
        #expect(rollout.tick(now: 0) == .probe)
        #expect(rollout.probed(.notReady, now: 0) == .wait)
        #expect(rollout.deadline == 100 * Self.ms)
        #expect(rollout.tick(now: 99 * Self.ms) == .wait)
        #expect(rollout.tick(now: 100 * Self.ms) == .probe)
        // The switch comes in the turn of the probe that passed; the old version drains from then on.
        #expect(rollout.probed(.ready, now: 130 * Self.ms) == .promote(drainDue: 5_130 * Self.ms, drainSignal: nil))
    }

    @Test func aListenServiceIsReadyAfterASecondUpAndTheOldVersionGetsTheDrainSignal() {
        var rollout = Self.rollout(.survival, sharesSockets: true, drainTimeout: 1_000, drainSignal: SIGUSR1)
        for tenth in Int64(0)..<10 {
            #expect(rollout.tick(now: tenth * 100 * Self.ms) == .wait, "at \(tenth * 100) ms")
        }
        #expect(rollout.tick(now: 1_000 * Self.ms) == .promote(drainDue: 2_000 * Self.ms, drainSignal: SIGUSR1))
    }

    @Test func aPassingHealthCheckMakesTheCandidateReady() {
        var rollout = Self.rollout(.healthCheck(retries: 3, startPeriod: 0))
        #expect(rollout.tick(now: 0) == .probe)
        #expect(rollout.probed(.checkFailed(output: "no"), now: 0) == .wait)
        #expect(rollout.tick(now: 100 * Self.ms) == .probe)
        #expect(rollout.probed(.ready, now: 100 * Self.ms) == .promote(drainDue: 300_100 * Self.ms, drainSignal: nil))
    }

    @Test func failedChecksInTheStartPeriodDoNotCountAndRetriesInARowRollBackWithTheLastOutput() {
        var rollout = Self.rollout(.healthCheck(retries: 2, startPeriod: 500 * Self.ms), readyTimeout: 60_000)
        #expect(rollout.probed(.checkFailed(output: "starting\n"), now: 100 * Self.ms) == .wait)
        #expect(rollout.probed(.checkFailed(output: "starting\n"), now: 499 * Self.ms) == .wait)
        #expect(rollout.failedChecks == 0)
        #expect(rollout.probed(.checkFailed(output: "first\n"), now: 500 * Self.ms) == .wait)
        #expect(rollout.failedChecks == 1)
        // Rolled back at once, long before the ready deadline, with the first line of what it printed.
        #expect(rollout.probed(.checkFailed(output: "grep: no match\nsecond line"), now: 600 * Self.ms)
                == .rollBack(reason: "version 2 failed its health check 2 times in a row: grep: no match"))
    }

    @Test func aCheckWithoutOutputRollsBackWithoutAColon() {
        var rollout = Self.rollout(.healthCheck(retries: 1, startPeriod: 0))
        #expect(rollout.probed(.checkFailed(output: ""), now: 0) == .rollBack(reason: "version 2 failed its health check 1 times in a row"))
    }

    @Test func aCandidateNotReadyByTheReadyTimeoutIsRolledBack() {
        var rollout = Self.rollout(.port, readyTimeout: 2_000, candidateStarted: 7 * Self.ms)
        #expect(rollout.tick(now: 2_006 * Self.ms) == .probe)
        #expect(rollout.probed(.notReady, now: 2_006 * Self.ms) == .wait)
        // The deadline wins over a probe due at the same moment.
        #expect(rollout.tick(now: 2_007 * Self.ms) == .rollBack(reason: "version 2 did not become ready within 2 s"))
        var fractional = Self.rollout(.survival, readyTimeout: 1_500)
        #expect(fractional.tick(now: 1_500 * Self.ms) == .rollBack(reason: "version 2 did not become ready within 1.5 s"))
    }

    @Test func aCandidateThatExitsBeforeItIsReadyIsRolledBackSayingHow() {
        let rollout = Self.rollout(.port)
        #expect(rollout.candidateExited(.exited(3)) == .rollBack(reason: "version 2 exited with status 3 before it was ready"))
        #expect(rollout.candidateExited(.signaled(9)) == .rollBack(reason: "version 2 was killed by signal 9 before it was ready"))
        #expect(rollout.candidateExited(nil) == .rollBack(reason: "version 2 exited before it was ready"))
    }
}
