import BerthCore
import CShim
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

    /// Whether /sys/fs/cgroup is the cgroup2 filesystem (a cgroup v2 unified host), runc's test
    /// for adding the cgroup namespace to `spec`'s config.
    public static var isUnifiedHost: Bool {
        guard let fd = try? FileDescriptor.open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY) else { return false }
        defer { fd.close() }
        return berth_fstatfs_type(fd.rawValue) == 0x6367_7270  // CGROUP2_SUPER_MAGIC
    }

    /// The controllers a cgroup can hand to its children.
    public func availableControllers() -> Set<String> {
        Set(offeredControllers())
    }

    /// cgroup.controllers in the kernel's order; empty when it cannot be read.
    func offeredControllers() -> [String] {
        guard let text = try? read("cgroup.controllers") else { return [] }
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    /// Enables every controller this cgroup offers for its children, as runc does for each
    /// ancestor of a container's cgroup. Best effort, as in runc: when the whole list is
    /// refused (a domain controller where this cgroup holds processes: EBUSY) each controller
    /// is tried alone and what is still refused is left out; a limit that needs one is
    /// reported by `apply`.
    func delegateOfferedControllers() {
        let offered = offeredControllers()
        if offered.isEmpty { return }
        do { try enable(offered) } catch {
            for controller in offered { try? enable([controller]) }
        }
    }

    /// Creates the cgroup and its missing ancestors. Every ancestor, from the root down to the
    /// parent, hands every controller it offers to its children, as runc does: the container's
    /// cgroup gets them all, so its memory and pids figures exist without limits, and the
    /// container can create and delegate sub-groups of its own (systemd, a nested runtime).
    /// The cgroup's own subtree_control is left alone: it holds the container's processes, and
    /// the container decides what its sub-groups get.
    ///
    /// An ancestor that holds processes can hand down threaded controllers only, which makes it
    /// a thread root and a new cgroup below it "domain invalid", where no process can go. As runc
    /// does, such a cgroup is made threaded, unless `controllers` (those the caller's limits
    /// need) include a domain one: that is an error, and what this call made is removed.
    /// Returns how many of the path's directories it created, counted from the leaf, so
    /// `remove` deletes only those.
    @discardableResult
    public func create(controllers: [String] = []) throws(BerthError) -> Int {
        // Another container's delete may remove a shared, empty parent between our mkdirs;
        // starting over once from the root makes it again.
        do { return try createOnce(controllers: controllers) } catch where error.errno == ENOENT {
            return try createOnce(controllers: controllers)
        }
    }

    /// Controllers that work in threaded cgroups and in a cgroup that holds processes itself.
    static let threadedControllers: Set<String> = ["cpu", "cpuset", "pids", "perf_event"]

    private func createOnce(controllers: [String]) throws(BerthError) -> Int {
        var made: [String] = []
        var current = root
        do throws(BerthError) {
            for component in path.split(separator: "/") {
                Cgroup(root: current, path: "").delegateOfferedControllers()
                current += "/" + component
                if Glibc.mkdir(current, 0o755) == 0 {
                    made.append(current)
                } else if Glibc.errno != EEXIST {
                    throw BerthError(.system, "mkdir \(current)", errno: Glibc.errno)
                } else {
                    made = []
                }
                try Cgroup(root: current, path: "").settleType(for: controllers)
            }
        } catch {
            for directory in made.reversed() { _ = Glibc.rmdir(directory) }
            throw error
        }
        return made.count
    }

    /// runc's answer to a cgroup below a thread root (cgroup.type): a "domain invalid" one
    /// becomes threaded, and a threaded one is refused when a domain controller is needed.
    private func settleType(for controllers: [String]) throws(BerthError) {
        guard let type = (try? read("cgroup.type"))?.trimmingWhitespace, type != "domain" else { return }
        let domain = controllers.filter { !Cgroup.threadedControllers.contains($0) }
        if !domain.isEmpty && (type == "domain invalid" || type == "threaded" || type == "domain threaded") {
            throw BerthError(.unsupported, "linux.resources: cgroup \(directory) is \(type) (a cgroup above it holds processes itself), so it cannot have the \(domain.joined(separator: " ")) controller")
        }
        if type == "domain invalid" { try write("cgroup.type", "threaded") }
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

    /// The pids in cgroup.procs. A threaded cgroup cannot list its processes (EOPNOTSUPP): then
    /// the thread group leaders among cgroup.threads.
    public func processes() -> [pid_t] {
        if let text = try? read("cgroup.procs") { return text.split(separator: "\n").compactMap { pid_t($0) } }
        guard let text = try? read("cgroup.threads") else { return [] }
        return text.split(separator: "\n").compactMap { pid_t($0) }.filter { tid in
            let status = (try? Files.readString("/proc/\(tid)/status")) ?? ""
            return status.split(separator: "\n").contains { $0.hasPrefix("Tgid:") && pid_t(String($0.dropFirst(5)).trimmingWhitespace) == tid }
        }
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

    /// Removes the empty cgroups below `directory`, deepest first: a cgroup's sub-directories
    /// are its sub-groups (its files are control files), and rmdir refuses a cgroup with any.
    /// Never follows a link nor leaves the cgroup filesystem (as runc's RemovePath reads
    /// entries without following them): only what lies inside the container's own cgroup goes.
    static func removeSubgroups(of directory: String) throws(BerthError) {
        var top = Glibc.stat()
        guard Glibc.lstat(directory, &top) == 0 else { return }
        for name in Files.list(directory) {
            let subgroup = directory + "/" + name
            var info = Glibc.stat()
            guard Glibc.lstat(subgroup, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_dev == top.st_dev else { continue }
            try removeSubgroups(of: subgroup)
            try sys("rmdir", subgroup) { Glibc.rmdir(subgroup) }
        }
    }

    /// Sends `signal` to every process in the cgroup.
    public func signalAll(_ signal: Int32) {
        for pid in processes() { Glibc.kill(pid, signal) }
    }

    /// Kills its processes, detaches berth's device programs and removes the cgroup with the
    /// sub-groups the container made in it, then the `createdAncestors` empty parents that
    /// `create` made. A parent still in use by another container is left in place.
    public func remove(createdAncestors: Int = 0) throws(BerthError) {
        if exists {
            // cgroup.kill and the populated flag cover the sub-groups too.
            try killAll()
            // Only now: detached while a process could still run, its devices would be open.
            detachDevicePrograms()
            try Cgroup.removeSubgroups(of: directory)
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
