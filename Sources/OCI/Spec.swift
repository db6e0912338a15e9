/// An OCI runtime-spec container configuration (`config.json`), runtime-spec v1.2.
///
/// Optional Swift properties are the spec's OPTIONAL fields: absent (or `null`) in JSON
/// is `nil`, and `nil` is omitted when encoding. Fields the spec marks REQUIRED for
/// Linux are non-optional, so a config missing one fails to decode with
/// `<path>: missing required field "<name>"`. Sections for other platforms (`windows`,
/// `solaris`, `vm`, `zos`) and unknown fields are ignored.
public struct Spec: Codable, Sendable, Equatable {
    /// The runtime-spec version this module implements and `berth spec` writes.
    public static let version = "1.2.0"

    /// SemVer version of the runtime-spec the bundle complies with.
    public var ociVersion: String
    /// The container process. Optional at `create` time in the spec; berth requires it
    /// when starting a container.
    public var process: Process?
    /// The container's root filesystem.
    public var root: Root?
    /// Hostname inside the container's UTS namespace.
    public var hostname: String?
    /// NIS domain name inside the container's UTS namespace.
    public var domainname: String?
    /// Additional mounts, performed in order after the root filesystem.
    public var mounts: [Mount]?
    /// Lifecycle hooks.
    public var hooks: Hooks?
    /// Arbitrary metadata.
    public var annotations: [String: String]?
    /// Linux-specific configuration.
    public var linux: LinuxConfig?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(
        ociVersion: String = Spec.version,
        process: Process? = nil,
        root: Root? = nil,
        hostname: String? = nil,
        domainname: String? = nil,
        mounts: [Mount]? = nil,
        hooks: Hooks? = nil,
        annotations: [String: String]? = nil,
        linux: LinuxConfig? = nil
    ) {
        self.ociVersion = ociVersion
        self.process = process
        self.root = root
        self.hostname = hostname
        self.domainname = domainname
        self.mounts = mounts
        self.hooks = hooks
        self.annotations = annotations
        self.linux = linux
    }
}

/// The container's root filesystem.
public struct Root: Codable, Sendable, Equatable {
    /// Path to the root filesystem, absolute or relative to the bundle.
    public var path: String
    /// Mount the root filesystem read-only; absent means false.
    public var readonly: Bool?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(path: String = "rootfs", readonly: Bool? = nil) {
        self.path = path
        self.readonly = readonly
    }
}

/// Commands run at points of the container lifecycle.
public struct Hooks: Codable, Sendable, Equatable {
    /// Deprecated: run in the runtime namespace after the container's namespaces exist.
    public var prestart: [Hook]?
    /// Run in the runtime namespace during `create`, after namespaces are created.
    public var createRuntime: [Hook]?
    /// Run in the container namespace during `create`, before `pivot_root`.
    public var createContainer: [Hook]?
    /// Run in the container namespace during `start`, before the user process.
    public var startContainer: [Hook]?
    /// Run in the runtime namespace after the user process starts.
    public var poststart: [Hook]?
    /// Run in the runtime namespace after the container is deleted.
    public var poststop: [Hook]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(
        prestart: [Hook]? = nil,
        createRuntime: [Hook]? = nil,
        createContainer: [Hook]? = nil,
        startContainer: [Hook]? = nil,
        poststart: [Hook]? = nil,
        poststop: [Hook]? = nil
    ) {
        self.prestart = prestart
        self.createRuntime = createRuntime
        self.createContainer = createContainer
        self.startContainer = startContainer
        self.poststart = poststart
        self.poststop = poststop
    }
}

/// One hook command. It receives the container state JSON on stdin.
public struct Hook: Codable, Sendable, Equatable {
    /// Absolute path of the executable.
    public var path: String
    /// Full argv, including argv[0].
    public var args: [String]?
    /// Environment, `KEY=value`.
    public var env: [String]?
    /// Seconds before the hook is aborted; must be positive.
    public var timeout: Int?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(path: String = "", args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
        self.path = path
        self.args = args
        self.env = env
        self.timeout = timeout
    }
}
