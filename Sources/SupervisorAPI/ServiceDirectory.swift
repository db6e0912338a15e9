import BerthCore
import Glibc
import Linux
import OCI

/// One service's directory, `<root>/<name>/` (0700 under a 0700 root):
///
///     service.json     the definition (ctr writes it once)
///     config.json      the active version's OCI config
///     config.next.json     a rollout's new version's config, until it becomes active
///     config.previous.json, previous.json   the version before the last rollout, for rollback
///     status.json      the supervisor's record, replaced atomically at every change
///     log, log.1       the container's stdout and stderr, one rotation
///     stdout.fifo, stderr.fifo   where the container writes them, for the supervisor to read
///                      (ID.stdout.fifo, ID.stderr.fifo for versions after the first)
///     stdin.fifo       with -i: the container's stdin, fed by the attached ctr
///     control.sock     the supervisor's control socket (0600)
///     supervisor.log   the supervisor's own warnings
///     runtime/         the runtime's state store (runtime/<id>/state.json)
public struct ServiceDirectory: Sendable {
    public let root: String
    public let name: String

    public init(root: String, name: String) {
        self.root = root
        self.name = name
    }

    public var path: String { root + "/" + name }
    public var definitionPath: String { path + "/service.json" }
    public var configPath: String { path + "/config.json" }
    public var statusPath: String { path + "/status.json" }
    public var logPath: String { path + "/log" }
    public var rotatedLogPath: String { path + "/log.1" }
    public var socketPath: String { path + "/control.sock" }
    public var stdoutFifoPath: String { path + "/stdout.fifo" }
    public var stderrFifoPath: String { path + "/stderr.fifo" }
    public var stdinFifoPath: String { path + "/stdin.fifo" }
    public var nextConfigPath: String { path + "/config.next.json" }
    public var previousConfigPath: String { path + "/config.previous.json" }
    public var previousVersionPath: String { path + "/previous.json" }

    /// The output fifos of a version's container: the first version (the one `ctr run` made)
    /// keeps the plain names, later ones are named after their container id, so that two
    /// versions running side by side never share a fifo.
    public func fifoPaths(version: Int, id: String) -> (stdout: String, stderr: String) {
        version <= 1 ? (stdoutFifoPath, stderrFifoPath) : (path + "/\(id).stdout.fifo", path + "/\(id).stderr.fifo")
    }
    public var supervisorLogPath: String { path + "/supervisor.log" }
    public var runtimeRoot: String { path + "/runtime" }

    public var exists: Bool { Files.isDirectory(path) }

    /// The services under `root`, sorted by name. Entries that are not valid names (the
    /// runtime's dot directories) are skipped.
    public static func all(root: String) -> [ServiceDirectory] {
        Files.list(root).sorted().compactMap { name in
            guard (try? ServiceName.validate(name)) != nil, Files.isDirectory(root + "/" + name) else { return nil }
            return ServiceDirectory(root: root, name: name)
        }
    }

    public func loadDefinition() throws(BerthError) -> ServiceDefinition {
        try load(ServiceDefinition.self, from: definitionPath)
    }

    /// nil before the supervisor has written its first status.
    public func loadStatus() throws(BerthError) -> ServiceStatus? {
        do {
            return try load(ServiceStatus.self, from: statusPath)
        } catch where error.errno == ENOENT {
            return nil
        }
    }

    public func save(_ definition: ServiceDefinition) throws(BerthError) {
        try save(definition, to: definitionPath)
    }

    public func save(_ status: ServiceStatus) throws(BerthError) {
        try save(status, to: statusPath)
    }

    /// The version before the last rollout, nil when there is none.
    public func loadPreviousVersion() throws(BerthError) -> ServiceVersion? {
        guard Files.exists(previousVersionPath) else { return nil }
        return try load(ServiceVersion.self, from: previousVersionPath)
    }

    public func savePreviousVersion(_ version: ServiceVersion) throws(BerthError) {
        try save(version, to: previousVersionPath)
    }

    private func load<T: Decodable>(_ type: T.Type, from file: String) throws(BerthError) -> T {
        let bytes = try Files.read(file)
        do { return try decodeJSON(T.self, from: bytes) } catch { throw BerthError(.system, "\(file): corrupt: \(error)") }
    }

    private func save<T: Encodable>(_ value: T, to file: String) throws(BerthError) {
        let bytes: [UInt8]
        do { bytes = try encodeJSONBytes(value, pretty: true) } catch { throw BerthError(.system, "encoding \(file): \(error)") }
        try Files.writeAtomically(file, bytes + [UInt8(ascii: "\n")], mode: 0o600)
    }
}

extension ServiceStatus {
    /// Whether the supervisor that wrote this status still runs: its pid is alive, not a zombie,
    /// and started when the status says.
    public var supervisorIsAlive: Bool {
        supervisorPid > 0 && ProcessControl.startTime(supervisorPid) == supervisorStartTime && !ProcessControl.isZombie(supervisorPid)
    }

    /// Whether the container's init recorded here still runs.
    public var containerIsAlive: Bool {
        pid > 0 && ProcessControl.startTime(pid) == pidStartTime && !ProcessControl.isZombie(pid)
    }
}
