import BerthCore
import Glibc

/// The kernel calls a container's set-up makes, from clone to execve: mounts and the new mount
/// API, openat2 and the *at calls, identity, capabilities, namespaces, the root, procfs writes,
/// seccomp and exec. `LiveKernel` makes them; a recording double (Tests/TestSupport) answers
/// them, so the order of the init's steps is testable without root.
///
/// Code that sets up a container takes this as a generic parameter (`<Kernel: KernelCalls>`),
/// never as `any KernelCalls`: berth is built with `LiveKernel` only, so every call is
/// specialized and statically dispatched, as a direct call was before.
///
/// Every throwing call throws a `.system` BerthError made by `BerthError.systemCall`: the call's
/// name and the path (or the name) given, and the errno.
public protocol KernelCalls {
    // MARK: Descriptors and files

    /// openat(2), always with O_CLOEXEC; `directory` nil is the working directory.
    func open(_ path: String, _ flags: Int32, mode: mode_t, relativeTo directory: FileDescriptor?) throws(BerthError) -> FileDescriptor
    /// openat2(2) with `resolve` (RESOLVE_*), always with O_CLOEXEC; `name` is the path as a
    /// message shows it.
    func open(_ path: String, in directory: FileDescriptor, _ flags: Int32, mode: mode_t, resolve: UInt64, describing name: String) throws(BerthError) -> FileDescriptor
    /// close(2); errors are ignored, the descriptor is gone whatever it returns.
    func close(_ fd: FileDescriptor)
    /// close_range(2) of `first...last`; `closeOnExec` marks them close-on-exec instead.
    func closeRange(_ first: Int32, _ last: Int32, closeOnExec: Bool)
    /// fcntl(F_DUPFD_CLOEXEC): a copy of `fd` at `minimum` or above.
    func duplicate(_ fd: FileDescriptor, atLeast minimum: Int32) throws(BerthError) -> FileDescriptor
    /// dup3(2) onto `target`, without close-on-exec.
    func duplicate(_ fd: FileDescriptor, as target: Int32) throws(BerthError)
    /// fstat(2).
    func status(of fd: FileDescriptor, describing name: String) throws(BerthError) -> Glibc.stat
    /// fstatat(2) relative to the working directory.
    func status(of path: String, followingLinks: Bool) throws(BerthError) -> Glibc.stat
    /// fstatfs(2)'s f_type (the filesystem magic), or -1.
    func filesystemType(of fd: FileDescriptor) -> Int
    /// access(2).
    func access(_ path: String, _ mode: Int32) throws(BerthError)
    /// One read(2) of at most `count` bytes; empty at end of file.
    func read(_ fd: FileDescriptor, upTo count: Int) throws(BerthError) -> [UInt8]
    /// One write(2); returns how many bytes were written. `name`, when given, is the path a
    /// message shows.
    func write(_ fd: FileDescriptor, _ bytes: [UInt8], describing name: String?) throws(BerthError) -> Int
    /// mkdirat(2).
    func makeDirectory(_ name: String, in directory: FileDescriptor, mode: mode_t, describing path: String) throws(BerthError)
    /// openat(2) with O_CREAT | O_EXCL | O_NOFOLLOW: an empty file, closed again.
    func makeFile(_ name: String, in directory: FileDescriptor, mode: mode_t, describing path: String) throws(BerthError)
    /// mknodat(2).
    func makeNode(_ name: String, in directory: FileDescriptor, mode: mode_t, device: dev_t, describing path: String) throws(BerthError)
    /// fchownat(2) with AT_SYMLINK_NOFOLLOW.
    func changeOwner(_ name: String, in directory: FileDescriptor, uid: UInt32, gid: UInt32, describing path: String) throws(BerthError)
    /// symlinkat(2): `name` in `directory` pointing to `target`.
    func makeSymbolicLink(_ name: String, in directory: FileDescriptor, to target: String, describing path: String) throws(BerthError)
    /// unlinkat(2) of a non-directory.
    func removeFile(_ name: String, in directory: FileDescriptor, describing path: String) throws(BerthError)
    /// readlinkat(2); nil when `name` is no link. An empty `name` reads the link `directory` is.
    func readLink(_ name: String, in directory: FileDescriptor) -> String?
    /// The names in the directory `directory` (open for reading), without `.` and `..`:
    /// readdir(3) over a copy of the descriptor.
    func directoryEntries(_ directory: FileDescriptor, describing path: String) throws(BerthError) -> [String]

    // MARK: Mounts

    /// mount(2). `target` is usually `/proc/self/fd/N` of a descriptor opened inside the rootfs;
    /// `name` is what a message calls it.
    func mount(source: String?, target: String, type: String?, flags: MountFlags, data: String?, describing name: String) throws(BerthError)
    /// statfs(2)'s flags of the mount at `target`, as MS_* flags; nil when statfs fails.
    func mountFlags(of target: String) -> MountFlags?
    /// umount2(2).
    func unmount(_ target: String, detach: Bool) throws(BerthError)
    /// pivot_root(2).
    func pivotRoot(_ newRoot: String, putOld: String) throws(BerthError)
    /// open_tree(2) of the object `fd` names (AT_EMPTY_PATH is added).
    func openTree(_ fd: FileDescriptor, flags: UInt32, describing name: String) throws(BerthError) -> FileDescriptor
    /// mount_setattr(2) on the mount `tree` names (AT_EMPTY_PATH is added).
    func setMountAttributes(_ tree: FileDescriptor, flags: UInt32, set: Mounts.Attributes, clear: Mounts.Attributes, describing name: String) throws(BerthError)
    /// mount_setattr(2) of MOUNT_ATTR_IDMAP on the detached mount `tree`: its ids are mapped
    /// through `userNamespace`'s maps (AT_EMPTY_PATH is added; `recursive` adds AT_RECURSIVE).
    func setIDMapping(_ tree: FileDescriptor, userNamespace: FileDescriptor, recursive: Bool, describing name: String) throws(BerthError)
    /// fsopen(2): a filesystem context.
    func openFilesystem(_ type: String, describing name: String) throws(BerthError) -> FileDescriptor
    /// fsconfig(2) FSCONFIG_CMD_CREATE on a context.
    func createFilesystem(_ context: FileDescriptor, describing name: String) throws(BerthError)
    /// fsmount(2): the context's filesystem as a detached mount with `attributes`.
    func mountFilesystem(_ context: FileDescriptor, attributes: Mounts.Attributes, describing name: String) throws(BerthError) -> FileDescriptor
    /// move_mount(2) of the detached `tree` onto the object `target` names.
    func moveMount(_ tree: FileDescriptor, onto target: FileDescriptor, describing name: String) throws(BerthError)

    // MARK: The process

    /// chdir(2); `name` is what a message calls the path.
    func changeDirectory(_ path: String, describing name: String) throws(BerthError)
    /// fchdir(2).
    func changeDirectory(to directory: FileDescriptor, describing name: String) throws(BerthError)
    /// chroot(2); `name` is what a message calls the path.
    func changeRoot(_ path: String, describing name: String) throws(BerthError)
    /// getcwd(3); nil when the working directory is unreachable (outside the root).
    func currentDirectory() -> String?
    /// umask(2).
    func setUmask(_ mode: mode_t)
    /// getpid(2).
    func processID() -> pid_t
    /// clone3(2) as a fork, in the caller's cgroup and namespaces: 0 in the child.
    func fork() throws(BerthError) -> pid_t
    /// setsid(2); a process that already leads a session keeps it.
    func newSession()
    /// Unblocks every signal (sigprocmask), for a process about to exec.
    func unblockAllSignals()
    /// sethostname(2).
    func setHostname(_ name: String) throws(BerthError)
    /// setdomainname(2).
    func setDomainname(_ name: String) throws(BerthError)
    /// setns(2) into the namespace behind `fd`.
    func setNamespace(_ fd: FileDescriptor, kind: NamespaceKind, path: String) throws(BerthError)
    /// unshare(2).
    func unshare(_ kinds: [NamespaceKind]) throws(BerthError)
    /// prctl(2) with one argument; `name` is the option's name (`PR_SET_NO_NEW_PRIVS`).
    func prctl(_ option: Int32, _ argument: UInt, describing name: String) throws(BerthError)
    /// prlimit(2) on the calling process; `name` is the OCI name (`RLIMIT_NOFILE`).
    func setResourceLimit(_ resource: Int32, soft: UInt64, hard: UInt64, name: String) throws(BerthError)
    /// set_mempolicy(2) for the calling thread.
    func setMemoryPolicy(mode: Int32, nodeMask: [UInt]) throws(BerthError)
    /// sched_setattr(2) of the calling thread.
    func setScheduler(_ attributes: SchedulerAttributes) throws(BerthError)
    /// ioprio_set(2) of the calling thread (IOPRIO_WHO_PROCESS): `value` is class << 13 | level.
    func setIOPriority(_ value: Int32) throws(BerthError)
    /// personality(2).
    func setPersonality(_ persona: UInt) throws(BerthError)
    /// sched_setaffinity(2) of the calling thread; bit N of `mask` is CPU N. `name` is what a
    /// message calls the mask.
    func setCPUAffinity(_ mask: [UInt], describing name: String?) throws(BerthError)
    /// execve(2). Returns only when it fails, with the error.
    func exec(path: String, arguments: [String], environment: [String]) -> BerthError

    // MARK: Identity

    /// setgroups(2).
    func setGroups(_ groups: [UInt32]) throws(BerthError)
    /// setresgid(2) with all three ids set to `gid`.
    func setGroupIDs(_ gid: UInt32) throws(BerthError)
    /// setresuid(2) with all three ids set to `uid`.
    func setUserIDs(_ uid: UInt32) throws(BerthError)
    /// prctl(PR_CAPBSET_DROP) of one capability (libcap's cap_drop_bound).
    func dropBoundingCapability(_ capability: Int32) throws(BerthError)
    /// capset(2) of the effective, permitted and inheritable sets (libcap's cap_set_proc).
    func setCapabilities(effective: [Int32], permitted: [Int32], inheritable: [Int32]) throws(BerthError)
    /// prctl(PR_CAP_AMBIENT_CLEAR_ALL).
    func clearAmbientCapabilities() throws(BerthError)
    /// prctl(PR_CAP_AMBIENT_RAISE) of one capability.
    func raiseAmbientCapability(_ capability: Int32) throws(BerthError)
    /// seccomp(2), in the shape Seccomp's `load(using:)` calls it: -1 with errno on failure.
    func seccomp(_ operation: UInt32, _ flags: UInt32, _ arguments: UnsafeMutableRawPointer?) -> Int32
    /// sendmsg(2) of `fd` as SCM_RIGHTS over the connected `socket`, with `payload` as data.
    func sendDescriptor(_ fd: FileDescriptor, over socket: FileDescriptor, payload: String, describing name: String) throws(BerthError)

    // MARK: The terminal

    /// Unlocks the pty master `fd` (TIOCSPTLCK) and returns the number of its pts (TIOCGPTN).
    func unlockPseudoTerminal(_ fd: FileDescriptor) throws(BerthError) -> Int32
    /// TIOCSWINSZ.
    func setWindowSize(_ fd: FileDescriptor, rows: UInt16, columns: UInt16) throws(BerthError)
    /// TIOCSCTTY: `fd` becomes the controlling terminal.
    func setControllingTerminal(_ fd: FileDescriptor) throws(BerthError)
}

extension KernelCalls {
    /// Reads until end of file, at most `limit` bytes.
    public func readAll(_ fd: FileDescriptor, limit: Int = 64 << 20) throws(BerthError) -> [UInt8] {
        var result: [UInt8] = []
        while true {
            let chunk = try read(fd, upTo: 16384)
            if chunk.isEmpty { return result }
            result += chunk
            if result.count > limit { throw BerthError(.system, "read: file larger than \(limit) bytes") }
        }
    }

    /// Writes every byte, retrying short writes.
    public func writeAll(_ fd: FileDescriptor, _ bytes: [UInt8], describing name: String? = nil) throws(BerthError) {
        var offset = 0
        while offset < bytes.count {
            offset += try write(fd, Array(bytes[offset...]), describing: name)
        }
    }
}
