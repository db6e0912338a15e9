/// Test documents.
enum Fixtures {
    /// Looks a fixture up by name; parameterized tests take names so the test log does
    /// not print whole documents.
    static func named(_ name: String) -> String {
        switch name {
        case "specExample": return specExample
        default: return kitchenSink
        }
    }

    /// Every field this module models, with boundary values (RLIM_INFINITY, negative
    /// limits, uint64 max) and members the spec says must be ignored (other platforms,
    /// unknown keys).
    static let kitchenSink = #"""
{
  "ociVersion": "1.2.0",
  "x-vendor-extension": {"anything": [1, 2, {"goes": null}]},
  "process": {
    "terminal": true,
    "consoleSize": {"height": 24, "width": 80},
    "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 4294967295], "username": "ignored-on-linux"},
    "args": ["/bin/sh", "-c", "echo \"hi\" \u00e9\ud83d\ude00"],
    "commandLine": "sh -c echo",
    "env": ["PATH=/usr/bin:/bin", "TERM=xterm"],
    "cwd": "/work",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_KILL"],
      "effective": ["CAP_CHOWN"],
      "inheritable": [],
      "permitted": ["CAP_CHOWN", "CAP_KILL"],
      "ambient": ["CAP_KILL"]
    },
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1024},
      {"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 18446744073709551615}
    ],
    "noNewPrivileges": true,
    "apparmorProfile": "berth-default",
    "oomScoreAdj": -1000,
    "scheduler": {
      "policy": "SCHED_DEADLINE",
      "nice": -20,
      "priority": 0,
      "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_UTIL_CLAMP_MAX"],
      "runtime": 1000000,
      "deadline": 2000000,
      "period": 3000000
    },
    "selinuxLabel": "system_u:system_r:container_t:s0",
    "ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 0},
    "execCPUAffinity": {"initial": "0", "final": "0-3,7"}
  },
  "root": {"path": "/var/lib/berth/rootfs", "readonly": false},
  "hostname": "sink",
  "domainname": "example.org",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {
      "destination": "/data",
      "type": "bind",
      "source": "/srv/data",
      "options": ["rbind", "rw", "idmap"],
      "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
      "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]
    },
    {"destination": "/tmp"}
  ],
  "hooks": {
    "prestart": [{"path": "/usr/bin/prestart"}],
    "createRuntime": [{"path": "/usr/bin/net-setup", "args": ["net-setup", "--up"], "env": ["A=1"], "timeout": 10}],
    "createContainer": [{"path": "/usr/bin/cc"}],
    "startContainer": [{"path": "/usr/bin/sc", "timeout": 1}],
    "poststart": [{"path": "/usr/bin/notify"}],
    "poststop": [{"path": "/usr/bin/cleanup", "args": ["cleanup", "-f"]}]
  },
  "annotations": {"org.opencontainers.image.title": "sink", "com.example/weird key": "v"},
  "linux": {
    "namespaces": [
      {"type": "pid"},
      {"type": "network", "path": "/var/run/netns/sink"},
      {"type": "mount"},
      {"type": "ipc"},
      {"type": "uts"},
      {"type": "user"},
      {"type": "cgroup"},
      {"type": "time"}
    ],
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "timeOffsets": {"monotonic": {"secs": -86400, "nanosecs": 999999999}, "boottime": {"secs": 1}},
    "devices": [
      {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
      {"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0},
      {"path": "/dev/ttyX", "type": "u", "major": 4, "minor": 64},
      {"path": "/run/fifo", "type": "p"}
    ],
    "cgroupsPath": "/berth/sink",
    "resources": {
      "devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
        {"allow": true, "type": "a"}
      ],
      "memory": {
        "limit": 536870912,
        "reservation": 268435456,
        "swap": -1,
        "kernel": -1,
        "kernelTCP": -1,
        "swappiness": 60,
        "disableOOMKiller": false,
        "useHierarchy": true,
        "checkBeforeUpdate": true
      },
      "cpu": {
        "shares": 1024,
        "quota": -1,
        "burst": 10000,
        "period": 100000,
        "realtimeRuntime": 950000,
        "realtimePeriod": 1000000,
        "cpus": "0-3",
        "mems": "0",
        "idle": 0
      },
      "blockIO": {
        "weight": 500,
        "leafWeight": 300,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 100, "leafWeight": 50}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 104857600}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 52428800}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 1000}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 500}]
      },
      "hugepageLimits": [{"pageSize": "2MB", "limit": 18446744073709551615}, {"pageSize": "1GB", "limit": 0}],
      "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
      "pids": {"limit": 32768},
      "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "mlx4_0": {"hcaObjects": 1000}},
      "unified": {"memory.high": "400M", "io.max": "8:0 rbps=1048576"}
    },
    "intelRdt": {
      "closID": "guaranteed",
      "l3CacheSchema": "L3:0=7f0;1=1f",
      "memBwSchema": "MB:0=20;1=70",
      "enableCMT": true,
      "enableMBM": false
    },
    "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"},
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_RISCV64"],
      "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
      "listenerPath": "/run/seccomp-agent.sock",
      "listenerMetadata": "profile=strict",
      "syscalls": [
        {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {
          "names": ["personality"],
          "action": "SCMP_ACT_ALLOW",
          "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]
        },
        {
          "names": ["clone"],
          "action": "SCMP_ACT_ERRNO",
          "errnoRet": 38,
          "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
        },
        {"names": ["mount"], "action": "SCMP_ACT_NOTIFY"},
        {"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"},
        {"names": ["kexec_load"], "action": "SCMP_ACT_LOG", "args": [{"index": 5, "value": 0, "op": "SCMP_CMP_NE"}]}
      ]
    },
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys"],
    "mountLabel": "system_u:object_r:container_file_t:s0",
    "personality": {"domain": "LINUX32", "flags": []}
  },
  "windows": {"layerFolders": ["C:\\layers"], "hyperv": {}},
  "solaris": {"milestone": "svc:/milestone/container:default"},
  "vm": {"kernel": {"path": "/vmlinuz"}}
}
"""#
}
