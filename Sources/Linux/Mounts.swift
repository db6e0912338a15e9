import BerthCore
import Glibc

/// Flags and constants of mount(2), statfs(2) and the new mount API; the mount operations a
/// container's set-up makes are on `KernelCalls`, below.
public enum Mounts {
    /// The flags the kernel locks on a mount that a less privileged user namespace received
    /// from a more privileged one: a remount from the container's user namespace must keep them.
    static let lockableFlags: MountFlags = [.readOnly, .noSuid, .noDev, .noExec, .noAtime, .noDirAtime, .relatime, .strictAtime]
    static let atimeFlags: MountFlags = [.noAtime, .relatime, .strictAtime]

    /// statfs's ST_* flags as MS_* ones: equal up to ST_NODIRATIME, but ST_RELATIME is 4096 (MS_BIND's
    /// value), and strictatime is what a mount without noatime or relatime has.
    public static func mountFlags(statfsFlags: UInt) -> MountFlags {
        var flags = MountFlags(rawValue: statfsFlags).intersection([.readOnly, .noSuid, .noDev, .noExec, .noAtime, .noDirAtime])
        if statfsFlags & 4096 != 0 { flags.insert(.relatime) }
        if flags.intersection([.noAtime, .relatime]).isEmpty { flags.insert(.strictAtime) }
        return flags
    }

    /// MOUNT_ATTR_* flags of mount_setattr(2) and fsmount(2).
    public struct Attributes: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let readOnly = Attributes(rawValue: 0x1)
        public static let noSuid = Attributes(rawValue: 0x2)
        public static let noDev = Attributes(rawValue: 0x4)
        public static let noExec = Attributes(rawValue: 0x8)
        /// The atime mode field: relatime is its zero value, noatime and strictatime are others.
        public static let atime = Attributes(rawValue: 0x70)
        public static let noAtime = Attributes(rawValue: 0x10)
        public static let strictAtime = Attributes(rawValue: 0x20)
        public static let noDirAtime = Attributes(rawValue: 0x80)
        public static let noSymfollow = Attributes(rawValue: 0x20_0000)
    }

    public static let openTreeClone: UInt32 = 1
    public static let openTreeCloexec: UInt32 = 0o2000000
    static let atEmptyPath: UInt32 = 0x1000
    public static let atRecursive: UInt32 = 0x8000
    static let moveMountFromEmptyPath: UInt32 = 0x04
    static let moveMountToEmptyPath: UInt32 = 0x40
    static let fsconfigCreate: UInt32 = 6
    static let cloexec: UInt32 = 1
}

/// mount(2) on paths, pivot_root(2), and mounts made on descriptors with the new mount API
/// (open_tree, fsmount, mount_setattr, move_mount). On descriptors, the object that was opened
/// and checked is the one mounted on: no path is walked again between the check and the mount,
/// and nothing depends on which /proc is mounted.
extension KernelCalls {
    /// Sets the per-mount flags of a bind mount to exactly `flags`, as runc does: what is not
    /// asked for is cleared. When the kernel refuses (EPERM: the mount came from a more
    /// privileged user namespace, which locks its flags), the remount is tried again with the
    /// lockable flags the mount has, its atime mode (and nodiratime) in place of the ones asked for: the kernel
    /// forces those, everything else is as asked.
    public func remountBind(target: String, flags: MountFlags, describing name: String) throws(BerthError) {
        let remount = flags.union([.bind, .remount])
        do {
            try mount(source: nil, target: target, type: nil, flags: remount, data: nil, describing: name)
        } catch where error.errno == EPERM {
            guard let current = mountFlags(of: target) else { throw error }
            // nodiratime belongs to the locked atime state as well.
            try mount(source: nil, target: target, type: nil, flags: remount.subtracting(Mounts.atimeFlags.union(.noDirAtime)).union(current),
                      data: nil, describing: name)
        }
    }

    /// Makes the mount at `target` read-only and keeps every other flag it has (nosuid, nodev,
    /// noexec, its atime mode), which a remount would otherwise clear or, locked, refuse to.
    public func remountReadOnly(target: String, describing name: String) throws(BerthError) {
        let carried = mountFlags(of: target) ?? []
        try mount(source: nil, target: target, type: nil, flags: carried.union([.readOnly, .bind, .remount]), data: nil, describing: name)
    }

    public func setPropagation(target: String, _ flags: MountFlags, describing name: String) throws(BerthError) {
        try mount(source: nil, target: target, type: nil, flags: flags, data: nil, describing: name)
    }

    /// pivot_root(".", ".") with the new root as the working directory: the old root is stacked
    /// on top of the new one and detached at once, so no directory for it is needed in the rootfs.
    public func pivotRoot(to newRoot: FileDescriptor) throws(BerthError) {
        try changeDirectory(to: newRoot, describing: "rootfs")
        try pivotRoot(".", putOld: ".")
        try unmount(".", detach: true)
        try changeDirectory("/", describing: "/")
    }

    /// The fallback for roots that cannot be pivoted (a ramfs initramfs): move the rootfs over /
    /// and chroot. It does not detach the host's tree, so `--no-pivot` is for trusted setups only.
    public func moveRoot(to rootfs: String) throws(BerthError) {
        try changeDirectory(rootfs, describing: rootfs)
        try mount(source: rootfs, target: "/", type: nil, flags: .move, data: nil, describing: "/")
        try changeRoot(".", describing: rootfs)
        try changeDirectory("/", describing: "/")
    }

    /// A detached copy of the mount at `source` (a bind mount not yet attached anywhere).
    public func cloneTree(of source: FileDescriptor, recursive: Bool, describing name: String) throws(BerthError) -> FileDescriptor {
        try openTree(source, flags: Mounts.openTreeClone | Mounts.openTreeCloexec | (recursive ? Mounts.atRecursive : 0), describing: name)
    }

    /// Sets `attributes` on the mount `tree` names (and, `recursive`, every mount below it), and
    /// clears `cleared`. Clearing a flag the kernel locked (one a more privileged user namespace
    /// set) fails with EPERM.
    public func setAttributes(_ tree: FileDescriptor, _ attributes: Mounts.Attributes, clearing cleared: Mounts.Attributes = [], recursive: Bool,
                              describing name: String) throws(BerthError) {
        try setMountAttributes(tree, flags: recursive ? Mounts.atRecursive : 0, set: attributes, clear: cleared, describing: name)
    }

    /// A new tmpfs, mounted nowhere yet, with `attributes` on its mount.
    public func detachedTmpfs(_ attributes: Mounts.Attributes, describing name: String) throws(BerthError) -> FileDescriptor {
        let context = try openFilesystem("tmpfs", describing: "tmpfs for \(name)")
        defer { close(context) }
        try createFilesystem(context, describing: "tmpfs for \(name)")
        return try mountFilesystem(context, attributes: attributes, describing: "tmpfs for \(name)")
    }
}
