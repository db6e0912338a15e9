import BerthCore
import Cgroup2
import CShim
import Glibc
import Linux

/// The container's filesystem view, built in the init's own mount namespace. Every mount target
/// is opened inside the rootfs with RESOLVE_IN_ROOT and mounted on through /proc/self/fd, so a
/// symlink planted in the rootfs cannot send a mount onto the host.
struct RootfsSetup<Kernel: KernelCalls> {
    let plan: LaunchPlan
    let kernel: Kernel
    /// Set by the init: what the parent made for idmapped mounts.
    var idmappedMounts = IDMappedMountFiles()
    /// Set by the init: bind sources the parent opened (BindSources), by mount label, bound
    /// from the descriptor instead of the path.
    var bindSources: [String: FileDescriptor] = [:]
    private var rootfs: Rootfs<Kernel>?

    init(plan: LaunchPlan, kernel: Kernel) {
        self.plan = plan
        self.kernel = kernel
    }

    /// Mounts and devices, while the bundle's rootfs is still reached by its host path.
    mutating func prepare() throws(BerthError) {
        guard plan.hasOwnMountNamespace else {
            // In the host's mount namespace nothing is mounted (the plan refused every field
            // that would mount): only files are made, inside the rootfs.
            let root = try Rootfs(path: plan.rootfs, kernel: kernel)
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
        try kernel.setPropagation(target: "/", [.slave, .recursive], describing: "/")
        // pivot_root needs the new root to be a mount point.
        try kernel.mount(source: plan.rootfs, target: plan.rootfs, type: nil, flags: [.bind, .recursive], data: nil, describing: "rootfs \(plan.rootfs)")
        let root = try Rootfs(path: plan.rootfs, kernel: kernel)
        rootfs = root
        for step in plan.mounts {
            if !step.isBind, step.type == "proc" || step.type == "sysfs" { try checkOrdinaryDirectory(step, in: root) }
            let directory = try bindSourceIsDirectory(step)
            do { try mount(step, directory: directory, in: root) } catch { throw error.prefixed(step.label) }
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
    private func makeWorkingDirectory(in root: Rootfs<Kernel>) throws(BerthError) {
        do { kernel.close(try root.open(plan.process.cwd)) } catch where error.errno == ENOENT {
            do { kernel.close(try root.openOrCreate(plan.process.cwd, directory: true)) } catch { throw error.prefixed("process.cwd") }
        } catch {}
    }

    /// Whether a bind mount's source is a directory. Checked now, not in the plan: an earlier
    /// mount of the same config may have made it, as runc allows.
    private func bindSourceIsDirectory(_ step: LaunchPlan.MountStep) throws(BerthError) -> Bool {
        guard step.isBind, let source = step.source else { return true }
        do {
            let status = if let opened = bindSources[step.label] {
                try kernel.status(of: opened, describing: source)
            } else {
                try kernel.status(of: source, followingLinks: true)
            }
            return (status.st_mode & S_IFMT) == S_IFDIR
        } catch where error.errno == ENOENT {
            throw BerthError(.invalidConfig, "\(step.label).source: \(source) does not exist")
        } catch { throw error.prefixed("\(step.label).source") }
    }

    private func mount(_ step: LaunchPlan.MountStep, directory: Bool, in root: Rootfs<Kernel>) throws(BerthError) {
        var options = step.options
        // A tmpfs without mode= takes the mode of the directory it covers, as in runc (a 0710
        // directory stays 0710, where the kernel's default is 1777); read before it is covered.
        if step.type == "tmpfs", !options.data.contains(where: { $0.hasPrefix("mode=") }), let mode = try existingDirectoryMode(step.destination, in: root) {
            options.data.append("mode=0" + String(mode, radix: 8))
        }
        // /dev is made read-only only once its devices, links and submounts are in place (finish()).
        if isReadOnlyDevTmpfs(step) { options.flags.remove(.readOnly) }
        // tmpcopyup: the covered directory, held open, stays readable under the new tmpfs. A
        // read-only one is filled first and made read-only after, as runc does.
        let covered = options.copyUp ? try coveredDirectory(step.destination, in: root) : nil
        defer { if let covered { kernel.close(covered) } }
        let readOnlyAfterCopy = covered != nil && options.flags.contains(.readOnly)
        if readOnlyAfterCopy { options.flags.remove(.readOnly) }
        let target = try root.openOrCreate(step.destination, directory: directory)
        defer { kernel.close(target) }
        if let tree = idmappedMounts.trees[step.label] {
            try kernel.moveMount(tree, onto: target, describing: step.destination)
        } else if step.isBind {
            try kernel.mount(source: bindSources[step.label]?.procPath ?? step.source ?? "", target: target.procPath, type: nil,
                             flags: options.flags.intersection([.bind, .recursive]), data: nil, describing: step.destination)
        } else {
            var type = step.type
            var source = step.source
            // cgroup v1 hierarchies are never mounted: a container sees the unified hierarchy.
            if type == "cgroup" { type = "cgroup2"; source = "cgroup2" }
            do {
                try kernel.mount(source: source ?? type ?? "none", target: target.procPath, type: type,
                                 flags: options.flags, data: options.dataString, describing: step.destination)
            } catch where error.errno == EPERM && type == "sysfs" && plan.creates(.user) {
                // sysfs may be mounted only by the user namespace owning the network namespace; a
                // joined one belongs to the host. Bind the host's /sys instead, with the same flags.
                options.flags.formUnion([.bind, .recursive])
                try kernel.mount(source: "/sys", target: target.procPath, type: nil, flags: [.bind, .recursive], data: nil, describing: step.destination)
            } catch where (error.errno == EPERM || error.errno == EBUSY) && type == "cgroup2" {
                // cgroup2 may be mounted only by a user namespace that owns the cgroup namespace;
                // without a cgroup namespace of its own, a user-namespaced container gets its own
                // cgroup directory bound instead, with the same flags, as runc and crun do.
                options.flags.formUnion([.bind, .recursive])
                try kernel.mount(source: try containerCgroupDirectory(), target: target.procPath, type: nil, flags: [.bind, .recursive],
                                 data: nil, describing: step.destination)
            }
            if let namespace = idmappedMounts.namespaces[step.label], let idmap = step.idmap {
                let mounted = try root.open(step.destination)
                defer { kernel.close(mounted) }
                try kernel.idmapMounted(mounted, over: target, namespace: namespace, recursive: idmap.recursive, destination: step.destination)
            }
        }
        if let covered {
            let tmpfs = try root.open(step.destination, O_RDONLY | O_DIRECTORY)
            defer { kernel.close(tmpfs) }
            try kernel.copyTree(from: covered, to: tmpfs, describing: step.destination)
            if readOnlyAfterCopy { try kernel.setAttributes(tmpfs, [.readOnly], recursive: false, describing: step.destination) }
        }
        let remountFlags = options.isBind ? options.bindRemountFlags : nil
        guard remountFlags != nil || !options.propagation.isEmpty || options.recursiveSet != [] || options.recursiveClear != [] else { return }
        // `target` still names the directory under the new mount; flags and propagation apply to
        // the mount itself, reached by opening the destination again.
        let mounted = try root.open(step.destination)
        defer { kernel.close(mounted) }
        if let remountFlags {
            try kernel.remountBind(target: mounted.procPath, flags: remountFlags, describing: step.destination)
        }
        for propagation in options.propagation {
            try kernel.setPropagation(target: mounted.procPath, propagation, describing: step.destination)
        }
        // Last, so that they cover the remount's flags too: rro on an rbind reaches every
        // submount, which a remount (one mount only) never does.
        if options.recursiveSet != [] || options.recursiveClear != [] {
            try kernel.setAttributes(mounted, options.recursiveSet, clearing: options.recursiveClear, recursive: true, describing: step.destination)
        }
    }

    /// The permission bits of the directory at `path` in the rootfs, or nil when there is none.
    private func existingDirectoryMode(_ path: String, in root: Rootfs<Kernel>) throws(BerthError) -> mode_t? {
        let existing: FileDescriptor
        do { existing = try root.open(path) } catch where error.errno == ENOENT || error.errno == ENOTDIR { return nil }
        defer { kernel.close(existing) }
        let info = try kernel.status(of: existing, describing: path)
        return (info.st_mode & S_IFMT) == S_IFDIR ? info.st_mode & 0o7777 : nil
    }

    /// The directory at `path` in the rootfs open for reading, or nil when there is none.
    private func coveredDirectory(_ path: String, in root: Rootfs<Kernel>) throws(BerthError) -> FileDescriptor? {
        do { return try root.open(path, O_RDONLY | O_DIRECTORY) } catch where error.errno == ENOENT { return nil }
    }

    /// A read-only tmpfs on /dev: mounted writable, made read-only last, as runc does, so that
    /// its device nodes, links and /dev/pts can still be made.
    private func isReadOnlyDevTmpfs(_ step: LaunchPlan.MountStep) -> Bool {
        step.destination == "/dev" && !step.isBind && step.options.isReadOnly
    }

    /// proc and sysfs go on a real directory only: on a link, the masks and read-only paths
    /// meant for /proc and /sys would land wherever the link leads, and /proc/self/... writes
    /// would too (CVE-2019-16884, CVE-2019-19921). runc refuses the same. A missing destination
    /// is created as a directory.
    private func checkOrdinaryDirectory(_ step: LaunchPlan.MountStep, in root: Rootfs<Kernel>) throws(BerthError) {
        let existing: FileDescriptor
        do { existing = try root.open(step.destination, BERTH_O_PATH | O_NOFOLLOW) } catch where error.errno == ENOENT { return } catch {
            throw error.prefixed("\(step.label).destination")
        }
        defer { kernel.close(existing) }
        let kind: mode_t
        do { kind = try kernel.status(of: existing, describing: step.destination).st_mode & S_IFMT } catch { throw error.prefixed("\(step.label).destination") }
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

    private func makeDevices(in root: Rootfs<Kernel>) throws(BerthError) {
        for device in plan.devices {
            let (parentPath, name) = split(device.path)
            let parent = try root.openOrCreate(parentPath, directory: true)
            defer { kernel.close(parent) }
            let directory = try kernel.open(parent.procPath, O_RDONLY | O_DIRECTORY, mode: 0, relativeTo: nil)
            defer { kernel.close(directory) }
            if plan.creates(.user) {
                // mknod is refused in a user namespace: bind the host's node instead, onto the
                // file opened here (never by name again, which a link could have replaced).
                do { try kernel.makeFile(name, in: directory, mode: 0o644, describing: device.path) } catch where error.errno == EEXIST {} catch {
                    throw error.prefixed(device.label)
                }
                let target = try kernel.open(name, in: directory, BERTH_O_PATH | O_NOFOLLOW, mode: 0, resolve: 0, describing: device.path)
                defer { kernel.close(target) }
                let kind = try kernel.status(of: target, describing: device.path).st_mode & S_IFMT
                guard kind != S_IFLNK && kind != S_IFDIR else {
                    throw BerthError(.system, "\(device.label): \(device.path) exists in the rootfs and is not a file")
                }
                try kernel.mount(source: device.path, target: target.procPath, type: nil, flags: .bind, data: nil, describing: device.path)
                continue
            }
            let number = makeDeviceNumber(major: device.major, minor: device.minor)
            do {
                try kernel.makeNode(name, in: directory, mode: mode_t(device.fileType | (device.mode & 0o7777)), device: number, describing: device.path)
            } catch where error.errno == EEXIST {
                continue
            } catch {
                throw error.prefixed(device.label)
            }
            try kernel.changeOwner(name, in: directory, uid: device.uid, gid: device.gid, describing: device.path)
        }
    }

    private func makeDevLinks(in root: Rootfs<Kernel>) throws(BerthError) {
        let dev = try root.openOrCreate("/dev", directory: true)
        defer { kernel.close(dev) }
        let links = [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                     ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")]
        let directory = try kernel.open(dev.procPath, O_RDONLY | O_DIRECTORY, mode: 0, relativeTo: nil)
        defer { kernel.close(directory) }
        for (name, target) in links {
            do { try kernel.makeSymbolicLink(name, in: directory, to: target, describing: "/dev/\(name)"); continue } catch where error.errno == EEXIST {}
            // /dev/ptmx must be the container's own devpts's (CVE-2025-52565): a rootfs without a
            // tmpfs on /dev may ship it as a link elsewhere or as the host's ptmx node. Replaced,
            // unless /dev is bound from the host, whose files are not ours to remove.
            guard name == "ptmx", !devIsBound, kernel.readLink(name, in: directory) != target else { continue }
            try kernel.removeFile(name, in: directory, describing: "/dev/ptmx")
            try kernel.makeSymbolicLink(name, in: directory, to: target, describing: "/dev/ptmx")
        }
    }

    /// True when the config bind-mounts something over /dev.
    private var devIsBound: Bool { plan.mounts.contains { $0.destination == "/dev" && $0.isBind } }

    /// pivot_root into the rootfs, or move it over / with --no-pivot; chroot without a mount
    /// namespace of the container's own, where pivot_root would change the host's root.
    func enter() throws(BerthError) {
        guard let rootfs else { return }
        guard plan.hasOwnMountNamespace else {
            try kernel.changeDirectory(to: rootfs.descriptor, describing: "rootfs")
            try kernel.changeRoot(".", describing: "rootfs")
            try kernel.changeDirectory("/", describing: "/")
            return
        }
        if plan.usePivotRoot {
            try kernel.pivotRoot(to: rootfs.descriptor)
        } else {
            try kernel.moveRoot(to: plan.rootfs)
        }
        // Now that nothing of the host is visible, apply the propagation the config asked for.
        try kernel.setPropagation(target: "/", plan.rootPropagation, describing: "rootfsPropagation")
    }

    func writeSysctls() throws(BerthError) {
        guard !plan.sysctls.isEmpty else { return }
        // The procfs we mounted, checked by its magic; writes never follow links (CVE-2025-52881).
        let proc = try Procfs(at: "/proc", kernel: kernel)
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
        let root = try Rootfs(path: "/", kernel: kernel)
        defer { root.close() }
        var devNull: FileDescriptor?
        defer { if let devNull { kernel.close(devNull) } }
        // Every masked directory shows one empty read-only tmpfs: the first is made, the others
        // get clones of its mount. A path listed twice is masked once.
        var firstMaskedDirectory: FileDescriptor?
        defer { if let firstMaskedDirectory { kernel.close(firstMaskedDirectory) } }
        var masked: Set<String> = []
        for (index, path) in plan.maskedPaths.enumerated() where masked.insert(path).inserted {
            let label = "linux.maskedPaths[\(index)] \(path)"
            guard let target = try openIfPresent(path, in: root, label: label) else { continue }
            defer { kernel.close(target) }
            let tree: FileDescriptor
            let isDirectory = (try kernel.status(of: target, describing: label).st_mode & S_IFMT) == S_IFDIR
            if isDirectory, let firstMaskedDirectory {
                tree = try kernel.cloneTree(of: firstMaskedDirectory, recursive: false, describing: label)
            } else if isDirectory {
                tree = try kernel.detachedTmpfs([.readOnly, .noSuid, .noDev, .noExec], describing: label)
            } else {
                let null: FileDescriptor
                if let devNull { null = devNull } else { null = try openDevNull(in: root) }
                devNull = null
                tree = try kernel.cloneTree(of: null, recursive: false, describing: label)
            }
            defer { kernel.close(tree) }
            try kernel.moveMount(tree, onto: target, describing: label)
            // Opened again, the path names the tmpfs's mount now.
            if isDirectory && firstMaskedDirectory == nil { firstMaskedDirectory = try root.open(path) }
        }
        for (index, path) in plan.readonlyPaths.enumerated() {
            let label = "linux.readonlyPaths[\(index)] \(path)"
            guard let target = try openIfPresent(path, in: root, label: label) else { continue }
            defer { kernel.close(target) }
            // The copy is made read-only before it is attached: there is no moment at which the
            // path is covered by a writable mount.
            let tree = try kernel.cloneTree(of: target, recursive: true, describing: label)
            defer { kernel.close(tree) }
            try kernel.setAttributes(tree, [.readOnly, .noSuid, .noDev, .noExec], recursive: true, describing: label)
            try kernel.moveMount(tree, onto: target, describing: label)
        }
    }

    /// `path` opened inside the container's root, or nil when it does not exist there.
    private func openIfPresent(_ path: String, in root: Rootfs<Kernel>, label: String) throws(BerthError) -> FileDescriptor? {
        do { return try root.open(path) } catch where error.errno == ENOENT || error.errno == ENOTDIR { return nil } catch {
            throw error.prefixed(label)
        }
    }

    /// /dev/null, held open once it is proven to be the real character device 1:3: a rootfs that
    /// swapped it for a link or a file would otherwise unmask what it covers, or bind a file of
    /// its choosing over the masked path (CVE-2025-31133). The mask is cloned from this very
    /// descriptor, so a swap after the check changes nothing.
    private func openDevNull(in root: Rootfs<Kernel>) throws(BerthError) -> FileDescriptor {
        let fd = try root.open("/dev/null", BERTH_O_PATH | O_NOFOLLOW)
        var info: Glibc.stat
        do { info = try kernel.status(of: fd, describing: "/dev/null") } catch { kernel.close(fd); throw error }
        guard (info.st_mode & S_IFMT) == S_IFCHR, info.st_rdev == makeDeviceNumber(major: 1, minor: 3) else {
            kernel.close(fd)
            throw BerthError(.system, "/dev/null in the container is not the null device")
        }
        return fd
    }

    func finish() throws(BerthError) {
        if let step = plan.mounts.last(where: isReadOnlyDevTmpfs) {
            let root = try Rootfs(path: "/", kernel: kernel)
            defer { root.close() }
            let dev = try root.open("/dev")
            defer { kernel.close(dev) }
            do { try kernel.setAttributes(dev, [.readOnly], recursive: false, describing: "/dev") } catch { throw error.prefixed(step.label) }
        }
        if plan.rootReadonly {
            try kernel.remountReadOnly(target: "/", describing: "root.readonly")
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
