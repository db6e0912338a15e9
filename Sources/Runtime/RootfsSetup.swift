import BerthCore
import Cgroup2
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
        guard plan.hasOwnMountNamespace else {
            // In the host's mount namespace nothing is mounted (the plan refused every field
            // that would mount): only files are made, inside the rootfs.
            let root = try Rootfs(path: plan.rootfs)
            rootfs = root
            try makeDevices(in: root)
            try makeDevLinks(in: root)
            try makeWorkingDirectory(in: root)
            return
        }
        // Slave, not private, by default: host mounts still reach us, ours never reach the host.
        // Every mount is now a slave or private, none shared, as pivot_root requires of the new
        // root's parent; the rootfs bind below is a slave of the host's mount like the rest, so
        // a rootfsPropagation of slave still has a master to follow after pivot_root.
        try Mounts.setPropagation(target: "/", [.slave, .recursive], describing: "/")
        // pivot_root needs the new root to be a mount point.
        try Mounts.mount(source: plan.rootfs, target: plan.rootfs, type: nil, flags: [.bind, .recursive], describing: "rootfs \(plan.rootfs)")
        let root = try Rootfs(path: plan.rootfs)
        rootfs = root
        for step in plan.mounts {
            if !step.isBind, step.type == "proc" || step.type == "sysfs" { try checkOrdinaryDirectory(step, in: root) }
            do { try mount(step, in: root) } catch { throw error.prefixed(step.label) }
        }
        try makeDevices(in: root)
        try makeDevLinks(in: root)
        // After the mounts: the working directory may lie on one of them.
        try makeWorkingDirectory(in: root)
    }

    /// A missing process.cwd is created, as runc does: a directory owned by the container's
    /// root, mode 0755, resolved inside the rootfs like a mount destination. Anything else the
    /// path may be (a magic link into /proc, a file) is left to the chdir after pivot_root and
    /// its check that the result is inside the root.
    private func makeWorkingDirectory(in root: Rootfs) throws(BerthError) {
        do { try root.open(plan.process.cwd).close() } catch where error.errno == ENOENT {
            do { try root.openOrCreate(plan.process.cwd, directory: true).close() } catch { throw error.prefixed("process.cwd") }
        } catch {}
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
            } catch where (error.errno == EPERM || error.errno == EBUSY) && type == "cgroup2" {
                // cgroup2 may be mounted only by a user namespace that owns the cgroup namespace;
                // without a cgroup namespace of its own, a user-namespaced container gets its own
                // cgroup directory bound instead, with the same flags, as runc and crun do.
                options.flags.formUnion([.bind, .recursive])
                try Mounts.mount(source: try containerCgroupDirectory(), target: target.procPath, type: nil, flags: [.bind, .recursive],
                                 describing: step.destination)
            }
        }
        let remountFlags = options.isBind ? options.bindRemountFlags : nil
        guard remountFlags != nil || !options.propagation.isEmpty || options.recursiveSet != [] || options.recursiveClear != [] else { return }
        // `target` still names the directory under the new mount; flags and propagation apply to
        // the mount itself, reached by opening the destination again.
        let mounted = try root.open(step.destination)
        defer { mounted.close() }
        if let remountFlags {
            try Mounts.remountBind(target: mounted.procPath, flags: remountFlags, describing: step.destination)
        }
        for propagation in options.propagation {
            try Mounts.setPropagation(target: mounted.procPath, propagation, describing: step.destination)
        }
        // Last, so that they cover the remount's flags too: rro on an rbind reaches every
        // submount, which a remount (one mount only) never does.
        if options.recursiveSet != [] || options.recursiveClear != [] {
            try Mounts.setAttributes(mounted, options.recursiveSet, clearing: options.recursiveClear, recursive: true, describing: step.destination)
        }
    }

    /// proc and sysfs go on a real directory only: on a link, the masks and read-only paths
    /// meant for /proc and /sys would land wherever the link leads, and /proc/self/... writes
    /// would too (CVE-2019-16884, CVE-2019-19921). runc refuses the same. A missing destination
    /// is created as a directory.
    private func checkOrdinaryDirectory(_ step: LaunchPlan.MountStep, in root: Rootfs) throws(BerthError) {
        let existing: FileDescriptor
        do { existing = try root.open(step.destination, BERTH_O_PATH | O_NOFOLLOW) } catch where error.errno == ENOENT { return } catch {
            throw error.prefixed("\(step.label).destination")
        }
        defer { existing.close() }
        let kind: mode_t
        do { kind = try existing.stat().st_mode & S_IFMT } catch { throw error.prefixed("\(step.label).destination") }
        guard kind == S_IFDIR else {
            let what = kind == S_IFLNK ? "a symbolic link" : "not a directory"
            throw BerthError(.invalidConfig, "\(step.label).destination: \(step.type ?? "") must be mounted on an ordinary directory, and \(step.destination) is \(what)")
        }
    }

    /// The host's directory of the container's cgroup, below the cgroup2 mount this mount
    /// namespace inherited from the host.
    private func containerCgroupDirectory() throws(BerthError) -> String {
        guard let mount = Cgroup.hostMount() else { throw BerthError(.system, "no cgroup2 mount to bind the container's cgroup from") }
        return mount + "/" + plan.cgroupPath
    }

    private func makeDevices(in root: Rootfs) throws(BerthError) {
        for device in plan.devices {
            let (parentPath, name) = split(device.path)
            let parent = try root.openOrCreate(parentPath, directory: true)
            defer { parent.close() }
            let directory = try FileDescriptor.open(parent.procPath, O_RDONLY | O_DIRECTORY)
            defer { directory.close() }
            if plan.creates(.user) {
                // mknod is refused in a user namespace: bind the host's node instead, onto the
                // file opened here (never by name again, which a link could have replaced).
                let created = Glibc.openat(directory.rawValue, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o644)
                if created >= 0 { Glibc.close(created) } else if Glibc.errno != EEXIST {
                    throw BerthError(.system, "\(device.label): create \(device.path)", errno: Glibc.errno)
                }
                let target = try sys("open", device.path) { Glibc.openat(directory.rawValue, name, BERTH_O_PATH | O_NOFOLLOW | O_CLOEXEC) }
                defer { Glibc.close(target) }
                var info = Glibc.stat()
                try sys("fstat", device.path) { Glibc.fstat(target, &info) }
                let kind = info.st_mode & S_IFMT
                guard kind != S_IFLNK && kind != S_IFDIR else {
                    throw BerthError(.system, "\(device.label): \(device.path) exists in the rootfs and is not a file")
                }
                try Mounts.mount(source: device.path, target: "/proc/self/fd/\(target)", type: nil, flags: .bind, describing: device.path)
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
            if Glibc.symlinkat(target, directory.rawValue, name) == 0 { continue }
            guard Glibc.errno == EEXIST else { throw BerthError(.system, "symlink /dev/\(name)", errno: Glibc.errno) }
            // /dev/ptmx must be the container's own devpts's (CVE-2025-52565): a rootfs without a
            // tmpfs on /dev may ship it as a link elsewhere or as the host's ptmx node. Replaced,
            // unless /dev is bound from the host, whose files are not ours to remove.
            guard name == "ptmx", !devIsBound, readLink(in: directory, name) != target else { continue }
            try sys("unlink", "/dev/ptmx") { Glibc.unlinkat(directory.rawValue, name, 0) }
            try sys("symlink", "/dev/ptmx") { Glibc.symlinkat(target, directory.rawValue, name) }
        }
    }

    /// True when the config bind-mounts something over /dev.
    private var devIsBound: Bool { plan.mounts.contains { $0.destination == "/dev" && $0.isBind } }

    private func readLink(in directory: FileDescriptor, _ name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = Glibc.readlinkat(directory.rawValue, name, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// pivot_root into the rootfs, or move it over / with --no-pivot; chroot without a mount
    /// namespace of the container's own, where pivot_root would change the host's root.
    func enter() throws(BerthError) {
        guard let rootfs else { return }
        guard plan.hasOwnMountNamespace else {
            try sys("fchdir", "rootfs") { Glibc.fchdir(rootfs.descriptor.rawValue) }
            try sys("chroot", "rootfs") { Glibc.chroot(".") }
            try sys("chdir", "/") { Glibc.chdir("/") }
            return
        }
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

    /// Masked and read-only paths, after pivot_root. Each path is opened inside the new root
    /// (RESOLVE_IN_ROOT, no magic links: a link in the rootfs can only lead to another path of
    /// the container) and covered through that descriptor with the new mount API, so the object
    /// whose type was checked is the one covered, and no /proc is needed to name it.
    func maskAndProtectPaths() throws(BerthError) {
        guard !plan.maskedPaths.isEmpty || !plan.readonlyPaths.isEmpty else { return }
        let root = try Rootfs(path: "/")
        defer { root.close() }
        var devNull: FileDescriptor?
        defer { devNull?.close() }
        for (index, path) in plan.maskedPaths.enumerated() {
            let label = "linux.maskedPaths[\(index)] \(path)"
            guard let target = try openIfPresent(path, in: root, label: label) else { continue }
            defer { target.close() }
            let tree: FileDescriptor
            if (try target.stat().st_mode & S_IFMT) == S_IFDIR {
                tree = try Mounts.detachedTmpfs([.readOnly, .noSuid, .noDev, .noExec], describing: label)
            } else {
                if devNull == nil { devNull = try openDevNull(in: root) }
                tree = try Mounts.cloneTree(of: devNull!, recursive: false, describing: label)
            }
            defer { tree.close() }
            try Mounts.attach(tree, onto: target, describing: label)
        }
        for (index, path) in plan.readonlyPaths.enumerated() {
            let label = "linux.readonlyPaths[\(index)] \(path)"
            guard let target = try openIfPresent(path, in: root, label: label) else { continue }
            defer { target.close() }
            // The copy is made read-only before it is attached: there is no moment at which the
            // path is covered by a writable mount.
            let tree = try Mounts.cloneTree(of: target, recursive: true, describing: label)
            defer { tree.close() }
            try Mounts.setAttributes(tree, [.readOnly, .noSuid, .noDev, .noExec], recursive: true, describing: label)
            try Mounts.attach(tree, onto: target, describing: label)
        }
    }

    /// `path` opened inside the container's root, or nil when it does not exist there.
    private func openIfPresent(_ path: String, in root: Rootfs, label: String) throws(BerthError) -> FileDescriptor? {
        do { return try root.open(path) } catch where error.errno == ENOENT || error.errno == ENOTDIR { return nil } catch {
            throw error.prefixed(label)
        }
    }

    /// /dev/null, held open once it is proven to be the real character device 1:3: a rootfs that
    /// swapped it for a link or a file would otherwise unmask what it covers, or bind a file of
    /// its choosing over the masked path (CVE-2025-31133). The mask is cloned from this very
    /// descriptor, so a swap after the check changes nothing.
    private func openDevNull(in root: Rootfs) throws(BerthError) -> FileDescriptor {
        let fd = try root.open("/dev/null", BERTH_O_PATH | O_NOFOLLOW)
        var info: Glibc.stat
        do { info = try fd.stat() } catch { fd.close(); throw error }
        guard (info.st_mode & S_IFMT) == S_IFCHR, info.st_rdev == makeDeviceNumber(major: 1, minor: 3) else {
            fd.close()
            throw BerthError(.system, "/dev/null in the container is not the null device")
        }
        return fd
    }

    func finish() throws(BerthError) {
        if plan.rootReadonly {
            try Mounts.remountReadOnly(target: "/", describing: "root.readonly")
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
