import BerthCore
import Glibc
import Linux
import Runtime
import SupervisorAPI

/// A version of the service running beside the active one: a rollout's candidate, or an old
/// version draining its connections. It has its own container, fifos and log pumps; its
/// output goes to the same log.
struct SideVersion {
    var version: ServiceVersion
    var plan: LaunchPlan
    var configBytes: [UInt8]
    var run: ContainerRun
    /// Its network namespace, for connections to it; nil when it shares the host's.
    var netns: FileDescriptor?
    var pumps: [LogPump]
    var role: VersionRole
    /// CLOCK_MONOTONIC, and the same moment as wall time for status.json.
    var drainDue: Int64?
    var drainDeadline: Timestamp?
    /// When a stopping version's cgroup is killed.
    var killDue: Int64?
    /// Its init's status, when the stray reaper collected it before the pidfd woke us.
    var reaped: ProcessControl.Termination?

    func status(connections: Int? = nil) -> VersionStatus {
        VersionStatus(version: version, role: role, pid: run.pid, pidStartTime: run.pidStartTime, startedAt: run.startedAt,
                      drainDeadline: drainDeadline, connections: connections)
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

/// A rollout under way: the candidate is the side version in the `candidate` role.
struct RolloutInFlight {
    var request: RolloutRequest
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
