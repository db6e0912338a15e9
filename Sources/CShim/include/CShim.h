// The few kernel entry points Swift cannot call directly: variadic syscall(2) users and calls
// glibc 2.36 has no wrapper for. Every function returns what the kernel returns: -1 with errno
// set on failure. Nothing here allocates or starts threads, so it is safe between fork and exec.
#ifndef BERTH_CSHIM_H
#define BERTH_CSHIM_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#define BERTH_CLONE_INTO_CGROUP 0x200000000ULL
#define BERTH_CLONE_PIDFD 0x00001000ULL

/// clone3(2) without a new stack: returns twice like fork(2), 0 in the child.
/// `cgroup_fd` >= 0 places the child in that cgroup from its first instruction.
/// `pidfd_out` receives a pidfd for the child when not NULL.
pid_t berth_clone3(uint64_t flags, int exit_signal, int cgroup_fd, int *pidfd_out);

int berth_pivot_root(const char *new_root, const char *put_old);
int berth_pidfd_open(pid_t pid, unsigned int flags);
int berth_pidfd_send_signal(int pidfd, int sig, unsigned int flags);
/// A copy of descriptor `target` of the process behind `pidfd` (pidfd_getfd, Linux 5.6).
int berth_pidfd_getfd(int pidfd, int target);
int berth_close_range(unsigned int first, unsigned int last, unsigned int flags);

/// openat2(2) with RESOLVE_* flags; returns an fd or -1.
int berth_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

int berth_open_tree(int dirfd, const char *path, unsigned int flags);
int berth_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                     unsigned int flags);
int berth_mount_setattr(int dirfd, const char *path, unsigned int flags, uint64_t attr_set,
                        uint64_t attr_clr, uint64_t propagation);
/// fsopen(2), fsconfig(2) and fsmount(2): a filesystem instance made and mounted detached, to be
/// attached with move_mount on a descriptor (no path is walked).
int berth_fsopen(const char *fs_name, unsigned int flags);
int berth_fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux);
int berth_fsmount(int fd, unsigned int flags, unsigned int attr_flags);

/// seccomp(2): load a filter (SECCOMP_SET_MODE_FILTER with `args` a struct sock_fprog *) or
/// query the kernel. Returns the syscall's result: a listener fd with
/// SECCOMP_FILTER_FLAG_NEW_LISTENER, otherwise 0, or -1 with errno.
int berth_seccomp(unsigned int operation, unsigned int flags, void *args);

int berth_memfd_create(const char *name, unsigned int flags);
int berth_prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
                unsigned long arg5);
int berth_fcntl_int(int fd, int cmd, int arg);
int berth_ioctl_int(int fd, unsigned long request, int arg);

int berth_flock(int fd, int operation);
int berth_dup3(int oldfd, int newfd, int flags);
int berth_pipe2(int fds[2], int flags);
/// statfs(2)'s f_flags (the ST_* mount flags) of `path`, or -1.
long berth_statfs_flags(const char *path);
/// fstatfs(2)'s f_type (the filesystem magic) of `fd`, or -1.
long berth_fstatfs_type(int fd);
int berth_setresuid(uid_t ruid, uid_t euid, uid_t suid);
int berth_setresgid(gid_t rgid, gid_t egid, gid_t sgid);
int berth_setns(int fd, int nstype);
int berth_unshare(int flags);
int berth_prlimit(int resource, uint64_t soft, uint64_t hard);

/// Flags glibc hides behind _GNU_SOURCE, which Swift's Glibc module does not define.
static const int BERTH_O_PATH = 010000000;
static const int BERTH_O_TMPFILE = 020200000;

/// Blocks every signal a foreground runtime forwards (all but SIGKILL, SIGSTOP and the
/// synchronous faults) and returns a signalfd that receives them, or -1.
int berth_forwarding_signalfd(void);
/// Reads one signal number from a signalfd; 0 when none is pending.
int berth_read_signalfd(int fd);
/// Unblocks every signal, for a child about to exec.
void berth_unblock_all_signals(void);

/// Unlocks the pty master `fd` and returns the number of its pts, or -1.
int berth_pty_unlock(int fd);
/// TIOCSWINSZ on a terminal.
int berth_set_window_size(int fd, unsigned short rows, unsigned short columns);
/// Makes `fd` the calling process's controlling terminal (TIOCSCTTY).
int berth_set_controlling_terminal(int fd);
/// Sends `fd` over the connected unix socket `socket` (SCM_RIGHTS) with `name` as the payload.
int berth_send_fd(int socket, int fd, const char *name);
/// Connects a new close-on-exec unix stream socket to `path`; returns it or -1.
int berth_connect_unix(const char *path);
/// recvmsg(2) of one packet into `buffer`, with the descriptor it carries (SCM_RIGHTS,
/// close-on-exec) in *fd, or -1 there when it carries none. Returns the byte count or -1.
long berth_receive_packet(int socket, void *buffer, unsigned long length, int *fd);
/// Receives one descriptor (SCM_RIGHTS, close-on-exec) from the unix socket `socket`; returns
/// it, or -1 (EPIPE when the peer closed without sending one).
int berth_receive_fd(int socket);
/// TIOCGWINSZ on a terminal.
int berth_get_window_size(int fd, unsigned short *rows, unsigned short *columns);

/// The value of errno, for Swift callers that cannot read the TLS macro portably.
int berth_errno(void);


/// TCP for the supervisor's published ports (net.c). IPv4 addresses in dotted form.
/// A non-blocking, close-on-exec listening socket bound to `address`:`port` with SO_REUSEADDR.
int berth_tcp_listen(const char *address, int port, int backlog);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC; the peer is not needed.
int berth_tcp_accept(int listener);
/// A non-blocking, close-on-exec TCP socket in the calling thread's network namespace, with
/// a connect to `address`:`port` begun (0 or EINPROGRESS both count as success).
int berth_tcp_connect(const char *address, int port);
/// The pending error of a socket (SO_ERROR), or -1 when it cannot be read.
int berth_socket_error(int fd);
/// SO_LINGER {1, 0}: the next close sends a reset instead of a FIN.
int berth_socket_reset_on_close(int fd);
/// splice(2) with SPLICE_F_MOVE | SPLICE_F_NONBLOCK and no offsets.
long berth_splice(int in, int out, unsigned long length);
/// The local port a socket is bound to, or -1.
int berth_socket_port(int fd);
/// Sets IFF_UP on the interface `name` of the calling thread's network namespace.
int berth_interface_up(const char *name);
/// A close-on-exec epoll descriptor.
int berth_epoll_create(void);
/// Adds `fd` edge-triggered for input, output and the peer's hang-up, reported with `token`.
int berth_epoll_add_edge(int epoll, int fd, uint64_t token);
/// epoll_wait without waiting: the tokens of up to `capacity` (at most 64) ready descriptors.
int berth_epoll_wait(int epoll, uint64_t *tokens, int capacity);

/// For the supervisor's idle loop (pages.c): MADV_DONTNEED on the pages of each range
/// [starts[i], ends[i]) that are not private copies, as /proc/self/pagemap tells page by page
/// (in a private file mapping they come back from the page cache when next touched; the
/// copy-on-write pages are kept), then poll(2), whose result it returns. The ranges are dropped
/// in order, so the code's own mapping goes last.
int berth_drop_pages_and_poll(const unsigned long *starts, const unsigned long *ends, int count,
                              struct pollfd *fds, unsigned long nfds, int timeout);

/// set_mempolicy(2) (glibc has no wrapper; libnuma's is a library berth does not link): `mode`
/// with its MPOL_F_* flags, a node mask of `maxnode - 1` bits.
long berth_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode);

/// sched_setattr(2) of the calling thread with a struct sched_attr of these fields (no
/// utilization clamps).
int berth_sched_setattr(uint32_t policy, uint64_t flags, int32_t nice, uint32_t priority,
                        uint64_t runtime, uint64_t deadline, uint64_t period);
/// ioprio_set(2) of the calling thread (IOPRIO_WHO_PROCESS, who 0); `value` is class << 13 | level.
int berth_ioprio_set_self(int value);
/// personality(2); returns the previous persona.
int berth_personality(unsigned long persona);
/// sched_setaffinity(2) and sched_getaffinity(2) of the calling thread with a mask of `words`
/// longs. The get returns the number of bytes the kernel wrote.
int berth_sched_setaffinity(const unsigned long *mask, unsigned long words);
int berth_sched_getaffinity(unsigned long *mask, unsigned long words);
/// mount_setattr(2) of MOUNT_ATTR_IDMAP with the user namespace `userns` on the detached mount
/// `tree` (AT_EMPTY_PATH is in `flags`, with AT_RECURSIVE for the whole tree).
int berth_mount_setattr_idmap(int tree, unsigned int flags, int userns);
/// linux.netDevices (netdev.c): moves interface `name` of the caller's network namespace into
/// the one `netns_fd` names, renamed `new_name` in the same request, with its permanent
/// global addresses added again there (the move drops them) and the link up. Returns 0, or -1
/// with errno and `*stage` the step that failed: 0 finding it or its addresses, or taking it
/// down; 1 the move; 2 its addresses in the container; 3 bringing it up.
int berth_link_move(const char *name, int netns_fd, const char *new_name, int *stage);

/// bpf(2) for cgroup device programs (BPF_PROG_TYPE_CGROUP_DEVICE, Linux 4.15). Each returns
/// what the kernel returns: a descriptor or 0, or -1 with errno.
/// BPF_PROG_LOAD of `count` 8-byte eBPF instructions named `name` (at most 15 characters); on
/// failure the verifier's log, when it wrote one, is in `log` (NUL-terminated, `log_size` bytes).
/// The descriptor is close-on-exec.
int berth_bpf_load_device_program(const void *instructions, uint32_t count, const char *name,
                                  char *log, uint32_t log_size);
/// BPF_PROG_ATTACH of `program` to the cgroup directory `cgroup` as BPF_CGROUP_DEVICE with
/// `flags`: berth passes BPF_F_ALLOW_MULTI (2), under which every attached program must allow
/// an access.
int berth_bpf_attach_device_program(int program, int cgroup, uint32_t flags);
/// BPF_PROG_DETACH of `program` from the cgroup directory `cgroup` (BPF_CGROUP_DEVICE).
int berth_bpf_detach_device_program(int program, int cgroup);
/// BPF_PROG_QUERY: the ids of the BPF_CGROUP_DEVICE programs attached to `cgroup` itself (not
/// inherited ones). `*count` holds the capacity of `ids` and receives the number attached;
/// ENOSPC when they do not fit.
int berth_bpf_query_device_programs(int cgroup, uint32_t *ids, uint32_t *count);
/// BPF_PROG_GET_FD_BY_ID: a close-on-exec descriptor for the loaded program `id`.
int berth_bpf_program_by_id(uint32_t id);
/// BPF_OBJ_GET_INFO_BY_FD of a program: its id and its name (16 bytes, NUL-terminated).
int berth_bpf_program_info(int program, uint32_t *id, char name[16]);

#endif
