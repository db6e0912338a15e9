import BerthCore
import CShim
import Cgroup2
import Glibc
import Linux
import OCI

/// What Berth remembers of a container between commands, in `<root>/<id>/state.json`.
public struct ContainerRecord: Codable, Sendable, Equatable {
    public var id: String
    public var bundle: String
    public var rootfs: String
    public var pid: Int32
    /// With `pid`, names the init across pid reuse (see `ProcessControl.startTime`).
    public var pidStartTime: UInt64
    public var created: String
    public var started: Bool
    public var cgroupRoot: String?
    public var cgroupPath: String?
    /// How many directories of cgroupPath `create` made, counted from the leaf.
    public var cgroupCreated: Int
    public var annotations: [String: String]
    /// Kept so that `start` and `delete` need not read config.json again.
    public var poststart: [StoredHook]
    public var poststop: [StoredHook]
    /// The resctrl group create made for linux.intelRdt, which delete removes.
    public var resctrlGroup: String?

    public struct StoredHook: Codable, Sendable, Equatable {
        public var label: String
        public var path: String
        public var args: [String]
        /// nil: the config gave none, so the hook gets the environment of the berth that runs it.
        public var env: [String]?
        public var timeout: Int?
    }

    public var cgroup: Cgroup2Location? {
        guard let cgroupRoot, let cgroupPath else { return nil }
        return Cgroup2Location(root: cgroupRoot, path: cgroupPath)
    }
}

/// A cgroup by mount and path, as stored; Runtime turns it into a `Cgroup`.
public struct Cgroup2Location: Sendable, Equatable {
    public var root: String
    public var path: String
}

/// Container state directories under `--root`. Every command takes the directory's flock
/// first, so concurrent commands on one container run one after another.
public struct StateStore: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public func directory(_ id: String) -> String { root + "/" + id }
    public func statePath(_ id: String) -> String { directory(id) + "/state.json" }
    public func fifoPath(_ id: String) -> String { directory(id) + "/exec.fifo" }

    /// Makes the container's directory, failing if it exists: the one place where two
    /// `create`s with one ID are told apart. Returns the held lock.
    public func create(_ id: String) throws(BerthError) -> FileDescriptor {
        try ContainerID.validate(id)
        // 0700: state names pids and paths of other users' containers.
        try Files.makeDirectories(root, mode: 0o700)
        if Glibc.mkdir(directory(id), 0o700) != 0 {
            if Glibc.errno == EEXIST { throw BerthError(.exists, "container \"\(id)\" already exists") }
            throw BerthError(.system, "mkdir \(directory(id))", errno: Glibc.errno)
        }
        return try lock(id)
    }

    /// Locks an existing container's directory, waiting for other commands on it.
    public func lock(_ id: String) throws(BerthError) -> FileDescriptor {
        try ContainerID.validate(id)
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(directory(id), O_RDONLY | O_DIRECTORY)
        } catch where error.errno == ENOENT {
            throw BerthError(.notFound, "container \"\(id)\" does not exist")
        }
        try sys("flock", directory(id)) { berth_flock(fd.rawValue, LOCK_EX) }
        return fd
    }

    public func load(_ id: String) throws(BerthError) -> ContainerRecord? {
        let bytes: [UInt8]
        do {
            bytes = try Files.read(statePath(id))
        } catch where error.errno == ENOENT {
            return nil
        }
        do {
            return try decodeJSON(ContainerRecord.self, from: bytes)
        } catch {
            throw BerthError(.system, "\(statePath(id)): corrupt state: \(error)")
        }
    }

    public func save(_ record: ContainerRecord) throws(BerthError) {
        let text: String
        do { text = try encodeJSON(record, pretty: false) } catch {
            throw BerthError(.system, "encoding state of \(record.id): \(error)")
        }
        try Files.writeAtomically(statePath(record.id), Array(text.utf8), durable: false)
    }

    public func remove(_ id: String) {
        Files.removeTree(directory(id))
    }

    public func list() -> [String] {
        Files.list(root).filter { (try? ContainerID.validate($0)) != nil && Files.isDirectory(directory($0)) }.sorted()
    }

    /// The status of a stored container, from its init process and its exec fifo.
    public func status(of record: ContainerRecord?, id: String) -> ContainerStatus {
        guard let record else { return .creating }
        guard record.pid > 0, ProcessControl.startTime(record.pid) == record.pidStartTime,
              !ProcessControl.isZombie(record.pid) else { return .stopped }
        if Files.exists(fifoPath(id)) { return .created }
        if let cgroup = record.cgroup,
           (try? Files.readString(cgroup.root + "/" + cgroup.path + "/cgroup.freeze"))?.hasPrefix("1") == true {
            return .paused
        }
        return .running
    }
}
