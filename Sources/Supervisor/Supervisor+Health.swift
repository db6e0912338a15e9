import BerthCore
import Glibc
import Linux
import Runtime
import SupervisorAPI

/// The health check: `HealthMonitor` decides when a check runs and what its result means; this
/// runs the check (`healthProbe`) and acts on the verdict.
extension Supervisor {
    /// A container started (or was adopted): its health starts over.
    func resetHealth() {
        guard health != nil else { return }
        cancelHealthProbe()
        health?.reset(now: monotonicNanoseconds())
        status.health = HealthStatus()
    }

    /// The container is gone: no more checks until the next one starts.
    func suspendHealth() {
        cancelHealthProbe()
        health?.suspend()
    }

    private func cancelHealthProbe() {
        healthProbe?.cancel()
        healthProbe = nil
    }

    /// Whether a check now says something about the container.
    private var containerRuns: Bool { active != nil && status.state == .running }

    /// The health deadline passed: a check that ran too long fails, or the next one starts.
    func healthTimerFired(now: Int64) {
        guard var monitor = health else { return }
        let action = monitor.tick(now: now, running: containerRuns)
        health = monitor
        switch action {
        case .wait:
            break
        case .timeOutCheck:
            guard let result = healthProbe?.timeOut(after: monitor.check.timeoutMilliseconds) else { return }
            healthProbe = nil
            record(result)
        case .startCheck:
            guard let index = activeIndex else { return }
            do {
                let probe = try HealthProbe.start(monitor.check, store: containers.store, containerID: versions[index].id)
                healthProbe = probe
                health?.checkStarted(deadline: probe.deadline)
            } catch {
                let stamp = Timestamp.now()
                record(HealthResult(start: stamp, end: stamp, exitCode: nil, output: "health check could not start: \(error)"))
            }
        }
    }

    /// The check's output pipe is readable.
    func healthOutputReady() {
        healthProbe?.readOutput()
    }

    /// The check's pidfd is readable: it has exited.
    func healthCheckExited() {
        guard let result = healthProbe?.finish() else { return }
        healthProbe = nil
        record(result)
    }

    /// Called by the stray reaper for each child it collected: true when it was the check,
    /// whose status is then kept for `healthCheckExited`.
    func healthCheckReaped(_ pid: pid_t, _ termination: ProcessControl.Termination) -> Bool {
        guard healthProbe?.pid == pid else { return false }
        healthProbe?.reaped = termination
        return true
    }

    /// Books a result and acts on the service turning unhealthy.
    private func record(_ result: HealthResult) {
        guard var monitor = health else { return }
        var current = status.health ?? HealthStatus()
        let verdict = monitor.checkEnded(result, into: &current, now: monotonicNanoseconds(), running: containerRuns,
                                         policy: definition.restart, restartsSoFar: status.restartCount)
        health = monitor
        guard verdict != .ignored else { return }
        status.health = current
        saveStatus()
        guard case .unhealthy(let killReason) = verdict else { return }
        SupervisorLog.warn("unhealthy after \(current.failingStreak) consecutive health check failures")
        guard let killReason else { return }
        exitReason = killReason
        suspendHealth()
        killEverything()
    }
}
