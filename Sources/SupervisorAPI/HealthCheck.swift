import BerthCore

/// `ctr run --health-cmd CMD ...`: a command the supervisor runs inside the container as
/// `/bin/sh -c CMD` every interval; exit 0 passes, anything else (or no exit within the timeout)
/// fails. Part of service.json.
public struct HealthCheck: Codable, Equatable, Sendable {
    public var command: String
    /// From the end of one check to the start of the next (and from the container's start to
    /// the first check).
    public var intervalMilliseconds: Int64
    /// A check still running after this is killed and counts as a failure.
    public var timeoutMilliseconds: Int64
    /// Consecutive failures that make the service unhealthy.
    public var retries: Int
    /// After each start, failures during this time do not count (a pass still counts).
    public var startPeriodMilliseconds: Int64

    public static let defaultIntervalMilliseconds: Int64 = 30_000
    public static let defaultTimeoutMilliseconds: Int64 = 30_000
    public static let defaultRetries = 3

    public init(command: String, intervalMilliseconds: Int64 = HealthCheck.defaultIntervalMilliseconds,
                timeoutMilliseconds: Int64 = HealthCheck.defaultTimeoutMilliseconds, retries: Int = HealthCheck.defaultRetries,
                startPeriodMilliseconds: Int64 = 0) {
        self.command = command
        self.intervalMilliseconds = intervalMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
        self.retries = retries
        self.startPeriodMilliseconds = startPeriodMilliseconds
    }

    /// The process the check runs, as docker runs `HEALTHCHECK CMD-SHELL`.
    public var arguments: [String] { ["/bin/sh", "-c", command] }
}

public enum HealthState: String, Codable, Sendable {
    /// No check has passed yet since the container (re)started, and too few have failed.
    case starting
    case healthy
    case unhealthy
}

/// One check: when it ran, how it ended and the start of what it printed.
public struct HealthResult: Codable, Equatable, Sendable {
    public var start: Timestamp
    public var end: Timestamp
    /// nil when the check did not exit on its own: killed at the timeout, ended by a signal,
    /// or never started (`output` says why).
    public var exitCode: Int32?
    /// Its stdout and stderr together, at most `HealthStatus.outputLimit` bytes.
    public var output: String

    public init(start: Timestamp, end: Timestamp, exitCode: Int32?, output: String) {
        self.start = start
        self.end = end
        self.exitCode = exitCode
        self.output = output
    }

    public var passed: Bool { exitCode == 0 }
}

/// The health part of status.json: present only for a service with a check.
public struct HealthStatus: Codable, Equatable, Sendable {
    public var state: HealthState
    public var failingStreak: Int
    /// The most recent checks, oldest first, at most `resultHistoryLength`.
    public var results: [HealthResult]

    public static let resultHistoryLength = 5
    /// How much of a check's output is kept.
    public static let outputLimit = 1024

    public init(state: HealthState = .starting, failingStreak: Int = 0, results: [HealthResult] = []) {
        self.state = state
        self.failingStreak = failingStreak
        self.results = results
    }

    /// Adds a result. A pass makes the service healthy and ends the streak; a failure outside
    /// the start period lengthens it, and at `retries` the service is unhealthy. Returns true
    /// only when this result made it unhealthy, so that the supervisor acts once per episode.
    public mutating func record(_ result: HealthResult, retries: Int, inStartPeriod: Bool) -> Bool {
        results.append(result)
        if results.count > HealthStatus.resultHistoryLength { results.removeFirst(results.count - HealthStatus.resultHistoryLength) }
        if result.passed {
            state = .healthy
            failingStreak = 0
            return false
        }
        if inStartPeriod { return false }
        failingStreak += 1
        guard failingStreak >= retries, state != .unhealthy else { return false }
        state = .unhealthy
        return true
    }

    /// The first `outputLimit` bytes of `bytes` as text, cut before a partial UTF-8 character,
    /// with `…` when something was left out.
    public static func excerpt(_ bytes: [UInt8]) -> String {
        guard bytes.count > outputLimit else { return String(decoding: bytes, as: UTF8.self) }
        var end = outputLimit
        // Back up over continuation bytes (10xxxxxx) to the start of the character that was cut.
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return String(decoding: bytes[..<end], as: UTF8.self) + "…"
    }
}
