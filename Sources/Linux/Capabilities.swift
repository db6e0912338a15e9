import BerthCore
import CLibcap
import Glibc

/// Linux capabilities by name, and applying the five OCI sets through libcap.
public enum Capability {
    /// Index = capability number; the names the OCI spec uses.
    public static let names: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    static let numbers: [String: Int32] = {
        var table: [String: Int32] = [:]
        for (number, name) in names.enumerated() { table[name] = Int32(number) }
        return table
    }()

    /// The number of a capability name such as `CAP_NET_RAW`; nil when there is no such name.
    public static func number(_ name: String) -> Int32? { numbers[name] }

    /// True for a name of the form capabilities(7) uses: `CAP_` then upper-case letters, digits
    /// and underscores. Such a name berth does not know may be a newer kernel's capability.
    public static func isWellFormed(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count > 4, bytes.starts(with: Array("CAP_".utf8)) else { return false }
        return bytes.dropFirst(4).allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_") }
    }

    /// The highest capability the running kernel knows.
    public static func lastCap() -> Int32 {
        if let text = try? Files.readString("/proc/sys/kernel/cap_last_cap"),
           let value = Int32(text.split(separator: "\n").first ?? "") { return value }
        return Int32(names.count - 1)
    }

    /// The five sets as capability numbers. Capabilities newer than the running kernel are left
    /// out, as runc does: a config written for a newer kernel still runs.
    public struct Sets: Equatable, Sendable {
        public var bounding: [Int32] = []
        public var effective: [Int32] = []
        public var permitted: [Int32] = []
        public var inheritable: [Int32] = []
        public var ambient: [Int32] = []
        public init(bounding: [Int32] = [], effective: [Int32] = [], permitted: [Int32] = [], inheritable: [Int32] = [], ambient: [Int32] = []) {
            self.bounding = bounding
            self.effective = effective
            self.permitted = permitted
            self.inheritable = inheritable
            self.ambient = ambient
        }
    }

    /// Drops every capability not in `keep` from the bounding set. Needs CAP_SETPCAP, so it runs
    /// before the process changes its uid.
    public static func limitBoundingSet(to keep: [Int32]) throws(BerthError) {
        let last = lastCap()
        let kept = Set(keep)
        for cap in 0...last where !kept.contains(cap) {
            try sys("prctl", "PR_CAPBSET_DROP \(names.indices.contains(Int(cap)) ? names[Int(cap)] : "\(cap)")") {
                cap_drop_bound(cap_value_t(cap))
            }
        }
    }

    /// Sets the effective, permitted and inheritable sets, then the ambient set (which the kernel
    /// only accepts for capabilities already permitted and inheritable).
    public static func apply(_ sets: Sets) throws(BerthError) {
        guard let caps = cap_init() else { throw BerthError(.system, "cap_init", errno: Glibc.errno) }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        for (flag, list) in [(CAP_EFFECTIVE, sets.effective), (CAP_PERMITTED, sets.permitted), (CAP_INHERITABLE, sets.inheritable)] where !list.isEmpty {
            var values = list.map { cap_value_t($0) }
            try sys("cap_set_flag") { cap_set_flag(caps, flag, Int32(values.count), &values, CAP_SET) }
        }
        try sys("capset") { cap_set_proc(caps) }
        try sys("prctl", "PR_CAP_AMBIENT_CLEAR_ALL") { cap_reset_ambient() }
        for cap in sets.ambient where cap_set_ambient(cap_value_t(cap), CAP_SET) != 0 {
            // The plan keeps only permitted and inheritable ones; what the kernel still refuses
            // (SECBIT_NO_CAP_AMBIENT_RAISE, EPERM) is skipped, as runc and crun skip it.
            let code = Glibc.errno
            if code != EPERM { throw BerthError(.system, "prctl PR_CAP_AMBIENT_RAISE \(names[Int(cap)])", errno: code) }
        }
    }
}
