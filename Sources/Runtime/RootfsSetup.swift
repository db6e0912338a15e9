import CShim
import Glibc
import Linux

/// The container's filesystem view, built in the init's own mount namespace. Every mount target
/// is opened inside the rootfs with RESOLVE_IN_ROOT and mounted on through /proc/self/fd, so a
/// symlink planted in the rootfs cannot send a mount onto the host.
struct RootfsSetup {
    let plan: LaunchPlan
    private var rootfs: Rootfs?

    init(plan: LaunchPlan) throws(BerthError) {
        self.plan = plan
    }

    /// Mounts and devices, while the bundle's rootfs is still reached by its host path.
    mutating func prepare() throws(BerthError) {
        // Slave, not private, by default: host mounts still reach us, ours never reach the host.
        try Mounts.setPropagation(target: "/", [.slave, .recursive], describing: "/")
        // pivot_root needs the new root to be a mount point.
        try Mounts.mount(source: plan.rootfs, target: plan.rootfs, type: nil, flags: [.bind, .recursive], describing: "rootfs \(plan.rootfs)")
        // ...whose parent is not shared, or pivot_root fails with EINVAL.
        try Mounts.setPropagation(target: plan.rootfs, .private, describing: "rootfs \(plan.rootfs)")
        let root = try Rootfs(path: plan.rootfs)
        rootfs = root
        for step in plan.mounts {
            do { try mount(step, in: root) } catch { throw error.prefixed(step.label) }
        }
        try makeDevices(in: root)
        try makeDevLinks(in: root)
    }

    private func mount(_ step: LaunchPlan.MountStep, in root: Rootfs) throws(BerthError) {
        var directory = true
        if step.isBind, let source = step.source {
            var info = Glibc.stat()
            try sys("stat", source) { Glibc.fstatat(AT_FDCWD, source, &info, 0) }
            directory = (info.st_mode & S_IFMT) == S_IFDIR
        }
        let target = try root.openOrCreate(step.destination, directory: directory)
        defer { target.close() }
        var options = step.options
        if step.isBind {
            try Mounts.mount(source: step.source ?? "", target: target.procPath, type: nil,
                             flags: options.flags.intersection([.bind, .recursive]), describing: step.destination)
        } else {
            var type = step.type
            var source = step.source
            // cgroup v1 hierarchies are never mounted: a container sees the unified hierarchy.
            if type == "cgroup" { type = "cgroup2"; source = "cgroup2" }
            do {
                try Mounts.mount(source: source ?? type ?? "none", target: target.procPath, type: type,
                                 flags: options.flags, data: options.dataString, describing: step.destination)
            } catch where error.errno == EPERM && type == "sysfs" && plan.creates(.user) {
                // sysfs may be mounted only by the user namespace owning the network namespace; a
                // joined one belongs to the host. Bind the host's /sys instead, with the same flags.
                options.flags.formUnion([.bind, .recursive])
                try Mounts.mount(source: "/sys", target: target.procPath, type: nil, flags: [.bind, .recursive], describing: step.destination)
            }
        }
        guard options.isBind && options.bindRemountFlags != nil || !options.propagation.isEmpty else { return }
        // `target` still names the directory under the new mount; flags and propagation apply to
        // the mount itself, reached by opening the destination again.
        let mounted = try root.open(step.destination)
        defer { mounted.close() }
        if options.isBind, let flags = options.bindRemountFlags {
            try Mounts.remountBind(target: mounted.procPath, flags: flags, describing: step.destination)
        }
        for propagation in options.propagation {
            try Mounts.setPropagation(target: mounted.procPath, propagation, describing: step.destination)
        }
    }

    private func makeDevices(in root: Rootfs) throws(BerthError) {
        for device in plan.devices {
            let (parentPath, name) = split(device.path)
            let parent = try root.openOrCreate(parentPath, directory: true)
            defer { parent.close() }
            let directory = try FileDescriptor.open(parent.procPath, O_RDONLY | O_DIRECTORY)
            defer { directory.close() }
            if plan.creates(.user) {
                // mknod is refused in a user namespace: bind the host's node instead.
                let fd = try sys("create", device.path) { Glibc.openat(directory.rawValue, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o644) }
                Glibc.close(fd)
                try Mounts.mount(source: device.path, target: "/proc/self/fd/\(directory.rawValue)/\(name)", type: nil, flags: .bind, describing: device.path)
                continue
            }
            let number = makeDeviceNumber(major: device.major, minor: device.minor)
            if Glibc.mknodat(directory.rawValue, name, mode_t(device.fileType | (device.mode & 0o7777)), number) != 0 {
                if Glibc.errno != EEXIST { throw BerthError(.system, "\(device.label): mknod \(device.path)", errno: Glibc.errno) }
                continue
            }
            try sys("chown", device.path) { Glibc.fchownat(directory.rawValue, name, device.uid, device.gid, AT_SYMLINK_NOFOLLOW) }
        }
    }

    private func makeDevLinks(in root: Rootfs) throws(BerthError) {
        let dev = try root.openOrCreate("/dev", directory: true)
        defer { dev.close() }
        let links = [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                     ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")]
        let directory = try FileDescriptor.open(dev.procPath, O_RDONLY | O_DIRECTORY)
        defer { directory.close() }
        for (name, target) in links {
            if Glibc.symlinkat(target, directory.rawValue, name) != 0 && Glibc.errno != EEXIST {
                throw BerthError(.system, "symlink /dev/\(name)", errno: Glibc.errno)
            }
        }
    }

    /// pivot_root into the rootfs, or move it over / with --no-pivot.
    func enter() throws(BerthError) {
        guard let rootfs else { return }
        if plan.usePivotRoot {
            try Mounts.pivotRoot(to: rootfs.descriptor)
        } else {
            try Mounts.moveRoot(to: plan.rootfs)
        }
        // Now that nothing of the host is visible, apply the propagation the config asked for.
        try Mounts.setPropagation(target: "/", plan.rootPropagation, describing: "rootfsPropagation")
    }

    func writeSysctls() throws(BerthError) {
        guard !plan.sysctls.isEmpty else { return }
        // The procfs we mounted, checked by its magic; writes never follow links (CVE-2025-52881).
        let proc = try Procfs(at: "/proc")
        defer { proc.close() }
        for sysctl in plan.sysctls {
            do { try proc.write(Procfs.sysctlPath(sysctl.name), sysctl.value) } catch { throw error.prefixed("linux.sysctl[\"\(sysctl.name)\"]") }
        }
    }

    func maskAndProtectPaths() throws(BerthError) {
        for (index, path) in plan.maskedPaths.enumerated() {
            var info = Glibc.stat()
            guard Glibc.fstatat(AT_FDCWD, path, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                try Mounts.mount(source: "tmpfs", target: path, type: "tmpfs", flags: .readOnly, describing: "linux.maskedPaths[\(index)] \(path)")
            } else {
                try checkDevNull()
                try Mounts.mount(source: "/dev/null", target: path, type: nil, flags: .bind, describing: "linux.maskedPaths[\(index)] \(path)")
            }
        }
        for (index, path) in plan.readonlyPaths.enumerated() {
            guard Files.exists(path) else { continue }
            let label = "linux.readonlyPaths[\(index)] \(path)"
            try Mounts.mount(source: path, target: path, type: nil, flags: [.bind, .recursive], describing: label)
            try Mounts.remountBind(target: path, flags: [.readOnly, .noSuid, .noDev, .noExec], describing: label)
        }
    }

    /// /dev/null must be the real character device 1:3 before anything is bound from it: a
    /// rootfs that swapped it for a link or a file would unmask what it covers (CVE-2025-31133).
    private func checkDevNull() throws(BerthError) {
        var info = Glibc.stat()
        try sys("stat", "/dev/null") { Glibc.fstatat(AT_FDCWD, "/dev/null", &info, AT_SYMLINK_NOFOLLOW) }
        guard (info.st_mode & S_IFMT) == S_IFCHR, info.st_rdev == makeDeviceNumber(major: 1, minor: 3) else {
            throw BerthError(.system, "/dev/null in the container is not the null device")
        }
    }

    func finish() throws(BerthError) {
        if plan.rootReadonly {
            try Mounts.remountBind(target: "/", flags: .readOnly, describing: "root.readonly")
        }
    }

    func close() { rootfs?.close() }

    private func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return ("/", path) }
        let parent = String(path[..<slash])
        return (parent.isEmpty ? "/" : parent, String(path[path.index(after: slash)...]))
    }
}

/// makedev(3), which Swift cannot import because it is a macro.
func makeDeviceNumber(major: Int64, minor: Int64) -> dev_t {
    let major = UInt64(truncatingIfNeeded: major), minor = UInt64(truncatingIfNeeded: minor)
    return dev_t(((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff))
}
