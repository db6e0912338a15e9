import BerthCore
import Glibc
import Linux
import Runtime
import SupervisorAPI

/// A version of the service with a container: the active one, a rollout's candidate, or an old
/// version draining its connections or being stopped. Each has its own container, fifos and
/// network namespace; its output pumps are in the loop's one list (`Supervisor.outputs`), tagged
/// with its id, since a pump may outlive its run.
struct VersionRun {
    enum Role: Equatable {
        /// Receives every new connection; the restart policy and the health check apply to it.
        case active
        case candidate
        case draining
        case stopping

        /// How status.json names a version beside the active one.
        var sideRole: VersionRole? {
            switch self {
            case .active: nil
            case .candidate: .candidate
            case .draining: .draining
            case .stopping: .stopping
            }
        }
    }

    var version: ServiceVersion
    var role: Role
    var container: ContainerRun
    /// Its network namespace, for connections to it; nil when it shares the host's.
    var netns: FileDescriptor?
    /// Its init's status, when the stray reaper collected it before the pidfd woke us.
    var reaped: ProcessControl.Termination?
    /// CLOCK_MONOTONIC time at which its cgroup is killed: the end of a stop's grace period.
    var killDue: Int64?
    /// CLOCK_MONOTONIC end of a draining version's drain, and the same moment as wall time for
    /// status.json.
    var drainDue: Int64?
    var drainDeadline: Timestamp?

    /// The container's id in the runtime's state store.
    var id: String { version.id }

    /// The loop's next deadline for this version.
    var deadline: Int64? { role == .draining ? drainDue : killDue }

    /// Its line in status.json's `others`; nil for the active version, which the status itself describes.
    func status(connections: Int? = nil) -> VersionStatus? {
        guard let role = role.sideRole else { return nil }
        return VersionStatus(version: version, role: role, pid: container.pid, pidStartTime: container.pidStartTime,
                             startedAt: container.startedAt, drainDeadline: drainDeadline, connections: connections)
    }

    /// The network namespace of `pid`'s init, or nil when it is the supervisor's own (a container
    /// on the host network, reached on the host's loopback).
    static func networkNamespace(of pid: pid_t) -> FileDescriptor? {
        guard let theirs = try? FileDescriptor.open("/proc/\(pid)/ns/net", O_RDONLY | O_CLOEXEC) else { return nil }
        guard let own = try? FileDescriptor.open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC) else { return theirs }
        defer { own.close() }
        if let mine = try? own.stat(), let other = try? theirs.stat(), mine.st_ino == other.st_ino, mine.st_dev == other.st_dev {
            theirs.close()
            return nil
        }
        return theirs
    }
}

/// A rollout under way: the candidate is the version in the `candidate` role.
struct RolloutInFlight {
    var request: RolloutRequest
    /// The candidate's config, which becomes the service's at the switch.
    var plan: LaunchPlan
    var configBytes: [UInt8]
    /// The ctr waiting for the outcome; nil once it has gone.
    var requester: FileDescriptor?
    /// CLOCK_MONOTONIC deadlines.
    var readyDue: Int64
    var nextProbe: Int64
    /// A readiness connect still in progress.
    var probe: FileDescriptor?
    /// The candidate's health check under way.
    var check: HealthProbe?
    /// Its failed checks in a row (after the start period), and what the last one printed.
    var failedChecks = 0
    var lastCheckOutput = ""

    /// How often readiness is probed.
    static let probeNanoseconds: Int64 = 100_000_000
    /// How long a candidate with nothing to probe must stay up to count as ready.
    static let survivalNanoseconds: Int64 = 1_000_000_000
}
