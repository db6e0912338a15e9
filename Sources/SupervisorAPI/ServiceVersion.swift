import BerthCore
import Glibc
import Linux

/// One version of a service's container: what `ctr run` started, or what a rollout brings in.
/// Its config is a file in the service directory (`config.json` for the active version).
public struct ServiceVersion: Codable, Equatable, Sendable {
    /// 1 for what `ctr run` started, then one more for each rollout (a rollback too).
    public var number: Int
    /// The container's id in the runtime's state store; new for every version.
    public var id: String
    /// The ROOTFS or BUNDLE it came from, absolute.
    public var source: String
    /// The directory relative paths in its config resolve against.
    public var bundle: String
    public var rootfs: String
    public var command: [String]

    public init(number: Int, id: String, source: String, bundle: String, rootfs: String, command: [String]) {
        self.number = number
        self.id = id
        self.source = source
        self.bundle = bundle
        self.rootfs = rootfs
        self.command = command
    }

    /// The most a service's versions can be numbered; keeps ids and file names short.
    public static let maximumNumber = 1_000_000
}

extension ServiceDefinition {
    /// The version this definition runs now.
    public func version(number: Int) -> ServiceVersion {
        ServiceVersion(number: number, id: id, source: source, bundle: bundle, rootfs: rootfs, command: command)
    }

    /// Runs `version` from now on.
    public mutating func adopt(_ version: ServiceVersion) {
        id = version.id
        source = version.source
        bundle = version.bundle
        rootfs = version.rootfs
        command = version.command
    }
}

/// What `ctr rollout` asks: start `version` beside the active one, switch new connections to
/// it once it is ready, then drain and remove the old one. The config is read from
/// `ServiceDirectory.nextConfigPath`, where ctr wrote it after validating it.
public struct RolloutRequest: Codable, Equatable, Sendable {
    public var version: ServiceVersion
    /// How long the new version gets to become ready, in milliseconds.
    public var readyTimeout: Int
    /// How long the old version may keep its connections after the switch, in milliseconds.
    public var drainTimeout: Int
    /// Sent to the old version at the switch when it shares a --listen socket: stop accepting.
    public var drainSignal: Int32

    public init(version: ServiceVersion, readyTimeout: Int = RolloutRequest.defaultReadyTimeout,
                drainTimeout: Int = RolloutRequest.defaultDrainTimeout, drainSignal: Int32 = SIGTERM) {
        self.version = version
        self.readyTimeout = readyTimeout
        self.drainTimeout = drainTimeout
        self.drainSignal = drainSignal
    }

    public static let defaultReadyTimeout = 30_000
    public static let defaultDrainTimeout = 300_000
    /// A day: longer is surely a mistake in the unit.
    public static let maximumTimeout = 86_400_000

    /// Checks what decoding cannot: ranges, and an id the runtime accepts.
    public func validate() throws(BerthError) {
        guard (2...ServiceVersion.maximumNumber).contains(version.number) else {
            throw BerthError(.invalidArgument, "request.version.number: \(version.number) is outside 2...\(ServiceVersion.maximumNumber)")
        }
        guard !version.id.isEmpty, version.id.count <= 64,
              version.id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d }) else {
            throw BerthError(.invalidArgument, "request.version.id: \"\(version.id)\" is not a container id of lower-case letters, digits and -")
        }
        for (field, value) in [("readyTimeout", readyTimeout), ("drainTimeout", drainTimeout)] where !(0...RolloutRequest.maximumTimeout).contains(value) {
            throw BerthError(.invalidArgument, "request.\(field): \(value) is outside 0...\(RolloutRequest.maximumTimeout)")
        }
        guard (1...64).contains(drainSignal) else {
            throw BerthError(.invalidArgument, "request.drainSignal: \(drainSignal) is outside 1...64")
        }
    }
}

/// The part a version other than the active one plays.
public enum VersionRole: String, Codable, Sendable {
    /// A rollout's new version, started and not yet ready; nothing is sent to it.
    case candidate
    /// An old version after a switch: it keeps the connections it has, gets no new ones, and is
    /// stopped once they have closed or its drain deadline has passed.
    case draining
    /// Being stopped (SIGTERM sent, then the cgroup killed at the grace period).
    case stopping
}

/// A version running beside the active one, as status.json records it, so that a supervisor
/// adopting the service finds it.
public struct VersionStatus: Codable, Equatable, Sendable {
    public var version: ServiceVersion
    public var role: VersionRole
    public var pid: Int32
    public var pidStartTime: UInt64
    public var startedAt: Timestamp?
    /// When a draining version is stopped whatever its connections.
    public var drainDeadline: Timestamp?
    /// Open forwarded connections, in answers to `status` (not kept on disk: it changes with
    /// every connection).
    public var connections: Int?

    public init(version: ServiceVersion, role: VersionRole, pid: Int32, pidStartTime: UInt64, startedAt: Timestamp?,
                drainDeadline: Timestamp? = nil, connections: Int? = nil) {
        self.version = version
        self.role = role
        self.pid = pid
        self.pidStartTime = pidStartTime
        self.startedAt = startedAt
        self.drainDeadline = drainDeadline
        self.connections = connections
    }

    public var isAlive: Bool {
        pid > 0 && ProcessControl.startTime(pid) == pidStartTime && !ProcessControl.isZombie(pid)
    }
}
