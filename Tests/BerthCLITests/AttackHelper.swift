import Foundation
import Glibc
import TestSupport
import Testing

/// `berth-attack`, a static C program the attack tests run inside containers: busybox cannot
/// issue raw syscalls, list its own descriptors without adding one, race /proc or send an
/// sd_notify datagram. Compiled once per source version with the host's `cc -static` into /tmp
/// (the VM sees the host's compiler).
enum AttackHelper {
    static let source = #"""
    #define _GNU_SOURCE
    #include <dirent.h>
    #include <errno.h>
    #include <fcntl.h>
    #include <netinet/in.h>
    #include <sched.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/socket.h>
    #include <sys/stat.h>
    #include <sys/syscall.h>
    #include <sys/un.h>
    #include <sys/sysmacros.h>
    #include <time.h>
    #include <unistd.h>

    /* Every descriptor of this process but the one listing them: "N TARGET" per line. */
    static int fds(void) {
        DIR *dir = opendir("/proc/self/fd");
        if (!dir) { perror("opendir"); return 1; }
        int own = dirfd(dir);
        struct dirent *entry;
        while ((entry = readdir(dir))) {
            if (entry->d_name[0] == '.') continue;
            int fd = atoi(entry->d_name);
            if (fd == own) continue;
            char target[4096] = {0};
            if (readlinkat(own, entry->d_name, target, sizeof(target) - 1) < 0) strcpy(target, "?");
            printf("%d %s\n", fd, target);
        }
        closedir(dir);
        return 0;
    }

    /* Calls the default seccomp profile must refuse, each with arguments that are harmless even
       if it did not (a missing path, a bad magic, a pid that cannot exist): "NAME ERRNO" per
       line, ERRNO 0 when the call succeeded. */
    static int syscalls(void) {
        struct { const char *name; long nr; long a[6]; } calls[] = {
            {"mount", SYS_mount, {(long)"none", (long)"/nonexistent-berth-attack", (long)"tmpfs", 0, 0}},
            {"umount2", SYS_umount2, {(long)"/nonexistent-berth-attack", 0}},
            {"unshare-user", SYS_unshare, {CLONE_NEWUSER}},
            {"keyctl", SYS_keyctl, {0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0}},
            {"bpf", SYS_bpf, {0 /* BPF_MAP_CREATE */, 0, 0}},
            {"ptrace", SYS_ptrace, {16 /* PTRACE_ATTACH */, 0x7ffffff0, 0, 0}},
            {"kexec_load", SYS_kexec_load, {0, 0, 0, 0x8000 /* no such flag: EINVAL if it ran */}},
            {"open_by_handle_at", SYS_open_by_handle_at, {-1, 0, 0}},
            {"reboot", SYS_reboot, {0, 0, 0, 0} /* bad magic: EINVAL if it ran */},
            {"mknod-block", SYS_mknodat, {AT_FDCWD, (long)"/dev/berth-attack-blk", S_IFBLK | 0600, (long)makedev(7, 0)}},
            {"getpid", SYS_getpid, {0}},
        };
        for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
            errno = 0;
            long r = syscall(calls[i].nr, calls[i].a[0], calls[i].a[1], calls[i].a[2], calls[i].a[3], calls[i].a[4], calls[i].a[5]);
            printf("%s %d\n", calls[i].name, r == -1 ? errno : 0);
        }
        return 0;
    }

    static int rawsocket(void) {
        int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
        printf("raw %d\n", fd < 0 ? errno : 0);
        return 0;
    }

    /* CVE-2019-5736 and friends from inside: until SECONDS pass or STOPFILE appears, look at
       every other process and try to reach the runtime through /proc/PID/{exe,root,cwd,fd}.
       Counts "exe" opens whose inode is the runtime's (DEV:INO), opens of it for writing, and
       root/cwd/fd links that lead outside our own root. Nothing is ever written. */
    static int race(const char *runtime, double seconds, const char *stopfile, const char *report) {
        unsigned long dev, ino;
        if (sscanf(runtime, "%lu:%lu", &dev, &ino) != 2) return 2;
        struct stat root;
        if (stat("/", &root) != 0) return 2;
        long attempts = 0, others = 0, exe = 0, exe_read = 0, exe_write = 0, reopened = 0, outside = 0;
        int held[64]; int nheld = 0;
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        pid_t self = getpid();
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 > seconds) break;
            if (access(stopfile, F_OK) == 0) break;
            DIR *proc = opendir("/proc");
            if (!proc) return 2;
            struct dirent *entry;
            while ((entry = readdir(proc))) {
                pid_t pid = atoi(entry->d_name);
                if (pid <= 0 || pid == self) continue;
                char path[128];
                struct stat info;
                attempts++;
                snprintf(path, sizeof(path), "/proc/%d/exe", pid);
                int fd = open(path, O_PATH | O_CLOEXEC);
                if (fd >= 0) {
                    others++;
                    if (fstat(fd, &info) == 0 && info.st_dev == dev && info.st_ino == ino) {
                        exe++;
                        if (nheld < 64) { held[nheld++] = fd; fd = -1; }
                    }
                    if (fd >= 0) close(fd);
                }
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                    if (fstat(fd, &info) == 0 && info.st_dev == dev && info.st_ino == ino) exe_read++;
                    close(fd);
                }
                fd = open(path, O_WRONLY | O_CLOEXEC);
                if (fd >= 0) { exe_write++; close(fd); }
                const char *links[] = {"root", "cwd"};
                for (int i = 0; i < 2; i++) {
                    snprintf(path, sizeof(path), "/proc/%d/%s", pid, links[i]);
                    fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
                    if (fd < 0) continue;
                    /* Our root, or a directory on the rootfs's filesystem: inside. */
                    if (fstat(fd, &info) == 0 && i == 0 && (info.st_dev != root.st_dev || info.st_ino != root.st_ino)) outside++;
                    close(fd);
                }
                snprintf(path, sizeof(path), "/proc/%d/fd", pid);
                DIR *fds = opendir(path);
                if (fds) {
                    struct dirent *f;
                    while ((f = readdir(fds))) {
                        if (f->d_name[0] == '.') continue;
                        char fdpath[160];
                        snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd/%s", pid, f->d_name);
                        int leaked = open(fdpath, O_PATH | O_CLOEXEC);
                        if (leaked < 0) continue;
                        if (fstat(leaked, &info) == 0 && info.st_dev == dev && info.st_ino == ino) exe++;
                        close(leaked);
                    }
                    closedir(fds);
                }
            }
            closedir(proc);
        }
        /* The attack proper: once the runtime has exited, reopen what was held for writing. */
        for (int i = 0; i < nheld; i++) {
            char path[64];
            snprintf(path, sizeof(path), "/proc/self/fd/%d", held[i]);
            for (int tries = 0; tries < 50; tries++) {
                int fd = open(path, O_WRONLY | O_CLOEXEC);
                if (fd >= 0) { reopened++; close(fd); break; }
                if (errno != ETXTBSY) break;
                usleep(20000);
            }
        }
        FILE *out = fopen(report, "w");
        if (!out) return 2;
        fprintf(out, "attempts %ld others %ld exe %ld exe-read %ld exe-write %ld reopened %ld outside %ld\n",
                attempts, others, exe, exe_read, exe_write, reopened, outside);
        fclose(out);
        return 0;
    }

    static int ids(void) {
        printf("uid %d euid %d\n", (int)getuid(), (int)geteuid());
        return 0;
    }

    /* sd_notify as a service sends it: each argument one datagram to $NOTIFY_SOCKET. */
    static int notify(int count, char **messages) {
        const char *path = getenv("NOTIFY_SOCKET");
        if (!path) { fprintf(stderr, "NOTIFY_SOCKET is not set\n"); return 1; }
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        strncpy(address.sun_path, path, sizeof(address.sun_path) - 1);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        for (int i = 0; i < count; i++) {
            if (sendto(fd, messages[i], strlen(messages[i]), 0, (struct sockaddr *)&address, sizeof(address)) < 0) {
                perror("sendto");
                return 1;
            }
        }
        return 0;
    }

    int main(int argc, char **argv) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc >= 2 && strcmp(argv[1], "fds") == 0) return fds();
        if (argc >= 2 && strcmp(argv[1], "syscalls") == 0) return syscalls();
        if (argc >= 2 && strcmp(argv[1], "rawsocket") == 0) return rawsocket();
        if (argc >= 2 && strcmp(argv[1], "ids") == 0) return ids();
        if (argc >= 2 && strcmp(argv[1], "notify") == 0) return notify(argc - 2, argv + 2);
        if (argc >= 6 && strcmp(argv[1], "race") == 0) return race(argv[2], atof(argv[3]), argv[4], argv[5]);
        fprintf(stderr, "usage: berth-attack fds | syscalls | rawsocket | ids | notify MESSAGE... | race DEV:INO SECONDS STOPFILE REPORT\n");
        return 2;
    }
    """#

    private static let builder = Builder()

    /// The directory holding the built `berth-attack` (to bind into a container).
    static func directory() async throws -> String { try await builder.build() }

    private actor Builder {
        private var built: String?

        func build() async throws -> String {
            if let built { return built }
            // Keyed by the source, so runs share one build and an edit rebuilds.
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in AttackHelper.source.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            let directory = "/tmp/berth-attack-\(String(hash, radix: 16))"
            let binary = directory + "/berth-attack"
            if !FileManager.default.isExecutableFile(atPath: binary) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let scratch = try TemporaryDirectory("berth-attack-build")
                defer { scratch.remove() }
                try scratch.write("attack.c", AttackHelper.source)
                let cc = try SpawnedProcess("/usr/bin/cc", ["-static", "-O1", "-o", scratch.path + "/berth-attack", scratch.path + "/attack.c"],
                                            environment: ["PATH=/usr/bin:/bin", "TMPDIR=" + scratch.path],
                                            stdoutPath: scratch.path + "/cc.out", stderrPath: scratch.path + "/cc.err")
                let result = await cc.wait(timeout: 60 * TestTiming.scale)
                try #require(result.succeeded, "cc -static failed (libc6-dev provides the static libc): \(result)")
                // Renamed into place: a parallel test process never runs a half-written file.
                guard rename(scratch.path + "/berth-attack", binary) == 0 || FileManager.default.isExecutableFile(atPath: binary) else {
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
            }
            built = directory
            return directory
        }
    }
}
