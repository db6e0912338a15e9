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
