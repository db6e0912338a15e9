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

    /// What its timers ask for at `now`, the decision `Supervisor.tendVersions` carries out.
    enum Step: Equatable {
        /// SIGTERM to its init, and its cgroup killed after `graceSeconds` (at once for 0); its
        /// forwarded connections are reset first when `resetConnections`.
        case stop(graceSeconds: Int, resetConnections: Bool)
        /// SIGKILL to its cgroup: its grace period is over.
        case kill
    }

    /// A draining version is stopped once its last forwarded connection closed, or at its drain
    /// deadline, with what it still holds reset (published ports) or killed at once (--listen,
    /// `sharesSockets`, whose connections the supervisor neither sees nor counts: the app
    /// closes them, then exits). A version being stopped is killed at the end of its grace period.
    func nextStep(now: Int64, connections: Int, sharesSockets: Bool) -> Step? {
        switch role {
        case .candidate:
            return nil
        case .draining:
            let idle = !sharesSockets && connections == 0
            let overdue = (drainDue ?? .max) <= now
            guard idle || overdue else { return nil }
            return .stop(graceSeconds: overdue && sharesSockets ? 0 : Supervisor.defaultStopTimeout, resetConnections: overdue)
        case .active, .stopping:
            guard let killDue, killDue <= now else { return nil }
            return .kill
        }
    }

    /// A version a dead supervisor ran beside the active one, as its status describes it, taken
    /// over at `now` (CLOCK_MONOTONIC; `wallNow` the same moment as wall time). Its forwarded
    /// connections died with that supervisor. A candidate never served: it is stopped and
    /// killed at once (the rollout is rolled back); so is a version that was stopping. A draining
    /// version keeps what is left of its drain (a --listen one still has its own connections).
    static func adopted(_ other: VersionStatus, container: ContainerRun, netns: FileDescriptor?, now: Int64, wallNow: Timestamp) -> VersionRun {
        let remaining = other.drainDeadline.map { $0.nanoseconds - wallNow.nanoseconds } ?? 0
        let role: Role = other.role == .draining ? .draining : .stopping
        return VersionRun(version: other.version, role: role, container: container, netns: netns,
                          killDue: role == .stopping ? now : nil,
                          drainDue: now + max(0, remaining), drainDeadline: other.drainDeadline)
    }

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
