import BerthCore

/// What `ctr run` asked for, in `<root>/<name>/service.json`. Written once by ctr before the
/// supervisor starts; the container's config.json sits beside it.
public struct ServiceDefinition: Codable, Equatable, Sendable {
    public var name: String
    /// The container's id in the runtime's state store (`<root>/<name>/runtime/<id>`) and its
    /// cgroup (`ctr/<id>`). It stays the same across restarts.
    public var id: String
    /// The ROOTFS or BUNDLE argument, made absolute.
    public var source: String
    /// The directory LaunchPlan resolves relative paths against: the user's bundle, or the
    /// service directory for a plain rootfs.
    public var bundle: String
    /// The rootfs directory, for resolving user names in `ctr exec -u`.
    public var rootfs: String
    public var command: [String]
    public var restart: RestartPolicy
    /// `--rm`: the supervisor removes the service once the container has ended for good.
    public var removeWhenDone: Bool
    public var limits: ServiceLimits
    /// The size at which the log file is rotated to log.1.
    public var logMaximumBytes: Int
    public var created: Timestamp
    /// `--health-cmd` and its timing; nil without a check (and in files written before checks existed).
    public var health: HealthCheck?
    /// `-p`: ports the supervisor listens on and forwards into the active version.
    public var ports: [PortMapping]?
    /// `--listen`: sockets the supervisor binds and hands to every version (socket activation).
    public var listen: [ListenAddress]?
    /// `-t`: the container's process runs on a pty whose master the supervisor holds and pumps
    /// into the log. nil (no terminal) in files written before terminals existed.
    public var terminal: Bool?
    /// `-i`: the container's stdin comes from stdin.fifo, which the attached ctr feeds (through the
    /// supervisor and the pty with -t). nil (stdin is /dev/null) in older files.
    public var stdin: Bool?

    public init(name: String, id: String, source: String, bundle: String, rootfs: String, command: [String],
                restart: RestartPolicy = .no, removeWhenDone: Bool = false, limits: ServiceLimits = ServiceLimits(),
                logMaximumBytes: Int = ServiceDefinition.defaultLogMaximumBytes, created: Timestamp = .now(), health: HealthCheck? = nil,
                ports: [PortMapping]? = nil, listen: [ListenAddress]? = nil,
                terminal: Bool? = nil, stdin: Bool? = nil) {
        self.name = name
        self.id = id
        self.source = source
        self.bundle = bundle
        self.rootfs = rootfs
        self.command = command
        self.restart = restart
        self.removeWhenDone = removeWhenDone
        self.limits = limits
        self.logMaximumBytes = logMaximumBytes
        self.created = created
        self.health = health
        self.ports = ports
        self.listen = listen
        self.terminal = terminal
        self.stdin = stdin
    }

    public var hasTerminal: Bool { terminal ?? false }
    public var hasStdin: Bool { stdin ?? false }

    public static let defaultLogMaximumBytes = 10 << 20
}

/// The limits as given on the command line, for `ctr ps` (the config.json has the exact values).
public struct ServiceLimits: Codable, Equatable, Sendable, CustomStringConvertible {
    public var memoryBytes: Int64?
    public var cpus: String?
    public var pids: Int64?

    public init(memoryBytes: Int64? = nil, cpus: String? = nil, pids: Int64? = nil) {
        self.memoryBytes = memoryBytes
        self.cpus = cpus
        self.pids = pids
    }

    /// `mem=64M cpus=0.5 pids=100`, or `-` without limits.
    public var description: String {
        var parts: [String] = []
        if let memoryBytes { parts.append("mem=\(ByteCount.text(memoryBytes))") }
        if let cpus { parts.append("cpus=\(cpus)") }
        if let pids { parts.append("pids=\(pids)") }
        return parts.isEmpty ? "-" : parts.joined(separator: " ")
    }
}

/// Byte counts as people write them: k, M and G are powers of 1024.
public enum ByteCount {
    /// The largest unit that divides it exactly: 67108864 → `64M`, 1536 → `1536`.
    public static func text(_ bytes: Int64) -> String {
        for (suffix, shift) in [("G", 30), ("M", 20), ("k", 10)] where bytes >= Int64(1) << shift && bytes % (Int64(1) << shift) == 0 {
            return "\(bytes >> Int64(shift))\(suffix)"
        }
        return String(bytes)
    }
}
