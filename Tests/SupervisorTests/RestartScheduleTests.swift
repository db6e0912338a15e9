import Glibc
import Linux
@testable import Supervisor
import SupervisorAPI
import Testing

/// Whether and when the active version is restarted after its run ended, with no container.
struct RestartScheduleTests {
    static let ms: Int64 = 1_000_000

    @Test func aFailedRunIsRestartedAfterTheBackoffAndTheTimerFiresOnce() {
        var restarts = RestartSchedule()
        let decision = restarts.runEnded(.exited(1), uptime: 0, policy: .always, restartsSoFar: 0, stopRequested: false, now: 1_000 * Self.ms)
        #expect(decision == .restart(due: 1_100 * Self.ms, delay: 100 * Self.ms))
        #expect(restarts.due == 1_100 * Self.ms)
        let fired = [restarts.fire(now: 1_099 * Self.ms), restarts.fire(now: 1_100 * Self.ms), restarts.fire(now: 2_000 * Self.ms)]
        #expect(fired == [false, true, false])
        #expect(restarts.due == nil)
    }

    @Test func quickFailuresDoubleTheDelayAndTenSecondsUpStartItOver() {
        var restarts = RestartSchedule()
        func delay(afterUptime uptime: Int64) -> Int64? {
            guard case .restart(_, let delay) = restarts.runEnded(.signaled(SIGKILL), uptime: uptime, policy: .always, restartsSoFar: 0,
                                                                  stopRequested: false, now: 0) else { return nil }
            return delay
        }
        #expect([delay(afterUptime: 0), delay(afterUptime: 0), delay(afterUptime: 9_999 * Self.ms)] == [100 * Self.ms, 200 * Self.ms, 400 * Self.ms])
        #expect(delay(afterUptime: 10_000 * Self.ms) == 100 * Self.ms)
    }

    @Test func thePolicyAndAStopDecideWhetherTheServiceEnds() {
        var restarts = RestartSchedule()
        let onFailure = RestartPolicy.onFailure(maximumRestarts: 2)
        #expect(restarts.runEnded(.exited(0), uptime: 0, policy: onFailure, restartsSoFar: 0, stopRequested: false, now: 0) == .end)
        #expect(restarts.runEnded(.exited(1), uptime: 0, policy: onFailure, restartsSoFar: 2, stopRequested: false, now: 0) == .end)
        #expect(restarts.runEnded(.exited(1), uptime: 0, policy: .no, restartsSoFar: 0, stopRequested: false, now: 0) == .end)
        // An unknown status (an adopted run, a container that could not be created) counts as a failure.
        #expect(restarts.runEnded(nil, uptime: 0, policy: onFailure, restartsSoFar: 1, stopRequested: false, now: 0) != .end)
        // A stop asked for wins over any policy, and leaves no restart due.
        #expect(restarts.runEnded(.exited(1), uptime: 0, policy: .always, restartsSoFar: 0, stopRequested: true, now: 0) == .end)
        #expect(restarts.due == nil)
    }

    @Test func aNewActiveVersionStartsAFreshBackoff() {
        var restarts = RestartSchedule()
        for _ in 0..<5 { _ = restarts.runEnded(.exited(1), uptime: 0, policy: .always, restartsSoFar: 0, stopRequested: false, now: 0) }
        restarts.startOver()
        #expect(restarts.due == nil)
        #expect(restarts.runEnded(.exited(1), uptime: 0, policy: .always, restartsSoFar: 0, stopRequested: false, now: 0)
                == .restart(due: 100 * Self.ms, delay: 100 * Self.ms))
        restarts.cancel()
        let fired = restarts.fire(now: .max)
        #expect(!fired)
    }
}
