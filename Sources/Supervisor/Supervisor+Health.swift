import BerthCore
import Glibc
import Linux
import Runtime
import SupervisorAPI

/// The health check's timing: one check at a time, the next one an interval after the last
/// ended, and a start period after each start in which failures do not count.
struct HealthSchedule {
    let check: HealthCheck
    var probe: HealthProbe?
    /// CLOCK_MONOTONIC time of the next check, while none runs; nil while no container runs.
    var nextCheck: Int64?
    var startPeriodEnds: Int64 = 0

    init(check: HealthCheck) { self.check = check }

    /// The loop's next deadline for health: the running check's timeout or the next check.
    var deadline: Int64? { probe?.deadline ?? nextCheck }

    var intervalNanoseconds: Int64 { check.intervalMilliseconds * 1_000_000 }
}

extension Supervisor {
    /// A container started (or was adopted): its health starts over, and the first check comes
    /// an interval later.
    func resetHealth() {
        guard var schedule = health else { return }
        schedule.probe?.cancel()
        schedule.probe = nil
        let now = monotonicNanoseconds()
        schedule.nextCheck = now + schedule.intervalNanoseconds
        schedule.startPeriodEnds = now + schedule.check.startPeriodMilliseconds * 1_000_000
        health = schedule
        status.health = HealthStatus()
    }

    /// The container is gone: no more checks until the next one starts.
    func suspendHealth() {
        health?.probe?.cancel()
        health?.probe = nil
        health?.nextCheck = nil
    }

    /// The health deadline passed: a check that ran too long fails, or the next one starts.
    func healthTimerFired(now: Int64) {
        guard let schedule = health else { return }
        if let probe = schedule.probe {
            guard probe.deadline <= now else { return }
            guard let result = health?.probe?.timeOut(after: schedule.check.timeoutMilliseconds) else { return }
            health?.probe = nil
            record(result)
            return
        }
        guard let due = schedule.nextCheck, due <= now else { return }
        // Checks run only while the container runs: not paused (the check would be frozen with
        // it), stopping, or between runs.
        guard active != nil, status.state == .running else {
            health?.nextCheck = now + schedule.intervalNanoseconds
            return
        }
        health?.nextCheck = nil
        do {
            health?.probe = try HealthProbe.start(schedule.check, store: containers.store, containerID: plan.id)
        } catch {
            let stamp = Timestamp.now()
            record(HealthResult(start: stamp, end: stamp, exitCode: nil, output: "health check could not start: \(error)"))
        }
    }

    /// The check's output pipe is readable.
    func healthOutputReady() {
        health?.probe?.readOutput()
    }

    /// The check's pidfd is readable: it has exited.
    func healthCheckExited() {
        guard let result = health?.probe?.finish() else { return }
        health?.probe = nil
        record(result)
    }

    /// Called by the stray reaper for each child it collected: true when it was the check,
    /// whose status is then kept for `healthCheckExited`.
    func healthCheckReaped(_ pid: pid_t, _ termination: ProcessControl.Termination) -> Bool {
        guard health?.probe?.pid == pid else { return false }
        health?.probe?.reaped = termination
        return true
    }

    /// Books a result, schedules the next check, and acts on the service turning unhealthy.
    private func record(_ result: HealthResult) {
        guard let schedule = health else { return }
        let now = monotonicNanoseconds()
        health?.nextCheck = now + schedule.intervalNanoseconds
        // A check that ended as the container was paused or stopped says nothing about it.
        guard active != nil, status.state == .running else { return }
        var current = status.health ?? HealthStatus()
        let turnedUnhealthy = current.record(result, retries: schedule.check.retries, inStartPeriod: now < schedule.startPeriodEnds)
        status.health = current
        saveStatus()
        guard turnedUnhealthy else { return }
        SupervisorLog.warn("unhealthy after \(current.failingStreak) consecutive health check failures")
        // Killed only when the policy will bring it back; otherwise it keeps running, unhealthy.
        guard definition.restart.restarts(after: .signaled(SIGKILL), restartsSoFar: status.restartCount) else { return }
        exitReason = "unhealthy: \(current.failingStreak) consecutive health check failures"
        suspendHealth()
        killEverything()
    }
}
