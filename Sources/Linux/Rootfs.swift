import BerthCore
import CShim
import Glibc

/// A container's root filesystem, held open. Every path inside it is resolved by the kernel
/// with RESOLVE_IN_ROOT, so a symlink or `..` planted in the tree cannot lead outside it.
public struct Rootfs: Sendable {
    public let path: String
    public let descriptor: FileDescriptor

    static let resolveNoMagicLinks: UInt64 = 0x02
    static let resolveInRoot: UInt64 = 0x10

    public init(path: String) throws(BerthError) {
        self.path = path
        descriptor = try FileDescriptor.open(path, BERTH_O_PATH | O_DIRECTORY)
    }

    public func close() { descriptor.close() }

    /// Opens `path` (absolute or relative, read as relative to the rootfs) inside the rootfs.
    public func open(_ path: String, _ flags: Int32 = BERTH_O_PATH, mode: mode_t = 0) throws(BerthError) -> FileDescriptor {
        let relative = Rootfs.relative(path)
        var attempts = 0
        while true {
            do {
                let fd = try sys("open", "rootfs\(path.hasPrefix("/") ? "" : "/")\(path)") {
                    berth_openat2(descriptor.rawValue, relative, UInt64(flags | O_CLOEXEC), UInt64(mode), Rootfs.resolveInRoot | Rootfs.resolveNoMagicLinks)
                }
                return FileDescriptor(rawValue: fd)
            } catch where error.errno == EAGAIN && attempts < Rootfs.maxRetries {
                // openat2 answers EAGAIN when a `..` met a rename or mount anywhere on the
                // system during the walk (it cannot prove the result stayed in the root):
                // asked to try again, it does.
                attempts += 1
            }
        }
    }

    /// How often an open raced by renames or mounts elsewhere is tried again.
    static let maxRetries = 128

    /// The most symbolic links one `openOrCreate` follows by hand, as the kernel's MAXSYMLINKS.
    static let maxLinks = 40

    /// Opens `path` inside the rootfs as an O_PATH descriptor, creating missing directories on
    /// the way and the last component as a directory or an empty file. A dangling link on the
    /// way is followed as the kernel would, inside the rootfs: what it names is created, not the
    /// link replaced (an absolute target is read from the rootfs, a relative one from the
    /// link's directory, and every step is opened with RESOLVE_IN_ROOT again, so no link can
    /// lead the creation outside).
    public func openOrCreate(_ path: String, directory: Bool, mode: mode_t = 0o755) throws(BerthError) -> FileDescriptor {
        var pending = Rootfs.components(path)
        // What is opened so far, as a path from the root; the kernel resolves its links and `..`.
        var prefix = ""
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            let candidate = prefix.isEmpty ? component : prefix + "/" + component
            do {
                let fd = try open(candidate)
                if pending.isEmpty { return fd }
                fd.close()
            } catch where error.errno == ENOENT {
                let parentFD = try open(prefix.isEmpty ? "." : prefix, BERTH_O_PATH | O_DIRECTORY)
                defer { parentFD.close() }
                if let target = try danglingLinkTarget(candidate) {
                    links += 1
                    guard links <= Rootfs.maxLinks else { throw BerthError(.system, "open rootfs/\(candidate)", errno: ELOOP) }
                    if target.hasPrefix("/") { prefix = "" }
                    pending = Rootfs.components(target) + pending
                    continue
                }
                if pending.isEmpty && !directory {
                    let file = try sys("create", "rootfs/\(candidate)") {
                        Glibc.openat(parentFD.rawValue, component, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o644)
                    }
                    Glibc.close(file)
                } else {
                    try sys("mkdir", "rootfs/\(candidate)") { Glibc.mkdirat(parentFD.rawValue, component, mode) }
                }
            }
            prefix = candidate
        }
        return try open(prefix.isEmpty ? "." : prefix)
    }

    static let procSuperMagic = 0x9fa0

    /// The target of the symbolic link at `path`, read from the link itself (opened without
    /// following it), or nil when there is none. procfs's links are never followed by hand:
    /// their text describes a descriptor or a process, not a path in the rootfs (reading
    /// /proc/self/fd/N of the directory just opened gives its host path).
    func danglingLinkTarget(_ path: String) throws(BerthError) -> String? {
        let link: FileDescriptor
        do { link = try open(path, BERTH_O_PATH | O_NOFOLLOW) } catch where error.errno == ENOENT { return nil }
        defer { link.close() }
        guard (try link.stat().st_mode & S_IFMT) == S_IFLNK, berth_fstatfs_type(link.rawValue) != Rootfs.procSuperMagic else { return nil }
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = Glibc.readlinkat(link.rawValue, "", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
