import OCI

/// One classic BPF instruction, laid out like the kernel's `struct sock_filter`
/// (`code` at 0, `jt` at 2, `jf` at 3, `k` at 4; 8 bytes), so an array of them is the
/// program the kernel reads.
public struct BPFInstruction: Sendable, Hashable, CustomStringConvertible {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32

    public init(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32) {
        self.code = code
        self.jt = jt
        self.jf = jf
        self.k = k
    }

    public var description: String {
        "{ 0x\(hex(code, 4)), \(jt), \(jf), 0x\(hex(k, 8)) }"
    }
}

/// Flags for `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)` (linux/seccomp.h).
public struct SeccompFilterFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Install the filter on every thread of the process.
    public static let tsync = SeccompFilterFlags(rawValue: 1 << 0)
    /// Log every action except ALLOW.
    public static let log = SeccompFilterFlags(rawValue: 1 << 1)
    /// Keep the Speculative Store Bypass mitigation off.
    public static let specAllow = SeccompFilterFlags(rawValue: 1 << 2)
    /// Return a user-notification listener fd (for SCMP_ACT_NOTIFY).
    public static let newListener = SeccompFilterFlags(rawValue: 1 << 3)
    /// With tsync and newListener: report a thread that cannot sync as ESRCH, since the
    /// success value is already the listener fd.
    public static let tsyncESRCH = SeccompFilterFlags(rawValue: 1 << 4)
    /// Notified tasks wait killably once the supervisor has received the notification.
    public static let waitKillableRecv = SeccompFilterFlags(rawValue: 1 << 5)
}

/// A compiled `linux.seccomp` filter: the BPF program and how to install it.
///
/// Made in the parent by ``compile(_:kernel:)``; the child installs it with
/// ``load(using:)``, which calls seccomp(2) once and allocates nothing.
public struct SeccompProgram: Sendable, Equatable {
    /// The filter, in the layout of `struct sock_filter[]`.
    public var instructions: [BPFInstruction]
    /// Flags for seccomp(2): those of `linux.seccomp.flags`, plus NEW_LISTENER (and
    /// TSYNC_ESRCH with TSYNC) when a rule notifies.
    public var flags: SeccompFilterFlags
    /// Problems that did not stop compilation, for the runtime to print: syscall names
    /// libseccomp does not know (skipped, as runc does) and flags that have no effect.
    public var warnings: [String]

    public init(instructions: [BPFInstruction], flags: SeccompFilterFlags = [], warnings: [String] = []) {
        self.instructions = instructions
        self.flags = flags
        self.warnings = warnings
    }

    /// Whether a rule uses SCMP_ACT_NOTIFY: ``load(using:)`` then returns a listener fd
    /// that the runtime must send to `linux.seccomp.listenerPath`.
    public var needsListener: Bool { flags.contains(.newListener) }

    /// The program as the kernel reads it (8 bytes per instruction, host byte order).
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(instructions.count * 8)
        for insn in instructions {
            withUnsafeBytes(of: insn.code) { out += $0 }
            out.append(insn.jt)
            out.append(insn.jf)
            withUnsafeBytes(of: insn.k) { out += $0 }
        }
        return out
    }

    /// Parses the output of `seccomp_export_bpf` (host byte order).
    public static func instructions(fromBytes bytes: [UInt8]) -> [BPFInstruction]? {
        guard bytes.count % 8 == 0 else { return nil }
        return bytes.withUnsafeBytes { raw in
            stride(from: 0, to: raw.count, by: 8).map { offset in
                BPFInstruction(code: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self),
                               jt: raw[offset + 2], jf: raw[offset + 3],
                               k: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            }
        }
    }
}

func hex<T: BinaryInteger>(_ value: T, _ width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
