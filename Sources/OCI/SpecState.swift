/// Container state as reported by `berth state` and passed to hooks on stdin.
public struct State: Codable, Sendable, Equatable {
    /// runtime-spec version of this state document.
    public var ociVersion: String
    /// Container ID, unique on this host.
    public var id: String
    public var status: ContainerStatus
    /// Host PID of the container process; present when created or running.
    public var pid: Int?
    /// Absolute path of the bundle directory.
    public var bundle: String
    /// The config's annotations.
    public var annotations: [String: String]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(ociVersion: String = Spec.version, id: String = "", status: ContainerStatus = .creating,
                pid: Int? = nil, bundle: String = "", annotations: [String: String]? = nil) {
        self.ociVersion = ociVersion
        self.id = id
        self.status = status
        self.pid = pid
        self.bundle = bundle
        self.annotations = annotations
    }
}

/// Lifecycle status of a container.
public enum ContainerStatus: String, OCIStringEnum, CaseIterable {
    /// `create` is in progress.
    case creating
    /// `create` finished; the user process has not run yet.
    case created
    /// The user process is running.
    case running
    /// The user process exited.
    case stopped
    /// Frozen by `pause`; not in the spec, but runc reports it and tools expect it.
    case paused

    public static var valueDescription: String { "container status" }
}

/// What the runtime sends to a seccomp listener (`linux.seccomp.listenerPath`) along
/// with the notify file descriptor.
public struct ContainerProcessState: Codable, Sendable, Equatable {
    public var ociVersion: String
    /// Names of the passed file descriptors, in order; `seccompFd` for the notify fd.
    public var fds: [String]
    /// Host PID of the process the filter was installed in.
    public var pid: Int
    /// `linux.seccomp.listenerMetadata`.
    public var metadata: String?
    public var state: State

    /// The name of the seccomp notify descriptor in `fds`.
    public static let seccompFdName = "seccompFd"

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(ociVersion: String = Spec.version, fds: [String] = [], pid: Int = 0, metadata: String? = nil,
                state: State = State()) {
        self.ociVersion = ociVersion
        self.fds = fds
        self.pid = pid
        self.metadata = metadata
        self.state = state
    }
}
