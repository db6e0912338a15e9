import Glibc
import Linux
import SupervisorAPI

/// The health check's timing and verdicts, as a value: one check at a time, the next one an
/// interval after the last ended, a start period after each start in which failures do not
/// count, checks only while the container runs, and the kill of a container that turned
/// unhealthy when the restart policy will bring it back. It runs nothing: the loop starts the
/// check (`HealthProbe`) when told to and reports how it ended (Supervisor+Health).
struct HealthMonitor: Equatable {
    enum Action: Equatable {
        case wait
        /// Start a check, and report its deadline with `checkStarted`.
        case startCheck
        /// The running check is past its timeout: kill it and report it failed.
        case timeOutCheck
    }

    enum Verdict: Equatable {
        /// Said nothing about the container (it was paused, stopping or gone): not recorded.
        case ignored
        case recorded
        /// This result made the container unhealthy; `killReason` is set when it is to be killed
        /// (and restarted), nil when the policy would not restart it, so it keeps running.
        case unhealthy(killReason: String?)
    }

    let check: HealthCheck
    /// CLOCK_MONOTONIC time of the next check, while none runs; nil while no container runs.
    private(set) var nextCheck: Int64?
    /// When the running check is killed; nil while none runs.
    private(set) var checkDeadline: Int64?
    private(set) var startPeriodEnds: Int64 = 0

    init(check: HealthCheck) { self.check = check }

    /// The loop's next deadline for health: the running check's timeout or the next check.
    var deadline: Int64? { checkDeadline ?? nextCheck }

    private var interval: Int64 { check.intervalMilliseconds * 1_000_000 }

    /// A container started (or was adopted): its health starts over, and the first check comes
    /// an interval later.
    mutating func reset(now: Int64) {
        checkDeadline = nil
        nextCheck = now + interval
        startPeriodEnds = now + check.startPeriodMilliseconds * 1_000_000
    }

    /// The container is gone: no checks until the next one starts.
    mutating func suspend() {
        checkDeadline = nil
        nextCheck = nil
    }

    /// The timer. `running`: the container runs (not paused, whose check would be frozen with
    /// it; not stopping; not between runs); otherwise the check waits another interval.
    mutating func tick(now: Int64, running: Bool) -> Action {
        if let checkDeadline { return checkDeadline <= now ? .timeOutCheck : .wait }
        guard let due = nextCheck, due <= now else { return .wait }
        guard running else {
            nextCheck = now + interval
            return .wait
        }
        nextCheck = nil
        return .startCheck
    }

    /// The loop started the check, which is killed at `deadline`.
    mutating func checkStarted(deadline: Int64) { checkDeadline = deadline }

    /// A check ended (passed, failed, timed out or could not start): the next one is an interval
    /// away, and the result goes into `health` unless the container stopped running meanwhile.
    mutating func checkEnded(_ result: HealthResult, into health: inout HealthStatus, now: Int64, running: Bool,
                             policy: RestartPolicy, restartsSoFar: Int) -> Verdict {
        checkDeadline = nil
        nextCheck = now + interval
        guard running else { return .ignored }
        guard health.record(result, retries: check.retries, inStartPeriod: now < startPeriodEnds) else { return .recorded }
        // Killed only when the policy will bring it back; otherwise it keeps running, unhealthy.
        guard policy.restarts(after: .signaled(SIGKILL), restartsSoFar: restartsSoFar) else { return .unhealthy(killReason: nil) }
        return .unhealthy(killReason: "unhealthy: \(health.failingStreak) consecutive health check failures")
    }
}
