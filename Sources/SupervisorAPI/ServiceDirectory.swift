import BerthCore
import Glibc
import Linux
import OCI

/// One service's directories (0700 under 0700 roots). What `ctr run` asked for and what the
/// container wrote survive a reboot, in `<data root>/<name>/` (/var/lib/ctr by default):
///
///     service.json     the definition (ctr writes it; update and rollout change it)
///     config.json      the active version's OCI config
///     config.next.json     a rollout's new version's config, until it becomes active
///     config.previous.json, previous.json   the version before the last rollout, for rollback
///     log, log.1       the container's stdout and stderr, one rotation
///     stopped          present while the user has stopped it: `ctr system boot` leaves it be
///
/// What lives only as long as its processes is in `<root>/<name>/` (/run/ctr by default, a tmpfs):
///
///     status.json      the supervisor's record, replaced atomically at every change
///     stdout.fifo, stderr.fifo   where the container writes them, for the supervisor to read
///                      (ID.stdout.fifo, ID.stderr.fifo for versions after the first)
///     stdin.fifo       with -i: the container's stdin, fed by the attached ctr
///     control.sock     the supervisor's control socket (0600)
///     supervisor.log   the supervisor's own warnings
///     runtime/         the runtime's state store (runtime/<id>/state.json)
///
/// With `ctr --root DIR` alone both are DIR/<name>/ (one directory, as before the split).
public struct ServiceDirectory: Sendable {
    /// Where the runtime state lives (/run/ctr).
    public let root: String
    /// Where the definition and the log live (/var/lib/ctr); `root` when they share one directory.
    public let dataRoot: String
    public let name: String

    public init(root: String, dataRoot: String? = nil, name: String) {
        self.root = root
        self.dataRoot = dataRoot ?? root
        self.name = name
    }

    /// The runtime directory.
    public var path: String { root + "/" + name }
    /// The persistent directory; `path` when the roots are one.
    public var dataPath: String { dataRoot + "/" + name }
    /// Whether the persistent and the runtime state are apart.
    public var isSplit: Bool { dataRoot != root }
    public var definitionPath: String { dataPath + "/service.json" }
    public var configPath: String { dataPath + "/config.json" }
    public var statusPath: String { path + "/status.json" }
    public var logPath: String { dataPath + "/log" }
    public var rotatedLogPath: String { dataPath + "/log.1" }
    /// Present while the user has the service stopped: `ctr stop` (through the supervisor) makes
    /// it, `ctr start` removes it, `ctr system boot` skips a service that has it.
    public var stoppedMarkerPath: String { dataPath + "/stopped" }
    public var socketPath: String { path + "/control.sock" }
    public var stdoutFifoPath: String { path + "/stdout.fifo" }
    public var stderrFifoPath: String { path + "/stderr.fifo" }
    public var stdinFifoPath: String { path + "/stdin.fifo" }
    public var nextConfigPath: String { dataPath + "/config.next.json" }
    public var previousConfigPath: String { dataPath + "/config.previous.json" }
    public var previousVersionPath: String { dataPath + "/previous.json" }

    /// The output fifos of a version's container: the first version (the one `ctr run` made)
    /// keeps the plain names, later ones are named after their container id, so that two
    /// versions running side by side never share a fifo.
    public func fifoPaths(version: Int, id: String) -> (stdout: String, stderr: String) {
        version <= 1 ? (stdoutFifoPath, stderrFifoPath) : (path + "/\(id).stdout.fifo", path + "/\(id).stderr.fifo")
    }
    public var supervisorLogPath: String { path + "/supervisor.log" }
    public var runtimeRoot: String { path + "/runtime" }

    /// Whether the service's persistent directory exists (its runtime one goes with a reboot):
    /// a directory itself, not a symbolic link to one.
    public var exists: Bool { ServiceDirectory.isRealDirectory(dataPath) }
    /// Whether its runtime directory exists: not after a reboot, until it is started again.
    public var hasRuntimeState: Bool { ServiceDirectory.isRealDirectory(path) }
    /// Whether this is a service: a directory (not a link) with a service.json file (not a link).
    /// Anything else in a root (a stray directory, a planted link) is no service, and is never listed.
    public var isService: Bool {
        guard exists else { return false }
        var info = Glibc.stat()
        return Glibc.lstat(definitionPath, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    static func isRealDirectory(_ path: String) -> Bool {
        var info = Glibc.stat()
        return Glibc.lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The services under `dataRoot`, sorted by name. Entries that are not valid names (the
    /// runtime's dot directories) or not services (`isService`) are skipped.
    public static func all(root: String, dataRoot: String? = nil) -> [ServiceDirectory] {
        let listed = dataRoot ?? root
        return Files.list(listed).sorted().compactMap { name in
            guard (try? ServiceName.validate(name)) != nil else { return nil }
            let directory = ServiceDirectory(root: root, dataRoot: listed, name: name)
            return directory.isService ? directory : nil
        }
    }

    /// Makes the runtime directory of a service that has none (started again after a reboot).
    public func makeRuntimeDirectory() throws(BerthError) {
        try Files.makeDirectories(root, mode: 0o700)
        if Glibc.mkdir(path, 0o700) != 0 && Glibc.errno != EEXIST { throw BerthError(.system, "mkdir \(path)", errno: Glibc.errno) }
    }

    /// Removes the service: the runtime directory first, then the persistent one, whose
    /// existence is what holds the name.
    public func remove() {
        Files.removeTree(path)
        if isSplit { Files.removeTree(dataPath) }
    }

    /// Whether the user has the service stopped (see `stoppedMarkerPath`).
    public var isStoppedByUser: Bool { Files.exists(stoppedMarkerPath) }

    public func markStoppedByUser() throws(BerthError) {
        let fd = try FileDescriptor.open(stoppedMarkerPath, O_WRONLY | O_CREAT, mode: 0o600)
        fd.close()
    }

    public func clearStoppedByUser() { _ = Glibc.unlink(stoppedMarkerPath) }

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

    /// `durable`: fsynced before the rename, so that a crash cannot leave an empty definition
    /// for the boot to find; not needed for a --rm service, which is gone at the end anyway.
    public func save(_ definition: ServiceDefinition, durable: Bool = true) throws(BerthError) {
        try save(definition, to: definitionPath, durable: durable)
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

    private func save<T: Encodable>(_ value: T, to file: String, durable: Bool = true) throws(BerthError) {
        let bytes: [UInt8]
        do { bytes = try encodeJSONBytes(value, pretty: true) } catch { throw BerthError(.system, "encoding \(file): \(error)") }
        try Files.writeAtomically(file, bytes + [UInt8(ascii: "\n")], mode: 0o600, durable: durable)
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
