import BerthCore
import CLibcap
import CShim
import Glibc

/// The kernel calls of `KernelCalls`, made for real. Together with FileDescriptor's I/O this is
/// the only code that calls Glibc, CShim or libcap for a container's set-up; each call goes
/// through `sys`.
public struct LiveKernel: KernelCalls, Sendable {
    public init() {}

    // MARK: Descriptors and files

    public func open(_ path: String, _ flags: Int32, mode: mode_t, relativeTo directory: FileDescriptor?) throws(BerthError) -> FileDescriptor {
        try FileDescriptor.open(path, flags, mode: mode, relativeTo: directory)
    }

    public func open(_ path: String, in directory: FileDescriptor, _ flags: Int32, mode: mode_t, resolve: UInt64, describing name: String) throws(BerthError) -> FileDescriptor {
        FileDescriptor(rawValue: try sys("open", name) { berth_openat2(directory.rawValue, path, UInt64(flags | O_CLOEXEC), UInt64(mode), resolve) })
    }

    public func close(_ fd: FileDescriptor) { fd.close() }

    public func closeRange(_ first: Int32, _ last: Int32, closeOnExec: Bool) {
        // CLOSE_RANGE_CLOEXEC is 4.
        _ = berth_close_range(UInt32(bitPattern: first), UInt32(bitPattern: last), closeOnExec ? 4 : 0)
    }

    public func duplicate(_ fd: FileDescriptor, atLeast minimum: Int32) throws(BerthError) -> FileDescriptor {
        FileDescriptor(rawValue: try sys("fcntl") { berth_fcntl_int(fd.rawValue, F_DUPFD_CLOEXEC, minimum) })
    }

    public func duplicate(_ fd: FileDescriptor, as target: Int32) throws(BerthError) { try fd.duplicate(as: target) }

    public func status(of fd: FileDescriptor, describing name: String) throws(BerthError) -> Glibc.stat {
        var info = Glibc.stat()
        try sys("fstat", name) { Glibc.fstat(fd.rawValue, &info) }
        return info
    }

    public func status(of path: String, followingLinks: Bool) throws(BerthError) -> Glibc.stat {
        var info = Glibc.stat()
        try sys("stat", path) { Glibc.fstatat(AT_FDCWD, path, &info, followingLinks ? 0 : AT_SYMLINK_NOFOLLOW) }
        return info
    }

    public func filesystemType(of fd: FileDescriptor) -> Int { berth_fstatfs_type(fd.rawValue) }

    public func access(_ path: String, _ mode: Int32) throws(BerthError) {
        try sys("access", path) { Glibc.access(path, mode) }
    }

    public func read(_ fd: FileDescriptor, upTo count: Int) throws(BerthError) -> [UInt8] { try fd.read(upTo: count) }

    public func write(_ fd: FileDescriptor, _ bytes: [UInt8], describing name: String?) throws(BerthError) -> Int {
        try sys("write", name) { bytes.withUnsafeBytes { Glibc.write(fd.rawValue, $0.baseAddress, $0.count) } }
    }

    public func makeDirectory(_ name: String, in directory: FileDescriptor, mode: mode_t, describing path: String) throws(BerthError) {
        try sys("mkdir", path) { Glibc.mkdirat(directory.rawValue, name, mode) }
    }

    public func makeFile(_ name: String, in directory: FileDescriptor, mode: mode_t, describing path: String) throws(BerthError) {
        let file = try sys("create", path) { Glibc.openat(directory.rawValue, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode) }
        Glibc.close(file)
    }

    public func makeNode(_ name: String, in directory: FileDescriptor, mode: mode_t, device: dev_t, describing path: String) throws(BerthError) {
        try sys("mknod", path) { Glibc.mknodat(directory.rawValue, name, mode, device) }
    }

    public func changeOwner(_ name: String, in directory: FileDescriptor, uid: UInt32, gid: UInt32, describing path: String) throws(BerthError) {
        try sys("chown", path) { Glibc.fchownat(directory.rawValue, name, uid, gid, AT_SYMLINK_NOFOLLOW) }
    }

    public func makeSymbolicLink(_ name: String, in directory: FileDescriptor, to target: String, describing path: String) throws(BerthError) {
        try sys("symlink", path) { Glibc.symlinkat(target, directory.rawValue, name) }
    }

    public func removeFile(_ name: String, in directory: FileDescriptor, describing path: String) throws(BerthError) {
        try sys("unlink", path) { Glibc.unlinkat(directory.rawValue, name, 0) }
    }

    public func readLink(_ name: String, in directory: FileDescriptor) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = Glibc.readlinkat(directory.rawValue, name, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func directoryEntries(_ directory: FileDescriptor, describing path: String) throws(BerthError) -> [String] {
        // fdopendir takes the descriptor it is given: a copy, so the caller's stays open.
        let copy = try sys("dup", path) { berth_fcntl_int(directory.rawValue, F_DUPFD_CLOEXEC, 0) }
        guard let stream = Glibc.fdopendir(copy) else {
            let code = Glibc.errno
            Glibc.close(copy)
            throw BerthError.systemCall("fdopendir", path, errno: code)
        }
        defer { Glibc.closedir(stream) }
        // The copy shares the offset of the original, which a reader before us may have moved.
        Glibc.rewinddir(stream)
        var names: [String] = []
        while let entry = Glibc.readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    // MARK: Mounts

    public func mount(source: String?, target: String, type: String?, flags: MountFlags, data: String?, describing name: String) throws(BerthError) {
        try sys("mount", name) { Glibc.mount(source, target, type, UInt(flags.rawValue), data.flatMap { $0.isEmpty ? nil : $0 }) }
    }

    public func mountFlags(of target: String) -> MountFlags? {
        let current = berth_statfs_flags(target)
        return current >= 0 ? Mounts.mountFlags(statfsFlags: UInt(current)) : nil
    }

    public func unmount(_ target: String, detach: Bool) throws(BerthError) {
        try sys("umount", target) { Glibc.umount2(target, detach ? Int32(MNT_DETACH) : 0) }
    }

    public func pivotRoot(_ newRoot: String, putOld: String) throws(BerthError) {
        try sys("pivot_root", "rootfs") { berth_pivot_root(newRoot, putOld) }
    }

    public func openTree(_ fd: FileDescriptor, flags: UInt32, describing name: String) throws(BerthError) -> FileDescriptor {
        FileDescriptor(rawValue: try sys("open_tree", name) { berth_open_tree(fd.rawValue, "", flags | Mounts.atEmptyPath) })
    }

    public func setMountAttributes(_ tree: FileDescriptor, flags: UInt32, set: Mounts.Attributes, clear: Mounts.Attributes, describing name: String) throws(BerthError) {
        try sys("mount_setattr", name) {
            berth_mount_setattr(tree.rawValue, "", flags | Mounts.atEmptyPath, UInt64(set.rawValue), UInt64(clear.rawValue), 0)
        }
    }

    public func setIDMapping(_ tree: FileDescriptor, userNamespace: FileDescriptor, recursive: Bool, describing name: String) throws(BerthError) {
        try sys("mount_setattr MOUNT_ATTR_IDMAP", name) {
            berth_mount_setattr_idmap(tree.rawValue, Mounts.atEmptyPath | (recursive ? Mounts.atRecursive : 0), userNamespace.rawValue)
        }
    }

    public func openFilesystem(_ type: String, describing name: String) throws(BerthError) -> FileDescriptor {
        FileDescriptor(rawValue: try sys("fsopen", name) { berth_fsopen(type, Mounts.cloexec) })
    }

    public func createFilesystem(_ context: FileDescriptor, describing name: String) throws(BerthError) {
        try sys("fsconfig", name) { berth_fsconfig(context.rawValue, Mounts.fsconfigCreate, nil, nil, 0) }
    }

    public func mountFilesystem(_ context: FileDescriptor, attributes: Mounts.Attributes, describing name: String) throws(BerthError) -> FileDescriptor {
        FileDescriptor(rawValue: try sys("fsmount", name) { berth_fsmount(context.rawValue, Mounts.cloexec, attributes.rawValue) })
    }

    public func moveMount(_ tree: FileDescriptor, onto target: FileDescriptor, describing name: String) throws(BerthError) {
        try sys("move_mount", name) {
            berth_move_mount(tree.rawValue, "", target.rawValue, "", Mounts.moveMountFromEmptyPath | Mounts.moveMountToEmptyPath)
        }
    }

    // MARK: The process

    public func changeDirectory(_ path: String, describing name: String) throws(BerthError) {
        try sys("chdir", name) { Glibc.chdir(path) }
    }

    public func changeDirectory(to directory: FileDescriptor, describing name: String) throws(BerthError) {
        try sys("fchdir", name) { Glibc.fchdir(directory.rawValue) }
    }

    public func changeRoot(_ path: String, describing name: String) throws(BerthError) {
        try sys("chroot", name) { Glibc.chroot(path) }
    }

    public func currentDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard Glibc.getcwd(&buffer, buffer.count) != nil else { return nil }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func setUmask(_ mode: mode_t) { Glibc.umask(mode) }

    public func processID() -> pid_t { Glibc.getpid() }

    public func fork() throws(BerthError) -> pid_t { try ProcessControl.clone().pid }

    public func newSession() { _ = Glibc.setsid() }

    public func unblockAllSignals() { berth_unblock_all_signals() }

    public func setHostname(_ name: String) throws(BerthError) {
        try sys("sethostname", name) { Glibc.sethostname(name, name.utf8.count) }
    }

    public func setDomainname(_ name: String) throws(BerthError) {
        try sys("setdomainname", name) { Glibc.setdomainname(name, name.utf8.count) }
    }

    public func setNamespace(_ fd: FileDescriptor, kind: NamespaceKind, path: String) throws(BerthError) {
        try sys("setns", path) { berth_setns(fd.rawValue, Int32(truncatingIfNeeded: kind.cloneFlag)) }
    }

    public func unshare(_ kinds: [NamespaceKind]) throws(BerthError) {
        let flags = kinds.reduce(UInt64(0)) { $0 | $1.cloneFlag }
        try sys("unshare") { berth_unshare(Int32(truncatingIfNeeded: flags)) }
    }

    public func prctl(_ option: Int32, _ argument: UInt, describing name: String) throws(BerthError) {
        try sys("prctl", name) { berth_prctl(option, argument, 0, 0, 0) }
    }

    public func setResourceLimit(_ resource: Int32, soft: UInt64, hard: UInt64, name: String) throws(BerthError) {
        try sys("setrlimit", name) { berth_prlimit(resource, soft, hard) }
    }

    public func setMemoryPolicy(mode: Int32, nodeMask: [UInt]) throws(BerthError) {
        try sys("set_mempolicy") { nodeMask.withUnsafeBufferPointer { berth_set_mempolicy(mode, $0.baseAddress, UInt(nodeMask.count * 64 + 1)) } }
    }

    public func setScheduler(_ attributes: SchedulerAttributes) throws(BerthError) {
        try sys("sched_setattr") {
            berth_sched_setattr(attributes.policy, attributes.flags, attributes.nice, attributes.priority, attributes.runtime, attributes.deadline, attributes.period)
        }
    }

    public func setIOPriority(_ value: Int32) throws(BerthError) {
        try sys("ioprio_set") { berth_ioprio_set_self(value) }
    }

    public func setPersonality(_ persona: UInt) throws(BerthError) {
        try sys("personality") { berth_personality(persona) }
    }

    public func setCPUAffinity(_ mask: [UInt], describing name: String?) throws(BerthError) {
        try ThreadAffinity.set(mask, describing: name)
    }

    public func exec(path: String, arguments: [String], environment: [String]) -> BerthError {
        // Never freed: execve replaces the address space, and a failure ends the process.
        Glibc.execve(path, ProcessControl.cStrings(arguments), ProcessControl.cStrings(environment))
        return BerthError.systemCall("exec", path, errno: Glibc.errno)
    }

    // MARK: Identity

    public func setGroups(_ groups: [UInt32]) throws(BerthError) {
        try sys("setgroups") { Glibc.setgroups(groups.count, groups) }
    }

    public func setGroupIDs(_ gid: UInt32) throws(BerthError) {
        try sys("setresgid", gid == 0 ? nil : "\(gid)") { berth_setresgid(gid, gid, gid) }
    }

    public func setUserIDs(_ uid: UInt32) throws(BerthError) {
        try sys("setresuid", uid == 0 ? nil : "\(uid)") { berth_setresuid(uid, uid, uid) }
    }

    public func dropBoundingCapability(_ capability: Int32) throws(BerthError) {
        try sys("prctl", "PR_CAPBSET_DROP \(Capability.name(capability))") { cap_drop_bound(cap_value_t(capability)) }
    }

    public func setCapabilities(effective: [Int32], permitted: [Int32], inheritable: [Int32]) throws(BerthError) {
        guard let caps = cap_init() else { throw BerthError.systemCall("cap_init", nil, errno: Glibc.errno) }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        for (flag, list) in [(CAP_EFFECTIVE, effective), (CAP_PERMITTED, permitted), (CAP_INHERITABLE, inheritable)] where !list.isEmpty {
            var values = list.map { cap_value_t($0) }
            try sys("cap_set_flag") { cap_set_flag(caps, flag, Int32(values.count), &values, CAP_SET) }
        }
        try sys("capset") { cap_set_proc(caps) }
    }

    public func clearAmbientCapabilities() throws(BerthError) {
        try sys("prctl", "PR_CAP_AMBIENT_CLEAR_ALL") { cap_reset_ambient() }
    }

    public func raiseAmbientCapability(_ capability: Int32) throws(BerthError) {
        try sys("prctl", "PR_CAP_AMBIENT_RAISE \(Capability.name(capability))") { cap_set_ambient(cap_value_t(capability), CAP_SET) }
    }

    public func seccomp(_ operation: UInt32, _ flags: UInt32, _ arguments: UnsafeMutableRawPointer?) -> Int32 {
        berth_seccomp(operation, flags, arguments)
    }

    public func sendDescriptor(_ fd: FileDescriptor, over socket: FileDescriptor, payload: String, describing name: String) throws(BerthError) {
        try sys("sendmsg", name) { berth_send_fd(socket.rawValue, fd.rawValue, payload) }
    }

    // MARK: The terminal

    public func unlockPseudoTerminal(_ fd: FileDescriptor) throws(BerthError) -> Int32 {
        try sys("ioctl", "/dev/ptmx unlock") { berth_pty_unlock(fd.rawValue) }
    }

    public func setWindowSize(_ fd: FileDescriptor, rows: UInt16, columns: UInt16) throws(BerthError) {
        try sys("ioctl", "TIOCSWINSZ") { berth_set_window_size(fd.rawValue, rows, columns) }
    }

    public func setControllingTerminal(_ fd: FileDescriptor) throws(BerthError) {
        try sys("ioctl", "TIOCSCTTY") { berth_set_controlling_terminal(fd.rawValue) }
    }
}
