import Linux
import SupervisorAPI

/// One rollout's decisions, as a value: from its state, an event (the timer, a readiness probe's
/// result, the candidate's exit) and the time, what the loop does next. It holds no descriptor
/// and starts no process, so every rule of docs/handoff.md's readiness, switch and rollback is
/// unit-tested without either; Supervisor+Rollout runs the probes and carries the actions out.
struct RolloutController: Equatable {
    /// What makes the candidate ready (docs/handoff.md, "Readiness").
    enum Readiness: Equatable {
        /// A health check run in the candidate passes. Failures count only after the start
        /// period (nanoseconds after the candidate's start); `retries` in a row roll it back.
        case healthCheck(retries: Int, startPeriod: Int64)
        /// The first published port accepts a connection made in the candidate's namespace.
        case port
        /// It stays up for `survivalNanoseconds`: a --listen service has nothing to probe.
        case survival
    }

    enum Action: Equatable {
        /// Nothing before the next deadline.
        case wait
        /// Run the readiness probe (a connect or a health check) and report it with `probed`.
        case probe
        /// The switch: new connections go to the candidate from now on; the old version drains
        /// until `drainDue` and, when it shares --listen sockets, is sent `drainSignal` to stop
        /// accepting.
        case promote(drainDue: Int64, drainSignal: Int32?)
        /// Remove the candidate; the active version was never touched.
        case rollBack(reason: String)
    }

    /// What a readiness probe found.
    enum ProbeResult: Equatable {
        case ready
        /// Not yet: a connect refused or still under way, a check still running or not started.
        case notReady
        /// A health check ended and failed, having printed `output`.
        case checkFailed(output: String)
    }

    let request: RolloutRequest
    let readiness: Readiness
    /// Whether the versions share --listen sockets, so that both accept until the switch.
    let sharesSockets: Bool
    /// CLOCK_MONOTONIC times: the candidate's start, when it must be ready, the next probe.
    let candidateStarted: Int64
    let readyDue: Int64
    private(set) var nextProbe: Int64
    /// The candidate's failed checks in a row (after the start period), and what the last printed.
    private(set) var failedChecks = 0
    private(set) var lastCheckOutput = ""

    /// How often readiness is probed.
    static let probeNanoseconds: Int64 = 100_000_000
    /// How long a candidate with nothing to probe must stay up to count as ready.
    static let survivalNanoseconds: Int64 = 1_000_000_000

    /// A rollout whose candidate started at `candidateStarted`; the first probe is due at once.
    init(request: RolloutRequest, readiness: Readiness, sharesSockets: Bool, candidateStarted: Int64, now: Int64) {
        self.request = request
        self.readiness = readiness
        self.sharesSockets = sharesSockets
        self.candidateStarted = candidateStarted
        readyDue = now + Int64(request.readyTimeout) * 1_000_000
        nextProbe = now
    }

    /// The loop's next deadline for the rollout.
    var deadline: Int64 { min(readyDue, nextProbe) }

    /// The timer: past the ready deadline the candidate is rolled back; else a probe when one is due.
    mutating func tick(now: Int64) -> Action {
        if now >= readyDue {
            return .rollBack(reason: "version \(request.version.number) did not become ready within \(Self.seconds(request.readyTimeout))")
        }
        guard now >= nextProbe else { return .wait }
        nextProbe = now + RolloutController.probeNanoseconds
        guard readiness == .survival else { return .probe }
        return now - candidateStarted >= RolloutController.survivalNanoseconds ? promote(now: now) : .wait
    }

    /// A probe's result: the switch happens in the same turn as the probe that passed.
    mutating func probed(_ result: ProbeResult, now: Int64) -> Action {
        switch result {
        case .ready:
            return promote(now: now)
        case .checkFailed(let output):
            // As for a running service, failures in the start period do not count.
            if case .healthCheck(_, let startPeriod) = readiness, now - candidateStarted >= startPeriod {
                failedChecks += 1
                lastCheckOutput = String(output.prefix(200).split(separator: "\n").first ?? "")
            }
        case .notReady:
            break
        }
        // An unhealthy candidate is rolled back at once, without waiting for the ready deadline.
        if case .healthCheck(let retries, _) = readiness, failedChecks >= retries {
            return .rollBack(reason: "version \(request.version.number) failed its health check \(failedChecks) times in a row"
                             + (lastCheckOutput.isEmpty ? "" : ": \(lastCheckOutput)"))
        }
        return .wait
    }

    /// The candidate's init exited (`termination` nil: its status is out of reach) before it was ready.
    func candidateExited(_ termination: ProcessControl.Termination?) -> Action {
        let how = switch termination {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "was killed by signal \(signal)"
        case nil: "exited"
        }
        return .rollBack(reason: "version \(request.version.number) \(how) before it was ready")
    }

    private func promote(now: Int64) -> Action {
        .promote(drainDue: now + Int64(request.drainTimeout) * 1_000_000, drainSignal: sharesSockets ? request.drainSignal : nil)
    }

    /// Milliseconds as seconds for a message: "2 s", "1.5 s".
    private static func seconds(_ milliseconds: Int) -> String {
        let seconds = Double(milliseconds) / 1000
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
