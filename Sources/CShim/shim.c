#define _GNU_SOURCE
#include "CShim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif

struct berth_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
        set_tid, set_tid_size, cgroup;
};

pid_t berth_clone3(uint64_t flags, int exit_signal, int cgroup_fd, int *pidfd_out) {
    struct berth_clone_args args;
    memset(&args, 0, sizeof(args));
    int pidfd = -1;
    args.flags = flags;
    args.exit_signal = (uint64_t)exit_signal;
    if (cgroup_fd >= 0) {
        args.flags |= BERTH_CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cgroup_fd;
    }
    if (pidfd_out != NULL) {
        args.flags |= BERTH_CLONE_PIDFD;
        args.pidfd = (uint64_t)(uintptr_t)&pidfd;
    }
    long ret = syscall(SYS_clone3, &args, sizeof(args));
    if (ret > 0 && pidfd_out != NULL) *pidfd_out = pidfd;
    return (pid_t)ret;
}

int berth_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int berth_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

int berth_pidfd_send_signal(int pidfd, int sig, unsigned int flags) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}

int berth_pidfd_getfd(int pidfd, int target) {
    return (int)syscall(438 /* SYS_pidfd_getfd */, pidfd, target, 0);
}

int berth_close_range(unsigned int first, unsigned int last, unsigned int flags) {
    return (int)syscall(SYS_close_range, first, last, flags);
}

struct berth_open_how {
    uint64_t flags, mode, resolve;
};

int berth_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct berth_open_how how = {flags, mode, resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int berth_open_tree(int dirfd, const char *path, unsigned int flags) {
    return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

int berth_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                     unsigned int flags) {
    return (int)syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags);
}

struct berth_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

int berth_mount_setattr(int dirfd, const char *path, unsigned int flags, uint64_t attr_set,
                        uint64_t attr_clr, uint64_t propagation) {
    struct berth_mount_attr attr = {attr_set, attr_clr, propagation, 0};
    return (int)syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof(attr));
}

int berth_fsopen(const char *fs_name, unsigned int flags) {
    return (int)syscall(SYS_fsopen, fs_name, flags);
}

int berth_fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux) {
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}

int berth_fsmount(int fd, unsigned int flags, unsigned int attr_flags) {
    return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}

int berth_seccomp(unsigned int operation, unsigned int flags, void *args) {
    return (int)syscall(SYS_seccomp, operation, flags, args);
}

int berth_memfd_create(const char *name, unsigned int flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}

int berth_prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
                unsigned long arg5) {
    return prctl(option, arg2, arg3, arg4, arg5);
}

int berth_fcntl_int(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }

int berth_ioctl_int(int fd, unsigned long request, int arg) { return ioctl(fd, request, arg); }

int berth_flock(int fd, int operation) { return flock(fd, operation); }

int berth_dup3(int oldfd, int newfd, int flags) { return dup3(oldfd, newfd, flags); }

int berth_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

long berth_statfs_flags(const char *path) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -1;
    return (long)info.f_flags;
}

long berth_fstatfs_type(int fd) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    return (long)info.f_type;
}

int berth_setresuid(uid_t ruid, uid_t euid, uid_t suid) { return setresuid(ruid, euid, suid); }

int berth_setresgid(gid_t rgid, gid_t egid, gid_t sgid) { return setresgid(rgid, egid, sgid); }

int berth_setns(int fd, int nstype) { return setns(fd, nstype); }

int berth_unshare(int flags) { return unshare(flags); }

int berth_prlimit(int resource, uint64_t soft, uint64_t hard) {
    struct rlimit limit = {soft, hard};
    return prlimit(0, resource, &limit, NULL);
}

int berth_forwarding_signalfd(void) {
    sigset_t set;
    sigfillset(&set);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGBUS);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGILL);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int berth_read_signalfd(int fd) {
    struct signalfd_siginfo info;
    ssize_t got = read(fd, &info, sizeof(info));
    if (got != (ssize_t)sizeof(info)) return 0;
    return (int)info.ssi_signo;
}

void berth_unblock_all_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);
}

int berth_pty_unlock(int fd) {
    int unlock = 0, number = -1;
    if (ioctl(fd, TIOCSPTLCK, &unlock) != 0) return -1;
    if (ioctl(fd, TIOCGPTN, &number) != 0) return -1;
    return number;
}

int berth_set_window_size(int fd, unsigned short rows, unsigned short columns) {
    struct winsize size = {rows, columns, 0, 0};
    return ioctl(fd, TIOCSWINSZ, &size);
}

int berth_set_controlling_terminal(int fd) { return ioctl(fd, TIOCSCTTY, 0); }

int berth_send_fd(int socket, int fd, const char *name) {
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof(control));
    struct iovec iov = {(void *)name, strlen(name)};
    struct msghdr message = {0};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof(int));
    ssize_t sent;
    do { sent = sendmsg(socket, &message, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    return sent < 0 ? -1 : 0;
}

long berth_receive_packet(int socket, void *buffer, unsigned long length, int *fd) {
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof(control));
    struct iovec iov = {buffer, length};
    struct msghdr message = {0};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t got;
    do { got = recvmsg(socket, &message, MSG_CMSG_CLOEXEC); } while (got < 0 && errno == EINTR);
    *fd = -1;
    if (got < 0) return -1;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    if (header != NULL && header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS &&
        header->cmsg_len == CMSG_LEN(sizeof(int))) {
        memcpy(fd, CMSG_DATA(header), sizeof(int));
    }
    return got;
}

int berth_connect_unix(const char *path) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(address.sun_path)) { errno = ENAMETOOLONG; return -1; }
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int berth_errno(void) { return errno; }

long berth_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode) {
    return syscall(SYS_set_mempolicy, mode, nodemask, maxnode);
}

static int berth_bpf(int command, union bpf_attr *attr) {
    return (int)syscall(SYS_bpf, command, attr, sizeof(*attr));
}

int berth_bpf_load_device_program(const void *instructions, uint32_t count, const char *name,
                                  char *log, uint32_t log_size) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)instructions;
    attr.insn_cnt = count;
    // The program calls no helper, so the license only has to be a string.
    attr.license = (uint64_t)(uintptr_t)"Apache-2.0";
    strncpy(attr.prog_name, name, sizeof(attr.prog_name) - 1);
    int fd = berth_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0 || log == NULL || log_size < 2) return fd;
    // Loaded again only to learn why: the verifier writes its log on request.
    int saved = errno;
    log[0] = 0;
    attr.log_level = 1;
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = log_size;
    fd = berth_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0) return fd;
    log[log_size - 1] = 0;
    errno = saved;
    return -1;
}

static int berth_bpf_device_attachment(int command, int program, int cgroup, uint32_t flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cgroup;
    attr.attach_bpf_fd = (uint32_t)program;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = flags;
    return berth_bpf(command, &attr);
}

int berth_bpf_attach_device_program(int program, int cgroup, uint32_t flags) {
    return berth_bpf_device_attachment(BPF_PROG_ATTACH, program, cgroup, flags);
}

int berth_bpf_detach_device_program(int program, int cgroup) {
    return berth_bpf_device_attachment(BPF_PROG_DETACH, program, cgroup, 0);
}

int berth_bpf_query_device_programs(int cgroup, uint32_t *ids, uint32_t *count) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t)cgroup;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
    attr.query.prog_cnt = *count;
    int result = berth_bpf(BPF_PROG_QUERY, &attr);
    *count = attr.query.prog_cnt;
    return result;
}

int berth_bpf_program_by_id(uint32_t id) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_id = id;
    // Descriptors from bpf(2) are always close-on-exec.
    return berth_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
}

int berth_bpf_program_info(int program, uint32_t *id, char name[16]) {
    struct bpf_prog_info info;
    memset(&info, 0, sizeof(info));
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.info.bpf_fd = (uint32_t)program;
    attr.info.info_len = sizeof(info);
    attr.info.info = (uint64_t)(uintptr_t)&info;
    int result = berth_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr);
    if (result != 0) return result;
    *id = info.id;
    memcpy(name, info.name, 16);
    name[15] = 0;
    return 0;
}

/// struct sched_attr of linux/sched/types.h at its first size (SCHED_ATTR_SIZE_VER0, 48 bytes):
/// the utilization clamps that follow it in later kernels are not set by berth.
struct berth_sched_attr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

int berth_sched_setattr(uint32_t policy, uint64_t flags, int32_t nice, uint32_t priority,
                        uint64_t runtime, uint64_t deadline, uint64_t period) {
    struct berth_sched_attr attr = {sizeof(attr), policy, flags, nice, priority, runtime, deadline, period};
    return (int)syscall(SYS_sched_setattr, 0, &attr, 0);
}

int berth_ioprio_set_self(int value) {
    // IOPRIO_WHO_PROCESS is 1; who 0 is the calling thread.
    return (int)syscall(SYS_ioprio_set, 1, 0, value);
}

int berth_personality(unsigned long persona) {
    return (int)syscall(SYS_personality, persona);
}

int berth_sched_setaffinity(const unsigned long *mask, unsigned long words) {
    return (int)syscall(SYS_sched_setaffinity, 0, words * sizeof(unsigned long), mask);
}

int berth_sched_getaffinity(unsigned long *mask, unsigned long words) {
    long result = syscall(SYS_sched_getaffinity, 0, words * sizeof(unsigned long), mask);
    return result < 0 ? -1 : (int)result;
}

int berth_mount_setattr_idmap(int tree, unsigned int flags, int userns) {
    // MOUNT_ATTR_IDMAP is 0x00100000; struct mount_attr's fourth field is the userns fd.
    struct {
        uint64_t attr_set, attr_clr, propagation, userns_fd;
    } attr = {0x00100000, 0, 0, (uint64_t)userns};
    return (int)syscall(SYS_mount_setattr, tree, "", flags, &attr, sizeof(attr));
}
