import BerthCore
@testable import Supervisor
import SupervisorAPI
import Testing

/// When health checks run and what their results mean, with no check process.
struct HealthMonitorTests {
    static let ms: Int64 = 1_000_000

    static func monitor(retries: Int = 3, startPeriod: Int64 = 0) -> HealthMonitor {
        var monitor = HealthMonitor(check: HealthCheck(command: "true", intervalMilliseconds: 1_000, timeoutMilliseconds: 300,
                                                       retries: retries, startPeriodMilliseconds: startPeriod))
        monitor.reset(now: 0)
        return monitor
    }

    static func result(_ exitCode: Int32?) -> HealthResult {
        HealthResult(start: Timestamp(nanoseconds: 0), end: Timestamp(nanoseconds: 0), exitCode: exitCode, output: "")
    }

    @Test func oneCheckAtATimeAnIntervalAfterTheStartAndAfterTheLastOneEnded() {
        var monitor = Self.monitor()
        var health = HealthStatus()
        #expect(monitor.deadline == 1_000 * Self.ms)
        #expect(monitor.tick(now: 999 * Self.ms, running: true) == .wait)
        #expect(monitor.tick(now: 1_000 * Self.ms, running: true) == .startCheck)
        monitor.checkStarted(deadline: 1_300 * Self.ms)
        // While it runs, nothing but its timeout.
        #expect(monitor.deadline == 1_300 * Self.ms)
        #expect(monitor.tick(now: 1_299 * Self.ms, running: true) == .wait)
        #expect(monitor.checkEnded(Self.result(0), into: &health, now: 1_100 * Self.ms, running: true, policy: .always, restartsSoFar: 0)
                == .recorded)
        #expect(health.state == .healthy)
        #expect(monitor.deadline == 2_100 * Self.ms)
    }

    @Test func aCheckPastItsTimeoutIsTimedOut() {
        var monitor = Self.monitor()
        _ = monitor.tick(now: 1_000 * Self.ms, running: true)
        monitor.checkStarted(deadline: 1_300 * Self.ms)
        #expect(monitor.tick(now: 1_300 * Self.ms, running: true) == .timeOutCheck)
    }

    @Test func noCheckRunsWhileTheContainerDoesNotAndTheNextWaitsAnInterval() {
        var monitor = Self.monitor()
        #expect(monitor.tick(now: 1_000 * Self.ms, running: false) == .wait)
        #expect(monitor.deadline == 2_000 * Self.ms)
        monitor.suspend()
        #expect(monitor.deadline == nil)
        #expect(monitor.tick(now: .max, running: true) == .wait)
    }

    @Test func retriesInARowMakeItUnhealthyOnceAndKillItWhenThePolicyRestartsIt() {
        var monitor = Self.monitor(retries: 2)
        var health = HealthStatus()
        #expect(monitor.checkEnded(Self.result(1), into: &health, now: 0, running: true, policy: .always, restartsSoFar: 0) == .recorded)
        #expect(monitor.checkEnded(Self.result(nil), into: &health, now: 0, running: true, policy: .always, restartsSoFar: 0)
                == .unhealthy(killReason: "unhealthy: 2 consecutive health check failures"))
        // Once per episode.
        #expect(monitor.checkEnded(Self.result(1), into: &health, now: 0, running: true, policy: .always, restartsSoFar: 0) == .recorded)
        #expect(health.state == .unhealthy && health.failingStreak == 3)
    }

    @Test func anUnhealthyContainerThePolicyWouldNotRestartKeepsRunning() {
        var monitor = Self.monitor(retries: 1)
        var health = HealthStatus()
        #expect(monitor.checkEnded(Self.result(1), into: &health, now: 0, running: true, policy: .no, restartsSoFar: 0)
                == .unhealthy(killReason: nil))
        var limited = Self.monitor(retries: 1)
        var other = HealthStatus()
        #expect(limited.checkEnded(Self.result(1), into: &other, now: 0, running: true, policy: .onFailure(maximumRestarts: 1), restartsSoFar: 1)
                == .unhealthy(killReason: nil))
    }

    @Test func failuresInTheStartPeriodDoNotCount() {
        var monitor = Self.monitor(retries: 1, startPeriod: 5_000)
        var health = HealthStatus()
        #expect(monitor.checkEnded(Self.result(1), into: &health, now: 4_999 * Self.ms, running: true, policy: .always, restartsSoFar: 0)
                == .recorded)
        #expect(health.failingStreak == 0 && health.results.count == 1)
        #expect(monitor.checkEnded(Self.result(1), into: &health, now: 5_000 * Self.ms, running: true, policy: .always, restartsSoFar: 0)
                == .unhealthy(killReason: "unhealthy: 1 consecutive health check failures"))
    }

    @Test func aCheckThatEndsAfterThePauseOrStopSaysNothing() {
        var monitor = Self.monitor(retries: 1)
        var health = HealthStatus()
        #expect(monitor.checkEnded(Self.result(1), into: &health, now: 0, running: false, policy: .always, restartsSoFar: 0) == .ignored)
        #expect(health.results.isEmpty)
        #expect(monitor.deadline == 1_000 * Self.ms)
    }
}
