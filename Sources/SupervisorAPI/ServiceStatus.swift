import BerthCore
import Linux

/// Where a service is in its life, as the supervisor last recorded it.
public enum ServiceState: String, Codable, Sendable, CaseIterable {
    /// The supervisor is creating the first container.
    case starting
    case running
    case paused
    /// The container exited and the restart policy asked for another; waiting out the back-off.
    case restarting
    /// A stop is under way: the stop signal was sent, the grace period is running.
    case stopping
    /// The container has ended for good and the supervisor has exited.
    case exited

    /// Whether a supervisor should be alive in this state.
    public var isActive: Bool { self != .exited }
}

/// One run of the container, from start to exit.
public struct ExitRecord: Codable, Equatable, Sendable {
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp
    /// The exit code, when the init exited.
    public var exitCode: Int32?
    /// The signal, when a signal ended the init.
    public var signal: Int32?
    /// The kernel's OOM killer killed a process of the container during this run.
    public var oomKilled: Bool
    /// Why the container could not be created or started, when it could not.
    public var error: String?
    /// When the restart that followed this exit was due: `finishedAt` plus the back-off.
    public var restartAt: Timestamp?

    public init(startedAt: Timestamp?, finishedAt: Timestamp, exitCode: Int32? = nil, signal: Int32? = nil,
                oomKilled: Bool = false, error: String? = nil) {
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.signal = signal
        self.oomKilled = oomKilled
        self.error = error
    }

    public init(startedAt: Timestamp?, finishedAt: Timestamp, termination: ProcessControl.Termination, oomKilled: Bool) {
        switch termination {
        case .exited(let code): self.init(startedAt: startedAt, finishedAt: finishedAt, exitCode: code, oomKilled: oomKilled)
        case .signaled(let signal): self.init(startedAt: startedAt, finishedAt: finishedAt, signal: signal, oomKilled: oomKilled)
        }
    }

    /// The shell's convention: the exit code, or 128+N for signal N; nil when the container
    /// never ran or the exit could not be observed.
    public var shellStatus: Int32? {
        if let exitCode { return exitCode }
        if let signal { return 128 + signal }
        return nil
    }

    public var termination: ProcessControl.Termination? {
        if let exitCode { return .exited(exitCode) }
        if let signal { return .signaled(signal) }
        return nil
    }
}

/// `<root>/<name>/status.json`, written atomically by the supervisor at every change, and read
/// by `ctr ps` without asking the supervisor.
public struct ServiceStatus: Codable, Equatable, Sendable {
    public var state: ServiceState
    /// The supervisor's pid and its start time (/proc/PID/stat), which together name it across
    /// pid reuse: a live pid with another start time is not our supervisor.
    public var supervisorPid: Int32
    public var supervisorStartTime: UInt64
    /// The container's init as the host sees it; 0 when no container runs.
    public var pid: Int32
    /// With `pid`, names the init across pid reuse.
    public var pidStartTime: UInt64
    /// When the current (or last) container started.
    public var startedAt: Timestamp?
    public var restartCount: Int
    /// When the supervisor will create the next container, while restarting.
    public var nextRestartAt: Timestamp?
    /// A stop was asked for: the restart policy no longer applies.
    public var stopRequested: Bool
    /// The most recent exits, oldest first, at most `exitHistoryLength`.
    public var exits: [ExitRecord]
    /// The current container's health, for a service with a check; it starts over at every start.
    public var health: HealthStatus?
    /// The active version's number: 1 until the first rollout (nil in files from before them).
    public var version: Int?
    /// The active version after a switch. Written before service.json and the configs follow
    /// it, so a supervisor adopting the service can finish a switch its predecessor died in.
    public var activeVersion: ServiceVersion?
    /// Versions running beside the active one (a rollout's candidate, old versions draining).
    public var others: [VersionStatus]?
    /// The active version's open forwarded connections, in answers to `status` only.
    public var connections: Int?

    public static let exitHistoryLength = 20

    public init(state: ServiceState, supervisorPid: Int32 = 0, supervisorStartTime: UInt64 = 0, pid: Int32 = 0,
                pidStartTime: UInt64 = 0, startedAt: Timestamp? = nil, restartCount: Int = 0, nextRestartAt: Timestamp? = nil,
                stopRequested: Bool = false, exits: [ExitRecord] = [], health: HealthStatus? = nil) {
        self.state = state
        self.supervisorPid = supervisorPid
        self.supervisorStartTime = supervisorStartTime
        self.pid = pid
        self.pidStartTime = pidStartTime
        self.startedAt = startedAt
        self.restartCount = restartCount
        self.nextRestartAt = nextRestartAt
        self.stopRequested = stopRequested
        self.exits = exits
        self.health = health
    }

    public var lastExit: ExitRecord? { exits.last }

    public mutating func record(_ exit: ExitRecord) {
        exits.append(exit)
        if exits.count > ServiceStatus.exitHistoryLength { exits.removeFirst(exits.count - ServiceStatus.exitHistoryLength) }
    }
}
