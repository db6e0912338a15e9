extension Spec {
    /// Capabilities Docker and podman grant by default: enough for typical images
    /// (package managers, servers binding low ports) without administrative powers.
    public static let defaultCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]

    /// Paths under /proc and /sys that leak host information or allow host changes,
    /// hidden by mounting over them.
    public static let defaultMaskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
        "/sys/devices/virtual/powercap",
    ]

    /// Paths remounted read-only.
    public static let defaultReadonlyPaths = [
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    ]

    /// The configuration `berth spec` writes: `runc spec`'s template (an interactive `sh` on a
    /// terminal) with Docker's default capability set.
    ///
    /// Differences from runc: the hostname is `berth`, and bounding/effective/permitted carry
    /// the Docker set instead of runc's minimal three capabilities (`berth spec` also adds the
    /// default seccomp profile). runc adds the cgroup namespace only on a cgroup v2 unified
    /// host, which the caller knows: `cgroupNamespace`.
    public static func defaultConfig(cgroupNamespace: Bool = true) -> Spec {
        Spec(
            ociVersion: version,
            process: Process(
                terminal: true,
                user: User(uid: 0, gid: 0),
                args: ["sh"],
                env: [
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=xterm",
                ],
                cwd: "/",
                capabilities: LinuxCapabilities(
                    bounding: defaultCapabilities,
                    effective: defaultCapabilities,
                    permitted: defaultCapabilities
                ),
                rlimits: [POSIXRlimit(type: .nofile, hard: 1024, soft: 1024)],
                noNewPrivileges: true
            ),
            root: Root(path: "rootfs", readonly: true),
            hostname: "berth",
            mounts: defaultMounts,
            linux: LinuxConfig(
                // Deny all device access unless a later rule allows it; the runtime
                // adds rules for the standard /dev nodes it creates.
                resources: LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm")]),
                namespaces: ([.pid, .network, .ipc, .uts, .mount] + (cgroupNamespace ? [.cgroup] : [])).map { LinuxNamespace(type: $0) },
                maskedPaths: defaultMaskedPaths,
                readonlyPaths: defaultReadonlyPaths
            )
        )
    }

    /// The standard pseudo-filesystems every container gets.
    public static let defaultMounts = [
        Mount(destination: "/proc", type: "proc", source: "proc"),
        Mount(destination: "/dev", type: "tmpfs", source: "tmpfs",
              options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
              options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        Mount(destination: "/dev/shm", type: "tmpfs", source: "shm",
              options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue",
              options: ["nosuid", "noexec", "nodev"]),
        Mount(destination: "/sys", type: "sysfs", source: "sysfs",
              options: ["nosuid", "noexec", "nodev", "ro"]),
        Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
              options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
    ]
}
