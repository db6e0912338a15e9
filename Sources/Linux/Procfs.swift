import BerthCore
import CShim
import Glibc

/// A handle on a procfs that Berth opened and checked itself. Writes to /proc (sysctls,
/// oom_score_adj, uid_map) go through it, never through a path a container could have shaped:
/// the magic proves it is procfs, and RESOLVE_NO_XDEV refuses a file with a mount over it.
public struct Procfs: Sendable {
    public let descriptor: FileDescriptor
    static let procSuperMagic = 0x9fa0
    static let resolveNoXDev: UInt64 = 0x01
    static let resolveNoMagicLinks: UInt64 = 0x02
    static let resolveNoSymlinks: UInt64 = 0x04
    static let resolveBeneath: UInt64 = 0x08

    /// Opens and verifies the procfs mounted at `path`.
    public init(at path: String = "/proc") throws(BerthError) {
        let fd = try FileDescriptor.open(path, BERTH_O_PATH | O_DIRECTORY)
        guard berth_fstatfs_type(fd.rawValue) == Procfs.procSuperMagic else {
            fd.close()
            throw BerthError(.system, "\(path) is not procfs")
        }
        descriptor = fd
    }

    public func close() { descriptor.close() }

    /// Opens `relativePath` under this procfs without following any symlink or crossing a mount.
    /// `self` is the one link allowed: it is how /proc names the calling process.
    public func open(_ relativePath: String, _ flags: Int32) throws(BerthError) -> FileDescriptor {
        var path = relativePath
        if path.hasPrefix("self/") { path = "\(getpid())/" + path.dropFirst(5) }
        let fd = try sys("open", "/proc/\(relativePath)") {
            berth_openat2(descriptor.rawValue, path, UInt64(flags | O_CLOEXEC), 0,
                          Procfs.resolveNoXDev | Procfs.resolveNoMagicLinks | Procfs.resolveNoSymlinks | Procfs.resolveBeneath)
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Writes `value` to `relativePath` in one write(2).
    public func write(_ relativePath: String, _ value: String) throws(BerthError) {
        let fd = try open(relativePath, O_WRONLY)
        defer { fd.close() }
        let bytes = Array(value.utf8)
        do throws(BerthError) {
            let written = try sys("write") { bytes.withUnsafeBytes { Glibc.write(fd.rawValue, $0.baseAddress, $0.count) } }
            if written != bytes.count { throw BerthError(.system, "short write") }
        } catch {
            throw error.prefixed("write /proc/\(relativePath)")
        }
    }

    /// The /proc/sys path of a sysctl name: `net.ipv4.ip_forward` -> `sys/net/ipv4/ip_forward`.
    public static func sysctlPath(_ name: String) -> String {
        "sys/" + name.split(separator: ".", omittingEmptySubsequences: false).joined(separator: "/")
    }
}
