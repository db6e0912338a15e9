import BerthCore
import Glibc
import Linux

/// One cgroup v2 directory: `root` is the cgroup2 mount (or any directory, in tests) and
/// `path` the cgroup below it, such as `berth/web`.
public struct Cgroup: Sendable, Equatable {
    public let root: String
    public let path: String

    public init(root: String, path: String) {
        self.root = root
        self.path = path
    }

    public var directory: String { path.isEmpty ? root : root + "/" + path }

    /// Checks a cgroupsPath from config.json and returns it relative to the cgroup root. It may
    /// not leave the root: no `..` or `.` components, no empty path.
    public static func normalize(cgroupsPath: String) throws(BerthError) -> String {
        if cgroupsPath.contains(":") {
            throw BerthError(.invalidConfig, "linux.cgroupsPath: \"\(cgroupsPath)\" is a systemd slice path; systemd cgroups are not supported")
        }
        let components = cgroupsPath.split(separator: "/")
        if components.isEmpty {
            throw BerthError(.invalidConfig, "linux.cgroupsPath: \"\(cgroupsPath)\" names the cgroup root")
        }
        for component in components where component == ".." || component == "." {
            throw BerthError(.invalidConfig, "linux.cgroupsPath: \"\(cgroupsPath)\" may not contain \"\(component)\"")
        }
        return components.joined(separator: "/")
    }

    /// The mount point of the cgroup2 filesystem in a /proc/self/mountinfo text.
    public static func cgroup2Mount(inMountinfo text: String) -> String? {
        for line in text.split(separator: "\n") {
            // Fields: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            let fields = line.split(separator: " ")
            guard let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count, fields.count > 4 else { continue }
            if fields[separator + 1] == "cgroup2" { return String(fields[4]) }
        }
        return nil
    }

    /// This host's cgroup2 mount, if it has one.
    public static func hostMount() -> String? {
        guard let text = try? Files.readString("/proc/self/mountinfo") else { return nil }
        return cgroup2Mount(inMountinfo: text)
    }

    /// The controllers a cgroup can hand to its children.
    public func availableControllers() -> Set<String> {
        guard let text = try? read("cgroup.controllers") else { return [] }
        return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    /// Creates the cgroup and its missing ancestors, enabling `controllers` in the
    /// subtree_control of every ancestor so the new cgroup gets them. Returns how many of the
    /// path's directories it created, counted from the leaf, so `remove` deletes only those.
    @discardableResult
    public func create(controllers: [String] = []) throws(BerthError) -> Int {
        // Another container's delete may remove a shared, empty parent between our mkdirs;
        // starting over once from the root makes it again.
        do { return try createOnce(controllers: controllers) } catch where error.errno == ENOENT {
            return try createOnce(controllers: controllers)
        }
    }

    private func createOnce(controllers: [String]) throws(BerthError) -> Int {
        let components = path.split(separator: "/").map(String.init)
        var current = root
        var created = 0
        for component in components {
            if !controllers.isEmpty {
                try Cgroup(root: current, path: "").enable(controllers)
            }
            current += "/" + component
            if Glibc.mkdir(current, 0o755) == 0 {
                created += 1
            } else if Glibc.errno != EEXIST {
                throw BerthError(.system, "mkdir \(current)", errno: Glibc.errno)
            } else {
                created = 0
            }
        }
        return created
    }

    /// Writes `+controller` for every controller, enabled already or not: the kernel lists a
    /// controller as soon as a concurrent enable starts, before it has made the files in the
    /// children, and only a write of our own waits for that one to finish.
    public func enable(_ controllers: [String]) throws(BerthError) {
        if controllers.isEmpty { return }
        try write("cgroup.subtree_control", controllers.map { "+" + $0 }.joined(separator: " "))
    }

    /// Opens the cgroup directory, for clone3's CLONE_INTO_CGROUP.
    public func open() throws(BerthError) -> FileDescriptor {
        try FileDescriptor.open(directory, O_RDONLY | O_DIRECTORY)
    }

    public func write(_ file: String, _ value: String) throws(BerthError) {
        try Files.writeExisting(directory + "/" + file, value)
    }

    public func read(_ file: String) throws(BerthError) -> String {
        try Files.readString(directory + "/" + file)
    }

    public var exists: Bool { Files.isDirectory(directory) }

    /// The pids in cgroup.procs.
    public func processes() -> [pid_t] {
        guard let text = try? read("cgroup.procs") else { return [] }
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    /// A flat-keyed file such as cgroup.events or memory.events as a dictionary.
    public func keyedValues(_ file: String) throws(BerthError) -> [String: UInt64] {
        Cgroup.parseKeyedValues(try read(file))
    }

    public static func parseKeyedValues(_ text: String) -> [String: UInt64] {
        var values: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = UInt64(parts[1]) { values[String(parts[0])] = value }
        }
        return values
    }

    public var isPopulated: Bool {
        ((try? keyedValues("cgroup.events"))?["populated"] ?? 0) != 0
    }

    /// Kills every process in the cgroup and waits until it is empty. cgroup.kill (Linux 5.14)
    /// kills atomically, so nothing can fork its way out; older kernels get a loop of SIGKILLs.
    public func killAll(timeoutMilliseconds: Int = 10_000) throws(BerthError) {
        let hasKill = Files.exists(directory + "/cgroup.kill")
        var waited = 0
        while true {
            if hasKill {
                try write("cgroup.kill", "1")
            } else {
                for pid in processes() { Glibc.kill(pid, SIGKILL) }
            }
            if !isPopulated && processes().isEmpty { return }
            if waited >= timeoutMilliseconds {
                throw BerthError(.system, "cgroup \(directory) still has processes after \(timeoutMilliseconds) ms")
            }
            usleep(2000)
            waited += 2
        }
    }

    /// Sends `signal` to every process in the cgroup.
    public func signalAll(_ signal: Int32) {
        for pid in processes() { Glibc.kill(pid, signal) }
    }

    /// Kills its processes, detaches berth's device programs and removes the cgroup, then the
    /// `createdAncestors` empty parents that `create` made. A parent still in use by another
    /// container is left in place.
    public func remove(createdAncestors: Int = 0) throws(BerthError) {
        if exists {
            try killAll()
            // Only now: detached while a process could still run, its devices would be open.
            detachDevicePrograms()
            try sys("rmdir", directory) { Glibc.rmdir(directory) }
        }
        var components = path.split(separator: "/")
        for _ in 0..<max(0, createdAncestors) {
            components.removeLast()
            if components.isEmpty { break }
            _ = Glibc.rmdir(root + "/" + components.joined(separator: "/"))
        }
    }
}
