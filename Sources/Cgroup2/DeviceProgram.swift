import Synchronization

/// One eBPF instruction, `struct bpf_insn`: opcode, two 4-bit registers, a 16-bit jump offset
/// and a 32-bit immediate.
public struct EBPFInstruction: Hashable, Sendable, CustomStringConvertible {
    public var code: UInt8
    public var destination: UInt8
    public var source: UInt8
    public var offset: Int16
    public var immediate: Int32

    public init(code: UInt8, destination: UInt8 = 0, source: UInt8 = 0, offset: Int16 = 0, immediate: Int32 = 0) {
        self.code = code
        self.destination = destination
        self.source = source
        self.offset = offset
        self.immediate = immediate
    }

    // Opcode parts, from linux/bpf.h and linux/bpf_common.h.
    public static let classLoadX: UInt8 = 0x01, classALU32: UInt8 = 0x04, classJump: UInt8 = 0x05, classALU64: UInt8 = 0x07
    public static let sizeWord: UInt8 = 0x00, modeMemory: UInt8 = 0x60
    public static let sourceImmediate: UInt8 = 0x00, sourceRegister: UInt8 = 0x08
    public static let opAnd: UInt8 = 0x50, opRightShift: UInt8 = 0x70, opMove: UInt8 = 0xb0
    public static let jumpEqual: UInt8 = 0x10, jumpNotEqual: UInt8 = 0x50, exit: UInt8 = 0x90

    /// `dst = *(u32 *)(src + offset)`
    static func loadWord(_ destination: UInt8, from source: UInt8, offset: Int16) -> Self {
        Self(code: classLoadX | sizeWord | modeMemory, destination: destination, source: source, offset: offset)
    }

    /// A 32-bit ALU operation with an immediate (the upper half of `dst` becomes 0).
    static func alu32(_ op: UInt8, _ destination: UInt8, _ immediate: Int32) -> Self {
        Self(code: classALU32 | op | sourceImmediate, destination: destination, immediate: immediate)
    }

    /// `dst = (u32)src`
    static func move32(_ destination: UInt8, _ source: UInt8) -> Self {
        Self(code: classALU32 | opMove | sourceRegister, destination: destination, source: source)
    }

    /// `dst = immediate` (64-bit).
    static func move64(_ destination: UInt8, _ immediate: Int32) -> Self {
        Self(code: classALU64 | opMove | sourceImmediate, destination: destination, immediate: immediate)
    }

    /// `if (dst OP immediate) goto pc + 1 + offset`, comparing 64 bits.
    static func jump(_ op: UInt8, _ destination: UInt8, _ immediate: Int32, offset: Int16) -> Self {
        Self(code: classJump | op | sourceImmediate, destination: destination, offset: offset, immediate: immediate)
    }

    static let exitInstruction = Self(code: classJump | exit)

    /// The 8 bytes the kernel reads, in host byte order (little-endian here, registers packed
    /// destination-low as on every little-endian machine).
    var bytes: [UInt8] {
        let off = UInt16(bitPattern: offset), imm = UInt32(bitPattern: immediate)
        return [code, destination & 0x0f | (source & 0x0f) << 4, UInt8(off & 0xff), UInt8(off >> 8),
                UInt8(imm & 0xff), UInt8(imm >> 8 & 0xff), UInt8(imm >> 16 & 0xff), UInt8(imm >> 24)]
    }

    public var description: String {
        "code=0x\(String(code, radix: 16)) dst=r\(destination) src=r\(source) off=\(offset) imm=\(immediate)"
    }
}

/// A BPF_PROG_TYPE_CGROUP_DEVICE program compiled from device rules. The kernel runs it for
/// every open and mknod of a device node by a process of the cgroup, with
/// `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }` in r1 (type in the
/// low 16 bits of access_type, the access bits in the high 16), and allows the access only if
/// it returns 1.
///
/// Semantics, per access bit: the last rule that matches the device and names the bit decides
/// it (the OCI spec's order: later entries win); a bit no rule names is denied; the access is
/// allowed when every bit it asks for is. An open for reading and writing asks for both bits.
///
/// The code walks the rules from the last to the first with the still undecided bits in r3:
/// a matching deny rule that names one of them returns 0; a matching allow rule clears its
/// bits and returns 1 once none is left. After the first rule that matches everything and
/// names every bit, earlier rules cannot change the outcome and are not emitted (the
/// verifier also refuses unreachable code).
public struct DeviceProgram: Hashable, Sendable {
    public var rules: [DeviceRule]
    public var instructions: [EBPFInstruction]

    /// The name the program is loaded under, so that berth finds its own programs among those
    /// attached to a cgroup.
    public static let name = "berth_devices"

    // Registers: r1 the context (then scratch), r2 the device type, r3 the undecided access
    // bits, r4 the major, r5 the minor; r0 the verdict.
    static let context: UInt8 = 1, type: UInt8 = 2, access: UInt8 = 3, major: UInt8 = 4, minor: UInt8 = 5, scratch: UInt8 = 1

    /// Compiles `rules`, in config order, from a cache kept for the life of the process: a
    /// supervisor starting many containers with the same rules compiles them once.
    public static func compile(_ rules: [DeviceRule]) -> DeviceProgram {
        if let cached = cache.withLock({ $0[rules] }) { return cached }
        let program = DeviceProgram(rules: rules, instructions: instructions(for: rules))
        cache.withLock { cache in
            // Distinct rule sets are few (one per engine configuration); the bound only keeps a
            // long-lived supervisor fed odd configs from growing without end.
            if cache.count >= 64 { cache.removeAll() }
            cache[rules] = program
        }
        return program
    }

    /// This program's rules with mknod allowed for each of `nodes` (char or block, with their
    /// numbers), last so no rule overrides it: the runtime itself makes linux.devices nodes
    /// inside the cgroup, after the program is attached. Their read and write stay as the rules
    /// say. runc needs no such rule: it allows mknod of every device.
    public func allowingCreation(of nodes: [(kind: DeviceRule.Kind, major: Int64, minor: Int64)]) -> DeviceProgram {
        let creation = nodes.compactMap { node -> DeviceRule? in
            guard (0..<(1 << 12)).contains(node.major), (0..<(1 << 20)).contains(node.minor) else { return nil }
            return DeviceRule(allow: true, kind: node.kind, major: UInt32(node.major), minor: UInt32(node.minor), access: .mknod)
        }
        let extra = creation.filter { !Self.alreadyAllowsMknod(rules, $0) }
        return extra.isEmpty ? self : Self.compile(rules + extra)
    }

    /// Whether `rules` already end with a rule that allows what `rule` allows, so that adding
    /// it changes nothing: the default devices, typically.
    private static func alreadyAllowsMknod(_ rules: [DeviceRule], _ rule: DeviceRule) -> Bool {
        rules.last { ($0.kind == nil || $0.kind == rule.kind) && ($0.major == nil || $0.major == rule.major)
            && ($0.minor == nil || $0.minor == rule.minor) && $0.access.contains(.mknod) }?.allow == true
    }

    private static let cache = Mutex<[[DeviceRule]: DeviceProgram]>([:])

    static func instructions(for rules: [DeviceRule]) -> [EBPFInstruction] {
        typealias I = EBPFInstruction
        var code: [EBPFInstruction] = [
            .loadWord(type, from: context, offset: 0),
            .alu32(I.opAnd, type, 0xffff),
            .loadWord(access, from: context, offset: 0),
            .alu32(I.opRightShift, access, 16),
            .loadWord(major, from: context, offset: 4),
            .loadWord(minor, from: context, offset: 8),
        ]
        for rule in rules.reversed() {
            let block = self.block(for: rule)
            code += block
            if rule.kind == nil && rule.major == nil && rule.minor == nil && rule.access == .all { break }
        }
        // No rule decided every bit: deny.
        return code + [.move64(0, 0), .exitInstruction]
    }

    /// The instructions of one rule; every jump to `next` lands just after the block.
    static func block(for rule: DeviceRule) -> [EBPFInstruction] {
        typealias I = EBPFInstruction
        // (test, immediate) pairs whose mismatch skips the rule.
        var tests: [(register: UInt8, value: Int32)] = []
        if let kind = rule.kind { tests.append((type, Int32(kind.rawValue))) }
        if let number = rule.major { tests.append((major, Int32(number))) }
        if let number = rule.minor { tests.append((minor, Int32(number))) }
        let bits = Int32(rule.access.rawValue)
        let verdict: [EBPFInstruction] = rule.allow
            ? [.alu32(I.opAnd, access, ~bits), .jump(I.jumpNotEqual, access, 0, offset: 2), .move64(0, 1), .exitInstruction]
            : [.move32(scratch, access), .alu32(I.opAnd, scratch, bits), .jump(I.jumpEqual, scratch, 0, offset: 2),
               .move64(0, 0), .exitInstruction]
        var block: [EBPFInstruction] = []
        for (index, test) in tests.enumerated() {
            let remaining = tests.count - index - 1 + verdict.count
            block.append(.jump(I.jumpNotEqual, test.register, test.value, offset: Int16(remaining)))
        }
        return block + verdict
    }

    /// The instructions as the kernel reads them: 8 bytes each.
    public var bytes: [UInt8] { instructions.flatMap(\.bytes) }
}
