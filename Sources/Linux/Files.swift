import BerthCore
import Glibc

/// Small whole-file operations on host paths. Paths inside a container's rootfs never come
/// through here: they are resolved with `RootfsPath` so that symlinks cannot escape.
public enum Files {
    public static func read(_ path: String) throws(BerthError) -> [UInt8] {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        defer { fd.close() }
        do { return try fd.readAll() } catch { throw error.prefixed(path) }
    }

    public static func readString(_ path: String) throws(BerthError) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Writes `bytes` to an existing file (sysfs, procfs, cgroupfs) in one write(2): kernel
    /// files take one value per write.
    public static func writeExisting(_ path: String, _ text: String, relativeTo dir: FileDescriptor? = nil) throws(BerthError) {
        // O_TRUNC is ignored by kernfs and procfs, and keeps temp-tree stand-ins in tests exact.
        let fd = try FileDescriptor.open(path, O_WRONLY | O_TRUNC, relativeTo: dir)
        defer { fd.close() }
        let bytes = Array(text.utf8)
        let written = try sys("write", path) { bytes.withUnsafeBytes { Glibc.write(fd.rawValue, $0.baseAddress, $0.count) } }
        if written != bytes.count { throw BerthError(.system, "write \(path): short write") }
    }

    /// Replaces `path` atomically: write a temporary file beside it, rename. A reader sees the old
    /// or the new content, never a mix, and a process killed at any point leaves one of the two.
    /// `durable` also fsyncs before the rename, so that a power loss or a kernel crash leaves one
    /// of the two as well: for what must outlive a reboot (ctr's service definitions). A
    /// container's runtime state describes processes that a reboot ends, so it goes without: on a
    /// disk-backed state root each fsync is a journal commit the container's start waits for.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600, durable: Bool = true) throws(BerthError) {
        let temporary = path + ".tmp"
        let fd = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        do {
            try fd.writeAll(bytes)
            if durable { try sys("fsync", temporary) { Glibc.fsync(fd.rawValue) } }
            fd.close()
            try sys("rename", path) { Glibc.rename(temporary, path) }
        } catch {
            fd.close()
            _ = try? sys("unlink", temporary) { Glibc.unlink(temporary) }
            throw error
        }
    }

    public static func exists(_ path: String) -> Bool { status(path, followingLinks: false) != nil }

    public static func isDirectory(_ path: String) -> Bool {
        guard let info = status(path, followingLinks: true) else { return false }
        return (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// fstatat(2); nil when it fails.
    static func status(_ path: String, followingLinks: Bool) -> Glibc.stat? {
        var info = Glibc.stat()
        guard (try? sys("stat", path) { Glibc.fstatat(AT_FDCWD, path, &info, followingLinks ? 0 : AT_SYMLINK_NOFOLLOW) }) != nil else { return nil }
        return info
    }

    /// mkdir -p; existing directories are fine.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(BerthError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            do { try sys("mkdir", prefix) { Glibc.mkdir(prefix, mode) } } catch where error.errno == EEXIST {}
        }
    }

    /// rm -rf that stays on one filesystem and never follows symlinks. Used for state
    /// directories, which hold only plain files and a fifo.
    public static func removeTree(_ path: String) {
        guard let info = status(path, followingLinks: false) else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in list(path) { removeTree(path + "/" + name) }
            _ = try? sys("rmdir", path) { Glibc.rmdir(path) }
        } else {
            _ = try? sys("unlink", path) { Glibc.unlink(path) }
        }
    }

    /// The names in a directory, without . and ..; empty when it cannot be read.
    public static func list(_ path: String) -> [String] {
        guard let dir = Glibc.opendir(path) else { return [] }
        defer { Glibc.closedir(dir) }
        var names: [String] = []
        while let entry = Glibc.readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
