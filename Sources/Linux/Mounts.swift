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

    /// Changes the per-mount flags of a bind mount. Locked flags (nosuid, nodev, noexec and the
    /// atime ones set on the source by a less privileged namespace) must be kept or the kernel
    /// answers EPERM, so they are carried over from statfs.
    public static func remountBind(target: String, flags: MountFlags, describing name: String? = nil) throws(BerthError) {
        var carried: MountFlags = []
        let current = berth_statfs_flags(target)
        if current >= 0 {
            // statfs's ST_* values equal the MS_* ones for these flags.
            carried = MountFlags(rawValue: UInt(current)).intersection([.noSuid, .noDev, .noExec, .noAtime, .noDirAtime, .relatime])
        }
        try mount(source: nil, target: target, type: nil, flags: flags.union(carried).union([.bind, .remount]), describing: name)
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

    /// Sets `attributes` on a detached tree (never clears any, so locked flags are no obstacle).
    public static func setAttributes(_ tree: FileDescriptor, _ attributes: Attributes, recursive: Bool, describing name: String) throws(BerthError) {
        try sys("mount_setattr", name) {
            berth_mount_setattr(tree.rawValue, "", atEmptyPath | (recursive ? atRecursive : 0), UInt64(attributes.rawValue), 0, 0)
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
