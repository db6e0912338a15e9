/// The seccomp profile `berth spec` writes into config.json.
///
/// The reasoning for every group is in docs/seccomp.md; in short:
/// - the default action is `SCMP_ACT_ERRNO` with ENOSYS, so a syscall this list does not know
///   (typically one newer than the list) looks absent and libc falls back to an older one;
/// - the syscalls an ordinary workload needs are allowed, grouped by purpose;
/// - syscalls that reach beyond the container (mounts, namespaces, the kernel keyring, module
///   loading, other processes' memory, host-wide settings) fail with EPERM, so the program
///   sees "not permitted" rather than "not implemented";
/// - `clone`, `unshare`, `personality`, `mknod` and `mknodat` are allowed only for harmless
///   argument values, and `clone3` returns ENOSYS so glibc falls back to `clone`, whose flags
///   the filter can inspect.
///
/// The profile is static: unlike Docker's it does not widen itself for added capabilities. A
/// workload that needs more (nested containers, tracing) supplies its own `linux.seccomp`.
extension Spec {
    /// The default seccomp profile, as OCI values.
    public static func defaultSeccomp() -> LinuxSeccomp {
        LinuxSeccomp(
            defaultAction: .errno,
            defaultErrnoRet: DefaultSeccompProfile.enosys,
            architectures: DefaultSeccompProfile.architectures,
            syscalls: DefaultSeccompProfile.rules
        )
    }
}

/// The pieces of ``Spec/defaultSeccomp()``.
enum DefaultSeccompProfile {
    static let eperm: UInt = 1
    static let enosys: UInt = 38

    /// The native architecture and the compat ones its kernel can run.
    static var architectures: [SeccompArch]? {
        #if arch(x86_64)
        return [.x86_64, .x86, .x32]
        #elseif arch(arm64)
        return [.aarch64, .arm]
        #else
        return nil
        #endif
    }

    // Namespace flags of clone(2)/unshare(2) (linux/sched.h).
    static let cloneNewNS: UInt64 = 0x0002_0000
    static let cloneNewCgroup: UInt64 = 0x0200_0000
    static let cloneNewUTS: UInt64 = 0x0400_0000
    static let cloneNewIPC: UInt64 = 0x0800_0000
    static let cloneNewUser: UInt64 = 0x1000_0000
    static let cloneNewPID: UInt64 = 0x2000_0000
    static let cloneNewNet: UInt64 = 0x4000_0000
    /// Only unshare(2) and clone3(2) take it; in clone(2) the bit is part of the exit signal.
    static let cloneNewTime: UInt64 = 0x0000_0080

    /// Every namespace flag clone(2) accepts.
    static let cloneNamespaceFlags: [UInt64] = [
        cloneNewNS, cloneNewCgroup, cloneNewUTS, cloneNewIPC, cloneNewUser, cloneNewPID, cloneNewNet,
    ]

    // File types in the mode argument of mknod(2) (sys/stat.h).
    static let fileTypeMask: UInt64 = 0o170000
    static let fileTypeRegular: UInt64 = 0o100000
    static let fileTypeFIFO: UInt64 = 0o010000
    static let fileTypeSocket: UInt64 = 0o140000
    static let fileTypeChar: UInt64 = 0o020000
    static let fileTypeBlock: UInt64 = 0o060000

    /// personality(2) values a program may set: plain Linux, the 32-bit variant (setarch
    /// i686, linux32), each with UNAME26 (a 2.6.x uname for old software), and the query
    /// 0xffffffff. Others (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, foreign personas) weaken
    /// the process's own hardening or reach rarely used kernel code.
    static let personalities: [UInt64] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff]

    static func allow(_ names: [String], _ args: [LinuxSeccompArg]? = nil) -> LinuxSyscall {
        LinuxSyscall(names: names, action: .allow, args: args)
    }

    static func deny(_ names: [String], _ args: [LinuxSeccompArg]? = nil) -> LinuxSyscall {
        LinuxSyscall(names: names, action: .errno, errnoRet: eperm, args: args)
    }

    /// `(arg[index] & mask) == value`
    static func masked(_ index: UInt, _ mask: UInt64, _ value: UInt64) -> LinuxSeccompArg {
        LinuxSeccompArg(index: index, value: mask, valueTwo: value, op: .maskedEqual)
    }

    static var rules: [LinuxSyscall] {
        var rules: [LinuxSyscall] = [
            allow(filesAndIO),
            allow(fileMetadata),
            allow(polling),
            allow(asyncIO),
            allow(memory),
            allow(processes),
            allow(futexes),
            allow(signals),
            allow(time),
            allow(scheduling),
            allow(credentials),
            allow(systemInformation),
            allow(sockets),
            allow(ipc),
        ]
        rules += personalities.map { allow(["personality"], [LinuxSeccompArg(index: 0, value: $0, op: .equalTo)]) }
        rules += namespaceRules
        rules += deviceNodeRules
        rules += [
            deny(mounting),
            deny(namespaceJoining),
            deny(keyring),
            deny(kernelExtension),
            deny(otherProcesses),
            deny(hostAdministration),
            deny(hardwareAndLegacy),
            deny(asyncRings),
            // The same as the default action, so the compiler drops it; listed to state the
            // intent and to keep it ENOSYS if the default action is changed.
            LinuxSyscall(names: ["clone3"], action: .errno, errnoRet: enosys),
        ]
        return rules
    }

    /// clone(2) and unshare(2) without namespace flags; EPERM with any of them.
    static var namespaceRules: [LinuxSyscall] {
        let cloneMask = cloneNamespaceFlags.reduce(0, |)
        var rules = [
            allow(["clone"], [masked(0, cloneMask, 0)]),
            allow(["unshare"], [masked(0, cloneMask | cloneNewTime, 0)]),
        ]
        rules += cloneNamespaceFlags.map { deny(["clone", "unshare"], [masked(0, $0, $0)]) }
        rules.append(deny(["unshare"], [masked(0, cloneNewTime, cloneNewTime)]))
        return rules
    }

    /// mknod(2)/mknodat(2) for regular files, FIFOs, sockets and overlayfs whiteouts (a
    /// character device 0:0); EPERM for other device nodes.
    static var deviceNodeRules: [LinuxSyscall] {
        var rules: [LinuxSyscall] = []
        for (name, mode, dev) in [("mknod", UInt(1), UInt(2)), ("mknodat", UInt(2), UInt(3))] {
            for type in [0, fileTypeRegular, fileTypeFIFO, fileTypeSocket] {
                rules.append(allow([name], [masked(mode, fileTypeMask, type)]))
            }
            rules.append(allow([name], [masked(mode, fileTypeMask, fileTypeChar),
                                        LinuxSeccompArg(index: dev, value: 0, op: .equalTo)]))
            rules.append(deny([name], [masked(mode, fileTypeMask, fileTypeChar),
                                       LinuxSeccompArg(index: dev, value: 0, op: .notEqual)]))
            rules.append(deny([name], [masked(mode, fileTypeMask, fileTypeBlock)]))
        }
        return rules
    }

    // MARK: allowed

    static let filesAndIO = [
        "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
        "open", "openat", "openat2", "creat", "close", "close_range", "lseek", "_llseek",
        "dup", "dup2", "dup3", "pipe", "pipe2", "fcntl", "fcntl64", "flock", "ioctl",
        "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
        "truncate", "truncate64", "ftruncate", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64",
        "readahead", "sendfile", "sendfile64", "splice", "tee", "vmsplice", "copy_file_range", "cachestat",
    ]

    static let fileMetadata = [
        "stat", "fstat", "lstat", "newfstatat", "statx", "stat64", "fstat64", "lstat64", "fstatat64",
        "statfs", "fstatfs", "statfs64", "fstatfs64", "access", "faccessat", "faccessat2",
        "getdents", "getdents64", "getcwd", "chdir", "fchdir", "chroot",
        "mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2", "link", "linkat", "unlink", "unlinkat",
        "symlink", "symlinkat", "readlink", "readlinkat",
        "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
        "chown32", "fchown32", "lchown32", "umask", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat",
        "setxattr", "lsetxattr", "fsetxattr", "getxattr", "lgetxattr", "fgetxattr",
        "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
        "name_to_handle_at",
    ]

    static let polling = [
        "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
        "eventfd", "eventfd2", "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
        "signalfd", "signalfd4", "timerfd_create", "timerfd_settime", "timerfd_gettime",
        "timerfd_settime64", "timerfd_gettime64",
    ]

    static let asyncIO = [
        "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
    ]

    static let memory = [
        "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "pkey_mprotect", "pkey_alloc", "pkey_free",
        "madvise", "mincore", "msync", "mlock", "mlock2", "munlock", "mlockall", "munlockall",
        "membarrier", "memfd_create", "remap_file_pages", "map_shadow_stack",
        "get_mempolicy", "set_mempolicy", "mbind", "set_mempolicy_home_node",
    ]

    static let processes = [
        "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid",
        "getpid", "getppid", "gettid", "set_tid_address", "set_robust_list", "get_robust_list", "rseq",
        "restart_syscall", "prctl", "arch_prctl", "set_thread_area", "get_thread_area",
        "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
        "pidfd_open", "pidfd_send_signal", "process_mrelease",
    ]

    static let futexes = [
        "futex", "futex_time64", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue",
    ]

    static let signals = [
        "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
        "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigsuspend",
        "sigaltstack", "pause", "alarm", "sigaction", "signal", "sigpending", "sigprocmask", "sigreturn",
        "sigsuspend",
    ]

    static let time = [
        "time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
        "clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "getitimer", "setitimer",
        "timer_create", "timer_delete", "timer_settime", "timer_settime64", "timer_gettime", "timer_gettime64",
        "timer_getoverrun", "times",
        // Read the clock discipline (glibc's ntp_gettime and adjtimex go through clock_adjtime);
        // changing it needs CAP_SYS_TIME, which the kernel checks.
        "adjtimex", "clock_adjtime", "clock_adjtime64",
    ]

    static let scheduling = [
        "sched_yield", "sched_setparam", "sched_getparam", "sched_setscheduler", "sched_getscheduler",
        "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "sched_rr_get_interval_time64",
        "sched_setaffinity", "sched_getaffinity", "sched_setattr", "sched_getattr",
        "getpriority", "setpriority", "nice", "ioprio_set", "ioprio_get", "getcpu",
        "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage",
    ]

    static let credentials = [
        "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
        "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
        "getuid32", "geteuid32", "getgid32", "getegid32", "getresuid32", "getresgid32", "getgroups32",
        "setuid32", "setgid32", "setreuid32", "setregid32", "setresuid32", "setresgid32", "setgroups32",
        "setfsuid32", "setfsgid32", "capget", "capset",
        "setpgid", "getpgid", "getpgrp", "setsid", "getsid",
    ]

    static let systemInformation = [
        "uname", "sysinfo", "getrandom",
        // The container has its own UTS namespace by default, and the kernel requires
        // CAP_SYS_ADMIN for these.
        "sethostname", "setdomainname",
    ]

    static let sockets = [
        "socket", "socketpair", "bind", "listen", "connect", "accept", "accept4",
        "getsockname", "getpeername", "setsockopt", "getsockopt",
        "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "recvmmsg_time64", "shutdown",
        "socketcall",
    ]

    static let ipc = [
        "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semtimedop_time64", "semctl",
        "msgget", "msgsnd", "msgrcv", "msgctl", "ipc",
        "mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64",
        "mq_notify", "mq_getsetattr",
    ]

    // MARK: denied with EPERM

    static let mounting = [
        "mount", "umount", "umount2", "pivot_root", "mount_setattr", "move_mount", "open_tree",
        "fsopen", "fsconfig", "fsmount", "fspick",
    ]

    static let namespaceJoining = ["setns"]

    static let keyring = ["keyctl", "add_key", "request_key"]

    static let kernelExtension = [
        "bpf", "perf_event_open", "init_module", "finit_module", "delete_module",
        "kexec_load", "kexec_file_load", "lookup_dcookie", "syslog", "fanotify_init", "fanotify_mark",
    ]

    static let otherProcesses = [
        "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
        "migrate_pages", "move_pages",
    ]

    static let hostAdministration = [
        "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
        "settimeofday", "clock_settime", "clock_settime64", "stime", "vhangup",
    ]

    static let hardwareAndLegacy = [
        "iopl", "ioperm", "modify_ldt", "vm86", "vm86old", "uselib", "userfaultfd", "open_by_handle_at",
    ]

    static let asyncRings = ["io_uring_setup", "io_uring_enter", "io_uring_register"]
}
