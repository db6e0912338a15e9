import BerthCore
import Glibc
import Linux

/// One call a set-up made through `KernelCalls`: the name its error would carry (`mount`,
/// `prctl`, `setns`, ...) and its arguments as text. Descriptors appear as the path they were
/// opened with, so a mount on `/proc/self/fd/N` reads as a mount on the directory itself.
public struct KernelCall: Equatable, CustomStringConvertible, Sendable {
    public let name: String
    public let arguments: [String]
    public init(_ name: String, _ arguments: [String]) {
        self.name = name
        self.arguments = arguments
    }
    public var description: String { ([name] + arguments).joined(separator: " ") }
}

/// A test double of `KernelCalls`: it makes no call, records each one with its arguments in
/// order, and answers from a small model of the file system that the test sets up. Unknown
/// paths exist as directories when opened or examined, and do not exist yet when created;
/// a directory the set-up made is empty.
/// `fail(_:at:errno:)` makes chosen calls fail the way the live kernel would.
///
/// Descriptors it hands out are numbers no process has open (from 1_000_000 up); closing them
/// is recorded in `openDescriptors`, never passed to the kernel. One test owns one double.
public final class RecordingKernel: KernelCalls {
    /// What a path is, for the answers of stat, open and readlink.
    public enum File: Equatable, Sendable {
        case directory
        case regular
        case symbolicLink(String)
        case characterDevice(major: UInt32, minor: UInt32)
        /// Opening, examining or reaching anything below it fails with ENOENT.
        case missing
    }

    public private(set) var calls: [KernelCall] = []
    /// The model: absolute paths (as opened, before any pivot) to what they are.
    public var files: [String: File] = [:]
    /// What reading a path returns; empty when not set.
    public var contents: [String: String] = [:]
    /// The mount flags statfs reports for a mount target, by path.
    public var currentMountFlags: [String: MountFlags] = [:]
    /// fstatfs's magic for a path; otherwise procfs under /proc, devpts for /dev/ptmx and
    /// /dev/pts, ext4 elsewhere.
    public var filesystemTypes: [String: Int] = [:]
    /// getpid's answer.
    public var pid: pid_t = 4242
    /// getcwd's answer.
    public var workingDirectory: String? = "/"
    /// Descriptors handed out and not closed yet, with the paths they name.
    public private(set) var openDescriptors: [Int32: String] = [:]

    private var failures: [(call: String, path: String?, errno: Int32, remaining: Int?)] = []
    private var names: [Int32: String] = [:]
    private var readOffsets: [Int32: Int] = [:]
    private var nextDescriptor: Int32 = 1_000_000
    /// Directories the set-up made: what is not in `files` below them does not exist.
    private var madeDirectories: Set<String> = []

    public init() {}

    /// From now on every call named `call` (as errors name it: `mount`, `open`, `setns`, `prctl`)
    /// fails with `errno`; with `path`, only those with that argument or error path; with
    /// `times`, only that many.
    public func fail(_ call: String, at path: String? = nil, errno: Int32, times: Int? = nil) {
        failures.append((call, path, errno, times))
    }

    /// A descriptor the double knows by `path`, for those the set-up gets from its caller.
    public func descriptor(named path: String) -> FileDescriptor { newDescriptor(path) }

    /// The calls named `name`, in order.
    public func calls(_ name: String) -> [KernelCall] { calls.filter { $0.name == name } }

    /// The position of the first call named `name` whose arguments include all of `arguments`.
    public func index(of name: String, _ arguments: String...) -> Int? {
        calls.firstIndex { $0.name == name && arguments.allSatisfy($0.arguments.contains) }
    }

    // MARK: The model

    private func newDescriptor(_ path: String) -> FileDescriptor {
        nextDescriptor += 1
        names[nextDescriptor] = path
        openDescriptors[nextDescriptor] = path
        return FileDescriptor(rawValue: nextDescriptor)
    }

    private func name(_ fd: FileDescriptor) -> String { names[fd.rawValue] ?? "fd \(fd.rawValue)" }

    /// `/proc/self/fd/N` of a descriptor of ours as the path it names; other paths unchanged.
    private func resolve(_ path: String) -> String {
        let prefix = "/proc/self/fd/"
        guard path.hasPrefix(prefix), let number = Int32(path.dropFirst(prefix.count)), let named = names[number] else { return path }
        return named
    }

    private func join(_ directory: FileDescriptor?, _ path: String) -> String {
        guard let directory else { return resolve(path) }
        let base = name(directory)
        if path == "." || path.isEmpty { return base }
        if path.hasPrefix("/") { return path }
        return base == "/" ? "/" + path : base + "/" + path
    }

    private func file(_ path: String) -> File {
        if files[path] == nil, let slash = path.lastIndex(of: "/"), madeDirectories.contains(String(path[..<slash])) { return .missing }
        var ancestor = path
        while let slash = ancestor.lastIndex(of: "/"), !ancestor.isEmpty {
            ancestor = String(ancestor[..<slash])
            if files[ancestor.isEmpty ? "/" : ancestor] == .missing { return .missing }
        }
        return files[path] ?? .directory
    }

    private func record(_ name: String, _ arguments: [String], path: String? = nil) throws(BerthError) {
        calls.append(KernelCall(name, arguments))
        let matching = failures.firstIndex { $0.call == name && $0.remaining != 0 && ($0.path.map { arguments.contains($0) || path == $0 } ?? true) }
        guard let matching else { return }
        failures[matching].remaining = failures[matching].remaining.map { $0 - 1 }
        throw BerthError.systemCall(name, path, errno: failures[matching].errno)
    }

    private func note(_ name: String, _ arguments: [String]) { calls.append(KernelCall(name, arguments)) }

    /// Creating `path`: EEXIST when the model already has it.
    private func create(_ path: String, as kind: File, call: String, describing name: String, _ arguments: [String]) throws(BerthError) {
        try record(call, arguments, path: name)
        if let existing = files[path], existing != .missing { throw BerthError.systemCall(call, name, errno: EEXIST) }
        files[path] = kind
    }

    private func status(_ path: String, call: String, describing name: String) throws(BerthError) -> Glibc.stat {
        var info = Glibc.stat()
        switch file(path) {
        case .directory: info.st_mode = S_IFDIR | 0o755
        case .regular: info.st_mode = S_IFREG | 0o755
        case .symbolicLink: info.st_mode = S_IFLNK | 0o777
        case .characterDevice(let major, let minor):
            info.st_mode = S_IFCHR | 0o666
            info.st_rdev = dev_t(((UInt64(major) & 0xfff) << 8) | (UInt64(minor) & 0xff))
        case .missing: throw BerthError.systemCall(call, name, errno: ENOENT)
        }
        return info
    }

    private static let flagNames: [(MountFlags, String)] = [
        (.readOnly, "ro"), (.noSuid, "nosuid"), (.noDev, "nodev"), (.noExec, "noexec"), (.remount, "remount"), (.bind, "bind"),
        (.move, "move"), (.recursive, "rec"), (.private, "private"), (.slave, "slave"), (.shared, "shared"),
        (.unbindable, "unbindable"), (.noAtime, "noatime"), (.relatime, "relatime"), (.strictAtime, "strictatime"),
    ]

    /// Mount flags as `bind,rec`; `-` for none.
    public static func describe(_ flags: MountFlags) -> String {
        let words = flagNames.filter { flags.contains($0.0) }.map(\.1)
        return words.isEmpty ? "-" : words.joined(separator: ",")
    }

    private static let attributeNames: [(Mounts.Attributes, String)] = [
        (.readOnly, "ro"), (.noSuid, "nosuid"), (.noDev, "nodev"), (.noExec, "noexec"), (.noAtime, "noatime"),
        (.strictAtime, "strictatime"), (.noDirAtime, "nodiratime"), (.noSymfollow, "nosymfollow"),
    ]

    private static func describe(_ attributes: Mounts.Attributes) -> String {
        let words = attributeNames.filter { attributes.contains($0.0) }.map(\.1)
        return words.isEmpty ? "-" : words.joined(separator: ",")
    }

    private static func capabilityName(_ number: Int32) -> String {
        Capability.names.indices.contains(Int(number)) ? Capability.names[Int(number)] : "\(number)"
    }

    // MARK: Descriptors and files

    public func open(_ path: String, _ flags: Int32, mode: mode_t, relativeTo directory: FileDescriptor?) throws(BerthError) -> FileDescriptor {
        let full = join(directory, path)
        try record("open", [full], path: path)
        if file(full) == .missing { throw BerthError.systemCall("open", path, errno: ENOENT) }
        return newDescriptor(full)
    }

    public func open(_ path: String, in directory: FileDescriptor, _ flags: Int32, mode: mode_t, resolve: UInt64, describing name: String) throws(BerthError) -> FileDescriptor {
        let full = join(directory, path)
        var arguments = [full]
        for (bit, word) in [(UInt64(0x01), "RESOLVE_NO_XDEV"), (0x02, "RESOLVE_NO_MAGICLINKS"), (0x04, "RESOLVE_NO_SYMLINKS"), (0x08, "RESOLVE_BENEATH"),
                            (0x10, "RESOLVE_IN_ROOT")] where resolve & bit != 0 {
            arguments.append(word)
        }
        try record("open", arguments, path: name)
        if file(full) == .missing { throw BerthError.systemCall("open", name, errno: ENOENT) }
        return newDescriptor(full)
    }

    public func close(_ fd: FileDescriptor) { openDescriptors[fd.rawValue] = nil }

    public func closeRange(_ first: Int32, _ last: Int32, closeOnExec: Bool) {
        note("close_range", [String(first), last == -1 ? "max" : String(last)] + (closeOnExec ? ["CLOSE_RANGE_CLOEXEC"] : []))
    }

    public func duplicate(_ fd: FileDescriptor, atLeast minimum: Int32) throws(BerthError) -> FileDescriptor {
        try record("fcntl", ["F_DUPFD_CLOEXEC", name(fd), String(minimum)])
        return newDescriptor(name(fd))
    }

    public func duplicate(_ fd: FileDescriptor, as target: Int32) throws(BerthError) {
        try record("dup3", [name(fd), String(target)])
    }

    public func status(of fd: FileDescriptor, describing name: String) throws(BerthError) -> Glibc.stat {
        try record("fstat", [self.name(fd)], path: name)
        return try status(self.name(fd), call: "fstat", describing: name)
    }

    public func status(of path: String, followingLinks: Bool) throws(BerthError) -> Glibc.stat {
        try record("stat", [path], path: path)
        return try status(path, call: "stat", describing: path)
    }

    public func filesystemType(of fd: FileDescriptor) -> Int {
        let path = name(fd)
        if let type = filesystemTypes[path] { return type }
        if path == "/proc" || path.hasPrefix("/proc/") { return 0x9fa0 }
        if path == "/dev/ptmx" || path.hasPrefix("/dev/pts/") { return 0x1cd1 }
        return 0xef53
    }

    public func access(_ path: String, _ mode: Int32) throws(BerthError) {
        try record("access", [path], path: path)
        if file(path) == .missing { throw BerthError.systemCall("access", path, errno: ENOENT) }
    }

    public func read(_ fd: FileDescriptor, upTo count: Int) throws(BerthError) -> [UInt8] {
        try record("read", [name(fd)])
        let bytes = Array((contents[name(fd)] ?? "").utf8)
        let offset = readOffsets[fd.rawValue] ?? 0
        let chunk = Array(bytes.dropFirst(offset).prefix(count))
        readOffsets[fd.rawValue] = offset + chunk.count
        return chunk
    }

    public func write(_ fd: FileDescriptor, _ bytes: [UInt8], describing name: String?) throws(BerthError) -> Int {
        try record("write", [self.name(fd), String(decoding: bytes, as: UTF8.self)], path: name)
        return bytes.count
    }

    public func makeDirectory(_ name: String, in directory: FileDescriptor, mode: mode_t, describing path: String) throws(BerthError) {
        let full = join(directory, name)
        try create(full, as: .directory, call: "mkdir", describing: path, [full, String(mode, radix: 8)])
        madeDirectories.insert(full)
    }

    public func makeFile(_ name: String, in directory: FileDescriptor, mode: mode_t, describing path: String) throws(BerthError) {
        let full = join(directory, name)
        try create(full, as: .regular, call: "create", describing: path, [full])
    }

    public func makeNode(_ name: String, in directory: FileDescriptor, mode: mode_t, device: dev_t, describing path: String) throws(BerthError) {
        let full = join(directory, name)
        let major = UInt32(truncatingIfNeeded: (device >> 8) & 0xfff), minor = UInt32(truncatingIfNeeded: device & 0xff)
        try create(full, as: .characterDevice(major: major, minor: minor), call: "mknod", describing: path,
                   [full, String(mode, radix: 8), "\(major):\(minor)"])
    }

    public func changeOwner(_ name: String, in directory: FileDescriptor, uid: UInt32, gid: UInt32, describing path: String) throws(BerthError) {
        try record("chown", [join(directory, name), "\(uid):\(gid)"], path: path)
    }

    public func makeSymbolicLink(_ name: String, in directory: FileDescriptor, to target: String, describing path: String) throws(BerthError) {
        let full = join(directory, name)
        try create(full, as: .symbolicLink(target), call: "symlink", describing: path, [full, target])
    }

    public func removeFile(_ name: String, in directory: FileDescriptor, describing path: String) throws(BerthError) {
        let full = join(directory, name)
        try record("unlink", [full], path: path)
        files[full] = nil
    }

    public func readLink(_ name: String, in directory: FileDescriptor) -> String? {
        if case .symbolicLink(let target) = file(join(directory, name)) { return target }
        return nil
    }

    /// The model's paths just below the directory, sorted.
    public func directoryEntries(_ directory: FileDescriptor, describing path: String) throws(BerthError) -> [String] {
        let base = name(directory)
        try record("getdents", [base], path: path)
        let prefix = base == "/" ? "/" : base + "/"
        return files.filter { $0.key.hasPrefix(prefix) && $0.value != .missing && !$0.key.dropFirst(prefix.count).contains("/") }
            .map { String($0.key.dropFirst(prefix.count)) }.sorted()
    }

    // MARK: Mounts

    public func mount(source: String?, target: String, type: String?, flags: MountFlags, data: String?, describing name: String) throws(BerthError) {
        try record("mount", [source ?? "-", resolve(target), type ?? "-", Self.describe(flags), data ?? ""], path: name)
    }

    public func mountFlags(of target: String) -> MountFlags? {
        note("statfs", [resolve(target)])
        return currentMountFlags[resolve(target)] ?? []
    }

    public func unmount(_ target: String, detach: Bool) throws(BerthError) {
        try record("umount", [target] + (detach ? ["MNT_DETACH"] : []), path: target)
    }

    public func pivotRoot(_ newRoot: String, putOld: String) throws(BerthError) {
        try record("pivot_root", [newRoot, putOld], path: "rootfs")
    }

    public func openTree(_ fd: FileDescriptor, flags: UInt32, describing name: String) throws(BerthError) -> FileDescriptor {
        var arguments = [self.name(fd)]
        if flags & Mounts.openTreeClone != 0 { arguments.append("OPEN_TREE_CLONE") }
        if flags & Mounts.atRecursive != 0 { arguments.append("AT_RECURSIVE") }
        try record("open_tree", arguments, path: name)
        return newDescriptor("tree of \(self.name(fd))")
    }

    public func setMountAttributes(_ tree: FileDescriptor, flags: UInt32, set: Mounts.Attributes, clear: Mounts.Attributes, describing name: String) throws(BerthError) {
        try record("mount_setattr", [self.name(tree), "set=\(Self.describe(set))", "clear=\(Self.describe(clear))"]
                   + (flags & Mounts.atRecursive != 0 ? ["AT_RECURSIVE"] : []), path: name)
    }

    public func openFilesystem(_ type: String, describing name: String) throws(BerthError) -> FileDescriptor {
        try record("fsopen", [type], path: name)
        return newDescriptor("\(type) context")
    }

    public func createFilesystem(_ context: FileDescriptor, describing name: String) throws(BerthError) {
        try record("fsconfig", [self.name(context), "FSCONFIG_CMD_CREATE"], path: name)
    }

    public func mountFilesystem(_ context: FileDescriptor, attributes: Mounts.Attributes, describing name: String) throws(BerthError) -> FileDescriptor {
        try record("fsmount", [self.name(context), Self.describe(attributes)], path: name)
        return newDescriptor("mount of \(self.name(context))")
    }

    public func moveMount(_ tree: FileDescriptor, onto target: FileDescriptor, describing name: String) throws(BerthError) {
        try record("move_mount", [self.name(tree), self.name(target)], path: name)
    }

    // MARK: The process

    public func changeDirectory(_ path: String, describing name: String) throws(BerthError) {
        try record("chdir", [path], path: name)
    }

    public func changeDirectory(to directory: FileDescriptor, describing name: String) throws(BerthError) {
        try record("fchdir", [self.name(directory)], path: name)
    }

    public func changeRoot(_ path: String, describing name: String) throws(BerthError) {
        try record("chroot", [path], path: name)
    }

    public func currentDirectory() -> String? { workingDirectory }

    public func setUmask(_ mode: mode_t) { note("umask", [String(mode, radix: 8)]) }

    public func processID() -> pid_t { pid }

    /// Answers as the child, the only side that goes on with the set-up.
    public func fork() throws(BerthError) -> pid_t {
        try record("clone3", [])
        return 0
    }

    public func newSession() { note("setsid", []) }

    public func unblockAllSignals() { note("sigprocmask", ["SIG_SETMASK", "none blocked"]) }

    public func setHostname(_ name: String) throws(BerthError) { try record("sethostname", [name], path: name) }

    public func setDomainname(_ name: String) throws(BerthError) { try record("setdomainname", [name], path: name) }

    public func setNamespace(_ fd: FileDescriptor, kind: NamespaceKind, path: String) throws(BerthError) {
        try record("setns", [kind.rawValue, path], path: path)
    }

    public func unshare(_ kinds: [NamespaceKind]) throws(BerthError) {
        try record("unshare", kinds.map(\.rawValue))
    }

    public func prctl(_ option: Int32, _ argument: UInt, describing name: String) throws(BerthError) {
        try record("prctl", [name, String(argument)], path: name)
    }

    public func setResourceLimit(_ resource: Int32, soft: UInt64, hard: UInt64, name: String) throws(BerthError) {
        try record("setrlimit", [name, String(soft), String(hard)], path: name)
    }

    public func setMemoryPolicy(mode: Int32, nodeMask: [UInt]) throws(BerthError) {
        try record("set_mempolicy", [String(mode)])
    }

    public func setIDMapping(_ tree: FileDescriptor, userNamespace: FileDescriptor, recursive: Bool, describing name: String) throws(BerthError) {
        try record("mount_setattr", [self.name(tree), "idmap", self.name(userNamespace)] + (recursive ? ["recursive"] : []), path: name)
    }

    public func setScheduler(_ attributes: SchedulerAttributes) throws(BerthError) {
        let policy = SchedulerAttributes.policies.first { $0.value == attributes.policy }?.key ?? String(attributes.policy)
        try record("sched_setattr", [policy, "flags=\(attributes.flags)", "nice=\(attributes.nice)", "priority=\(attributes.priority)",
                                     "runtime=\(attributes.runtime)", "deadline=\(attributes.deadline)", "period=\(attributes.period)"])
    }

    public func setIOPriority(_ value: Int32) throws(BerthError) {
        try record("ioprio_set", ["class=\(value >> 13)", "level=\(value & 0x1fff)"])
    }

    public func setPersonality(_ persona: UInt) throws(BerthError) {
        try record("personality", ["0x" + String(persona, radix: 16)])
    }

    /// The mask as a CPU list (`0-3,7`), or `all` for one that allows every CPU.
    public func setCPUAffinity(_ mask: [UInt], describing name: String?) throws(BerthError) {
        try record("sched_setaffinity", [mask.allSatisfy { $0 == UInt.max } ? "all" : RecordingKernel.list(mask)], path: name)
    }

    static func list(_ mask: [UInt]) -> String {
        var ranges: [String] = []
        var start: Int?
        let bits = mask.count * 64
        for bit in 0...bits {
            let set = bit < bits && mask[bit / 64] & (1 << UInt(bit % 64)) != 0
            if set, start == nil { start = bit }
            if !set, let first = start {
                ranges.append(first == bit - 1 ? "\(first)" : "\(first)-\(bit - 1)")
                start = nil
            }
        }
        return ranges.joined(separator: ",")
    }

    /// Recorded, then answered with an error whose message says so: a test ends here.
    public func exec(path: String, arguments: [String], environment: [String]) -> BerthError {
        do { try record("execve", [path] + arguments, path: path) } catch { return error }
        return BerthError(.system, RecordingKernel.execMessage)
    }

    /// The message of the error `exec` ends a recorded set-up with.
    public static let execMessage = "execve recorded by the test double"

    // MARK: Identity

    public func setGroups(_ groups: [UInt32]) throws(BerthError) { try record("setgroups", groups.map { String($0) }) }

    public func setGroupIDs(_ gid: UInt32) throws(BerthError) { try record("setresgid", [String(gid)], path: String(gid)) }

    public func setUserIDs(_ uid: UInt32) throws(BerthError) { try record("setresuid", [String(uid)], path: String(uid)) }

    public func dropBoundingCapability(_ capability: Int32) throws(BerthError) {
        let name = Self.capabilityName(capability)
        try record("prctl", ["PR_CAPBSET_DROP", name], path: "PR_CAPBSET_DROP \(name)")
    }

    public func setCapabilities(effective: [Int32], permitted: [Int32], inheritable: [Int32]) throws(BerthError) {
        func list(_ caps: [Int32]) -> String { caps.map(Self.capabilityName).joined(separator: ",") }
        try record("capset", ["effective=\(list(effective))", "permitted=\(list(permitted))", "inheritable=\(list(inheritable))"])
    }

    public func clearAmbientCapabilities() throws(BerthError) {
        try record("prctl", ["PR_CAP_AMBIENT_CLEAR_ALL"], path: "PR_CAP_AMBIENT_CLEAR_ALL")
    }

    public func raiseAmbientCapability(_ capability: Int32) throws(BerthError) {
        let name = Self.capabilityName(capability)
        try record("prctl", ["PR_CAP_AMBIENT_RAISE", name], path: "PR_CAP_AMBIENT_RAISE \(name)")
    }

    /// Records the operation, the flags and the program's length; a failure sets errno and
    /// returns -1, as the kernel does.
    public func seccomp(_ operation: UInt32, _ flags: UInt32, _ arguments: UnsafeMutableRawPointer?) -> Int32 {
        // struct sock_fprog starts with the number of instructions.
        let length = arguments.map { $0.load(as: UInt16.self) } ?? 0
        do {
            try record("seccomp", [String(operation), "flags=\(flags)", "instructions=\(length)"])
        } catch {
            Glibc.errno = error.errno
            return -1
        }
        // SECCOMP_FILTER_FLAG_NEW_LISTENER asks for a listener descriptor.
        return flags & 8 != 0 ? newDescriptor("seccomp listener").rawValue : 0
    }

    public func sendDescriptor(_ fd: FileDescriptor, over socket: FileDescriptor, payload: String, describing name: String) throws(BerthError) {
        try record("sendmsg", [self.name(fd), self.name(socket)], path: name)
    }

    // MARK: The terminal

    public func unlockPseudoTerminal(_ fd: FileDescriptor) throws(BerthError) -> Int32 {
        try record("ioctl", ["TIOCSPTLCK", self.name(fd)], path: "/dev/ptmx unlock")
        return 0
    }

    public func setWindowSize(_ fd: FileDescriptor, rows: UInt16, columns: UInt16) throws(BerthError) {
        try record("ioctl", ["TIOCSWINSZ", self.name(fd), "\(rows)x\(columns)"], path: "TIOCSWINSZ")
    }

    public func setControllingTerminal(_ fd: FileDescriptor) throws(BerthError) {
        try record("ioctl", ["TIOCSCTTY", self.name(fd)], path: "TIOCSCTTY")
    }
}
