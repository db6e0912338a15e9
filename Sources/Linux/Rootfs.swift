import BerthCore
import CShim
import Glibc

/// A container's root filesystem, held open. Every path inside it is resolved by the kernel
/// with RESOLVE_IN_ROOT, so a symlink or `..` planted in the tree cannot lead outside it.
public struct Rootfs<Kernel: KernelCalls> {
    public let path: String
    public let descriptor: FileDescriptor
    let kernel: Kernel

    static var resolveNoMagicLinks: UInt64 { 0x02 }
    public static var resolveInRoot: UInt64 { 0x10 }

    public init(path: String, kernel: Kernel) throws(BerthError) {
        self.path = path
        self.kernel = kernel
        descriptor = try kernel.open(path, BERTH_O_PATH | O_DIRECTORY, mode: 0, relativeTo: nil)
    }

    public func close() { kernel.close(descriptor) }

    /// Opens `path` (absolute or relative, read as relative to the rootfs) inside the rootfs.
    public func open(_ path: String, _ flags: Int32 = BERTH_O_PATH, mode: mode_t = 0) throws(BerthError) -> FileDescriptor {
        let relative = Self.relative(path)
        var attempts = 0
        while true {
            do {
                return try kernel.open(relative, in: descriptor, flags, mode: mode, resolve: Self.resolveInRoot | Self.resolveNoMagicLinks,
                                       describing: "rootfs\(path.hasPrefix("/") ? "" : "/")\(path)")
            } catch where error.errno == EAGAIN && attempts < Self.maxRetries {
                // openat2 answers EAGAIN when a `..` met a rename or mount anywhere on the
                // system during the walk (it cannot prove the result stayed in the root):
                // asked to try again, it does.
                attempts += 1
            }
        }
    }

    /// How often an open raced by renames or mounts elsewhere is tried again.
    static var maxRetries: Int { 128 }

    /// The most symbolic links one `openOrCreate` follows by hand, as the kernel's MAXSYMLINKS.
    static var maxLinks: Int { 40 }

    /// Opens `path` inside the rootfs as an O_PATH descriptor, creating missing directories on
    /// the way and the last component as a directory or an empty file. A dangling link on the
    /// way is followed as the kernel would, inside the rootfs: what it names is created, not the
    /// link replaced (an absolute target is read from the rootfs, a relative one from the
    /// link's directory, and every step is opened with RESOLVE_IN_ROOT again, so no link can
    /// lead the creation outside).
    public func openOrCreate(_ path: String, directory: Bool, mode: mode_t = 0o755) throws(BerthError) -> FileDescriptor {
        var pending = Self.components(path)
        // What is opened so far, as a path from the root; the kernel resolves its links and `..`.
        var prefix = ""
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            let candidate = prefix.isEmpty ? component : prefix + "/" + component
            do {
                let fd = try open(candidate)
                if pending.isEmpty { return fd }
                kernel.close(fd)
            } catch where error.errno == ENOENT {
                let parentFD = try open(prefix.isEmpty ? "." : prefix, BERTH_O_PATH | O_DIRECTORY)
                defer { kernel.close(parentFD) }
                if let target = try danglingLinkTarget(candidate) {
                    links += 1
                    guard links <= Self.maxLinks else { throw BerthError.systemCall("open", "rootfs/\(candidate)", errno: ELOOP) }
                    if target.hasPrefix("/") { prefix = "" }
                    pending = Self.components(target) + pending
                    continue
                }
                if pending.isEmpty && !directory {
                    try kernel.makeFile(component, in: parentFD, mode: 0o644, describing: "rootfs/\(candidate)")
                } else {
                    try kernel.makeDirectory(component, in: parentFD, mode: mode, describing: "rootfs/\(candidate)")
                }
            }
            prefix = candidate
        }
        return try open(prefix.isEmpty ? "." : prefix)
    }

    static var procSuperMagic: Int { 0x9fa0 }

    /// The target of the symbolic link at `path`, read from the link itself (opened without
    /// following it), or nil when there is none. procfs's links are never followed by hand:
    /// their text describes a descriptor or a process, not a path in the rootfs (reading
    /// /proc/self/fd/N of the directory just opened gives its host path).
    func danglingLinkTarget(_ path: String) throws(BerthError) -> String? {
        let link: FileDescriptor
        do { link = try open(path, BERTH_O_PATH | O_NOFOLLOW) } catch where error.errno == ENOENT { return nil }
        defer { kernel.close(link) }
        guard (try kernel.status(of: link, describing: "rootfs/\(path)").st_mode & S_IFMT) == S_IFLNK,
              kernel.filesystemType(of: link) != Self.procSuperMagic else { return nil }
        guard let target = kernel.readLink("", in: link), !target.isEmpty else { return nil }
        return target
    }

    /// The components of `path`, without empty ones and `.`.
    static func components(_ path: String) -> [String] {
        path.split(separator: "/").filter { $0 != "." }.map(String.init)
    }

    /// `path` without leading slashes, for openat2 relative to the root descriptor.
    static func relative(_ path: String) -> String {
        let trimmed = path.drop(while: { $0 == "/" })
        return trimmed.isEmpty ? "." : String(trimmed)
    }
}

extension Rootfs: Sendable where Kernel: Sendable {}

extension Rootfs where Kernel == LiveKernel {
    public init(path: String) throws(BerthError) { try self.init(path: path, kernel: LiveKernel()) }
}
