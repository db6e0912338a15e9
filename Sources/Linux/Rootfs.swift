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
        let fd = try sys("open", "rootfs\(path.hasPrefix("/") ? "" : "/")\(path)") {
            berth_openat2(descriptor.rawValue, relative, UInt64(flags | O_CLOEXEC), UInt64(mode), Rootfs.resolveInRoot | Rootfs.resolveNoMagicLinks)
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Opens `path` inside the rootfs as an BERTH_O_PATH descriptor, creating missing directories on
    /// the way and the last component as a directory or an empty file.
    public func openOrCreate(_ path: String, directory: Bool, mode: mode_t = 0o755) throws(BerthError) -> FileDescriptor {
        let components = Rootfs.relative(path).split(separator: "/").map(String.init)
        var prefix = ""
        for (index, component) in components.enumerated() {
            let parent = prefix
            prefix = prefix.isEmpty ? component : prefix + "/" + component
            let isLast = index == components.count - 1
            do {
                let fd = try open(prefix)
                if isLast { return fd }
                fd.close()
                continue
            } catch where error.errno == ENOENT {
                let parentFD = try open(parent.isEmpty ? "." : parent, BERTH_O_PATH | O_DIRECTORY)
                defer { parentFD.close() }
                if isLast && !directory {
                    let file = try sys("create", "rootfs/\(prefix)") {
                        Glibc.openat(parentFD.rawValue, component, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o644)
                    }
                    Glibc.close(file)
                } else {
                    try sys("mkdir", "rootfs/\(prefix)") { Glibc.mkdirat(parentFD.rawValue, component, mode) }
                }
            }
        }
        if components.isEmpty { return try open(".") }
        return try open(prefix)
    }

    /// `path` without leading slashes, for openat2 relative to the root descriptor.
    static func relative(_ path: String) -> String {
        let trimmed = path.drop(while: { $0 == "/" })
        return trimmed.isEmpty ? "." : String(trimmed)
    }
}
