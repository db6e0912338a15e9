import BerthCore
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
    public static func lastCap() -> Int32 { LiveKernel().lastCapability() }

    static var fallbackLastCap: Int32 { Int32(names.count - 1) }

    /// cap_last_cap's text as a number; the highest capability berth knows when it is no number.
    static func parseLastCap(_ bytes: [UInt8]) -> Int32 {
        Int32(String(decoding: bytes, as: UTF8.self).split(separator: "\n").first ?? "") ?? fallbackLastCap
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

    /// The name of capability `number`, or the number itself when it has none here.
    static func name(_ number: Int32) -> String {
        names.indices.contains(Int(number)) ? names[Int(number)] : "\(number)"
    }
}

/// Applying the five OCI sets.
extension KernelCalls {
    /// Drops every capability not in `keep` from the bounding set. Needs CAP_SETPCAP, so it runs
    /// before the process changes its uid.
    public func limitBoundingSet(to keep: [Int32]) throws(BerthError) {
        let kept = Set(keep)
        for cap in 0...lastCapability() where !kept.contains(cap) {
            try dropBoundingCapability(cap)
        }
    }

    /// Sets the effective, permitted and inheritable sets, then the ambient set (which the kernel
    /// only accepts for capabilities already permitted and inheritable).
    public func applyCapabilities(_ sets: Capability.Sets) throws(BerthError) {
        try setCapabilities(effective: sets.effective, permitted: sets.permitted, inheritable: sets.inheritable)
        try clearAmbientCapabilities()
        for cap in sets.ambient {
            // The plan keeps only permitted and inheritable ones; what the kernel still refuses
            // (SECBIT_NO_CAP_AMBIENT_RAISE, EPERM) is skipped, as runc and crun skip it.
            do { try raiseAmbientCapability(cap) } catch where error.errno == EPERM {}
        }
    }

    /// The highest capability the running kernel knows, from /proc/sys/kernel/cap_last_cap.
    func lastCapability() -> Int32 {
        guard let fd = try? open("/proc/sys/kernel/cap_last_cap", O_RDONLY, mode: 0, relativeTo: nil) else { return Capability.fallbackLastCap }
        defer { close(fd) }
        return Capability.parseLastCap((try? readAll(fd)) ?? [])
    }
}
