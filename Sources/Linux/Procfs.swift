import BerthCore
import CShim
import Glibc

/// A handle on a procfs that Berth opened and checked itself. Writes to /proc (sysctls,
/// oom_score_adj, uid_map) go through it, never through a path a container could have shaped:
/// the magic proves it is procfs, and RESOLVE_NO_XDEV refuses a file with a mount over it.
public struct Procfs<Kernel: KernelCalls> {
    public let descriptor: FileDescriptor
    let kernel: Kernel
    static var procSuperMagic: Int { 0x9fa0 }
    static var resolveNoXDev: UInt64 { 0x01 }
    static var resolveNoMagicLinks: UInt64 { 0x02 }
    static var resolveNoSymlinks: UInt64 { 0x04 }
    static var resolveBeneath: UInt64 { 0x08 }

    /// Opens and verifies the procfs mounted at `path`.
    public init(at path: String = "/proc", kernel: Kernel) throws(BerthError) {
        let fd = try kernel.open(path, BERTH_O_PATH | O_DIRECTORY, mode: 0, relativeTo: nil)
        guard kernel.filesystemType(of: fd) == Self.procSuperMagic else {
            kernel.close(fd)
            throw BerthError(.system, "\(path) is not procfs")
        }
        descriptor = fd
        self.kernel = kernel
    }

    public func close() { kernel.close(descriptor) }

    /// Opens `relativePath` under this procfs without following any symlink or crossing a mount.
    /// `self` is the one link allowed: it is how /proc names the calling process.
    public func open(_ relativePath: String, _ flags: Int32) throws(BerthError) -> FileDescriptor {
        var path = relativePath
        if path.hasPrefix("self/") { path = "\(kernel.processID())/" + path.dropFirst(5) }
        return try kernel.open(path, in: descriptor, flags, mode: 0,
                               resolve: Self.resolveNoXDev | Self.resolveNoMagicLinks | Self.resolveNoSymlinks | Self.resolveBeneath,
                               describing: "/proc/\(relativePath)")
    }

    /// Writes `value` to `relativePath` in one write(2).
    public func write(_ relativePath: String, _ value: String) throws(BerthError) {
        let fd = try open(relativePath, O_WRONLY)
        defer { kernel.close(fd) }
        let bytes = Array(value.utf8)
        do throws(BerthError) {
            let written = try kernel.write(fd, bytes, describing: nil)
            if written != bytes.count { throw BerthError(.system, "short write") }
        } catch {
            throw error.prefixed("write /proc/\(relativePath)")
        }
    }
}

extension Procfs: Sendable where Kernel: Sendable {}

extension Procfs where Kernel == LiveKernel {
    public init(at path: String = "/proc") throws(BerthError) { try self.init(at: path, kernel: LiveKernel()) }
}

extension Procfs<LiveKernel> {
    /// The /proc/sys path of a sysctl name: `net.ipv4.ip_forward` -> `sys/net/ipv4/ip_forward`.
    public static func sysctlPath(_ name: String) -> String {
        "sys/" + name.split(separator: ".", omittingEmptySubsequences: false).joined(separator: "/")
    }
}
