import BerthCore
import CShim
import Glibc

/// mount(2), umount2(2), pivot_root(2) and the new mount API.
public enum Mounts {
    /// mount(2). `target` is usually `/proc/self/fd/N` of a descriptor opened inside the rootfs,
    /// so the kernel mounts on exactly the object that was checked.
    public static func mount(source: String?, target: String, type: String?, flags: MountFlags, data: String? = nil, describing name: String? = nil) throws(BerthError) {
        try sys("mount", name ?? target) {
            Glibc.mount(source, target, type, UInt(flags.rawValue), data.flatMap { $0.isEmpty ? nil : $0 })
        }
    }

    /// The flags the kernel locks on a mount that a less privileged user namespace received
    /// from a more privileged one: a remount from the container's user namespace must keep them.
    static let lockableFlags: MountFlags = [.readOnly, .noSuid, .noDev, .noExec, .noAtime, .noDirAtime, .relatime, .strictAtime]
    static let atimeFlags: MountFlags = [.noAtime, .relatime, .strictAtime]

    /// The lockable flags of the mount at `target`, from statfs.
    static func currentFlags(_ target: String) -> MountFlags? {
        let current = berth_statfs_flags(target)
        return current >= 0 ? mountFlags(statfsFlags: UInt(current)) : nil
    }

    /// statfs's ST_* flags as MS_* ones: equal up to ST_NODIRATIME, but ST_RELATIME is 4096 (MS_BIND's
    /// value), and strictatime is what a mount without noatime or relatime has.
    public static func mountFlags(statfsFlags: UInt) -> MountFlags {
        var flags = MountFlags(rawValue: statfsFlags).intersection([.readOnly, .noSuid, .noDev, .noExec, .noAtime, .noDirAtime])
        if statfsFlags & 4096 != 0 { flags.insert(.relatime) }
        if flags.intersection([.noAtime, .relatime]).isEmpty { flags.insert(.strictAtime) }
        return flags
    }

    /// Sets the per-mount flags of a bind mount to exactly `flags`, as runc does: what is not
    /// asked for is cleared. When the kernel refuses (EPERM: the mount came from a more
    /// privileged user namespace, which locks its flags), the remount is tried again with the
    /// lockable flags the mount has, its atime mode (and nodiratime) in place of the ones asked for: the kernel
    /// forces those, everything else is as asked.
    public static func remountBind(target: String, flags: MountFlags, describing name: String? = nil) throws(BerthError) {
        let remount = flags.union([.bind, .remount])
        do {
            try mount(source: nil, target: target, type: nil, flags: remount, describing: name)
        } catch where error.errno == EPERM {
            guard let current = currentFlags(target) else { throw error }
            // nodiratime belongs to the locked atime state as well.
            try mount(source: nil, target: target, type: nil, flags: remount.subtracting(atimeFlags.union(.noDirAtime)).union(current), describing: name)
        }
    }

    /// Makes the mount at `target` read-only and keeps every other flag it has (nosuid, nodev,
    /// noexec, its atime mode), which a remount would otherwise clear or, locked, refuse to.
    public static func remountReadOnly(target: String, describing name: String? = nil) throws(BerthError) {
        let carried = currentFlags(target) ?? []
        try mount(source: nil, target: target, type: nil, flags: carried.union([.readOnly, .bind, .remount]), describing: name)
    }

    public static func setPropagation(target: String, _ flags: MountFlags, describing name: String? = nil) throws(BerthError) {
        try mount(source: nil, target: target, type: nil, flags: flags, describing: name)
    }

    public static func unmount(_ target: String, detach: Bool = false) throws(BerthError) {
        try sys("umount", target) { Glibc.umount2(target, detach ? Int32(MNT_DETACH) : 0) }
    }

    /// pivot_root(".", ".") with the new root as the working directory: the old root is stacked
    /// on top of the new one and detached at once, so no directory for it is needed in the rootfs.
    public static func pivotRoot(to newRoot: FileDescriptor) throws(BerthError) {
        try sys("fchdir", "rootfs") { Glibc.fchdir(newRoot.rawValue) }
        try sys("pivot_root", "rootfs") { berth_pivot_root(".", ".") }
        try unmount(".", detach: true)
        try sys("chdir", "/") { Glibc.chdir("/") }
    }

    /// The fallback for roots that cannot be pivoted (a ramfs initramfs): move the rootfs over /
    /// and chroot. It does not detach the host's tree, so `--no-pivot` is for trusted setups only.
    public static func moveRoot(to rootfs: String) throws(BerthError) {
        try sys("chdir", rootfs) { Glibc.chdir(rootfs) }
        try mount(source: rootfs, target: "/", type: nil, flags: .move)
        try sys("chroot", rootfs) { Glibc.chroot(".") }
        try sys("chdir", "/") { Glibc.chdir("/") }
    }
}

/// Mounts made on descriptors with the new mount API (open_tree, fsmount, mount_setattr,
/// move_mount). The object that was opened and checked is the one mounted on: no path is walked
/// again between the check and the mount, and nothing depends on which /proc is mounted.
extension Mounts {
    /// MOUNT_ATTR_* flags of mount_setattr(2) and fsmount(2).
    public struct Attributes: OptionSet, Sendable {
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

    static let openTreeClone: UInt32 = 1
    static let atEmptyPath: UInt32 = 0x1000
    static let atRecursive: UInt32 = 0x8000
    static let moveMountFromEmptyPath: UInt32 = 0x04
    static let moveMountToEmptyPath: UInt32 = 0x40
    static let fsconfigCreate: UInt32 = 6
    static let cloexec: UInt32 = 1

    /// A detached copy of the mount at `source` (a bind mount not yet attached anywhere).
    public static func cloneTree(of source: FileDescriptor, recursive: Bool, describing name: String) throws(BerthError) -> FileDescriptor {
        let flags = openTreeClone | UInt32(O_CLOEXEC) | atEmptyPath | (recursive ? atRecursive : 0)
        return FileDescriptor(rawValue: try sys("open_tree", name) { berth_open_tree(source.rawValue, "", flags) })
    }

    /// Sets `attributes` on the mount `tree` names (and, `recursive`, every mount below it), and
    /// clears `cleared`. Clearing a flag the kernel locked (one a more privileged user namespace
    /// set) fails with EPERM.
    public static func setAttributes(_ tree: FileDescriptor, _ attributes: Attributes, clearing cleared: Attributes = [], recursive: Bool,
                                     describing name: String) throws(BerthError) {
        try sys("mount_setattr", name) {
            berth_mount_setattr(tree.rawValue, "", atEmptyPath | (recursive ? atRecursive : 0), UInt64(attributes.rawValue), UInt64(cleared.rawValue), 0)
        }
    }

    /// A new tmpfs, mounted nowhere yet, with `attributes` on its mount.
    public static func detachedTmpfs(_ attributes: Attributes, describing name: String) throws(BerthError) -> FileDescriptor {
        let context = FileDescriptor(rawValue: try sys("fsopen", "tmpfs for \(name)") { berth_fsopen("tmpfs", cloexec) })
        defer { context.close() }
        try sys("fsconfig", "tmpfs for \(name)") { berth_fsconfig(context.rawValue, fsconfigCreate, nil, nil, 0) }
        return FileDescriptor(rawValue: try sys("fsmount", "tmpfs for \(name)") { berth_fsmount(context.rawValue, cloexec, attributes.rawValue) })
    }

    /// Attaches the detached `tree` on top of the object `target` names.
    public static func attach(_ tree: FileDescriptor, onto target: FileDescriptor, describing name: String) throws(BerthError) {
        try sys("move_mount", name) {
            berth_move_mount(tree.rawValue, "", target.rawValue, "", moveMountFromEmptyPath | moveMountToEmptyPath)
        }
    }
}
