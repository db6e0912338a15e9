import Linux
import SupervisorAPI

/// Whether and when the active version comes back after its run ended, as a value: the restart
/// policy and the back-off decide from the exit, the run's uptime and the time. It starts
/// nothing: the loop restarts the container when `fire` says so (Supervisor+Lifecycle).
struct RestartSchedule: Equatable {
    enum Decision: Equatable {
        /// The service ends (once its side versions are gone).
        case end
        /// The container is started again after `delay`, at CLOCK_MONOTONIC `due`.
        case restart(due: Int64, delay: Int64)
    }

    private(set) var backoff = RestartBackoff()
    /// CLOCK_MONOTONIC time of the restart to come; nil when none is.
    private(set) var due: Int64?

    /// The active version's run ended with `termination` (nil when its status is unknown) after
    /// `uptime` nanoseconds, or its container could not be created (uptime 0). A stop asked for
    /// overrides the policy.
    mutating func runEnded(_ termination: ProcessControl.Termination?, uptime: Int64, policy: RestartPolicy, restartsSoFar: Int,
                           stopRequested: Bool, now: Int64) -> Decision {
        guard !stopRequested, policy.restarts(after: termination, restartsSoFar: restartsSoFar) else {
            due = nil
            return .end
        }
        let delay = backoff.delay(afterUptime: uptime)
        due = now + delay
        return .restart(due: now + delay, delay: delay)
    }

    /// The timer: true, once, when the restart is due.
    mutating func fire(now: Int64) -> Bool {
        guard let due, due <= now else { return false }
        self.due = nil
        return true
    }

    /// No restart: the service is stopping or has ended.
    mutating func cancel() { due = nil }

    /// A new version became active: its failures start a back-off of their own.
    mutating func startOver() { self = RestartSchedule() }
}
