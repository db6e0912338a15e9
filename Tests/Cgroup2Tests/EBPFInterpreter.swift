import Cgroup2

/// What the kernel passes a device program: `struct bpf_cgroup_dev_ctx`.
struct DeviceRequest: CustomStringConvertible {
    var kind: DeviceRule.Kind
    var major: UInt32
    var minor: UInt32
    var access: DeviceRule.Access

    var accessType: UInt32 { kind.rawValue | access.rawValue << 16 }

    var description: String { "\(kind == .char ? "c" : "b") \(major):\(minor) \(access.letters)" }

    func word(at offset: Int16) -> UInt32? {
        switch offset {
        case 0: accessType
        case 4: major
        case 8: minor
        default: nil
        }
    }
}

enum EBPFError: Error, Equatable {
    case unknownInstruction(pc: Int, code: UInt8)
    case badContextLoad(pc: Int, offset: Int16)
    case uninitializedRegister(pc: Int, register: UInt8)
    case jumpOutOfRange(pc: Int)
    case backwardJump(pc: Int)
    case fellOffTheEnd
    case unreachable(pc: Int)
    case truncated
}

/// An interpreter for the eBPF subset ``DeviceProgram`` emits, reading the program from the
/// bytes the kernel would get: 32-bit loads from the context in r1, 32-bit AND, right shift and
/// register move, 64-bit move of an immediate, JEQ/JNE against an immediate, and exit. Like the
/// kernel's verifier it refuses reads of registers never written, context loads outside the
/// struct, backward or out-of-range jumps, falling off the end and unreachable instructions.
struct EBPFInterpreter {
    struct Instruction {
        var code: UInt8, destination: UInt8, source: UInt8, offset: Int16, immediate: Int32
    }

    let program: [Instruction]

    init(bytes: [UInt8]) throws(EBPFError) {
        guard bytes.count % 8 == 0, !bytes.isEmpty else { throw .truncated }
        program = stride(from: 0, to: bytes.count, by: 8).map { start in
            let b = Array(bytes[start..<(start + 8)])
            return Instruction(code: b[0], destination: b[1] & 0x0f, source: b[1] >> 4,
                               offset: Int16(bitPattern: UInt16(b[2]) | UInt16(b[3]) << 8),
                               immediate: Int32(bitPattern: UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24))
        }
        try checkReachability()
    }

    /// Every instruction must be reachable from the first, as the verifier demands.
    private func checkReachability() throws(EBPFError) {
        var reached = [Bool](repeating: false, count: program.count)
        var pending = [0]
        while let pc = pending.popLast() {
            guard pc < program.count else { throw .fellOffTheEnd }
            if reached[pc] { continue }
            reached[pc] = true
            let instruction = program[pc]
            switch instruction.code {
            case 0x95: continue
            case 0x15, 0x55:
                let target = pc + 1 + Int(instruction.offset)
                guard instruction.offset >= 0 else { throw .backwardJump(pc: pc) }
                guard target <= program.count else { throw .jumpOutOfRange(pc: pc) }
                pending += [pc + 1, target]
            default: pending.append(pc + 1)
            }
        }
        if let pc = reached.firstIndex(of: false) { throw .unreachable(pc: pc) }
    }

    /// r0 at exit: 1 allows the access.
    func run(_ request: DeviceRequest) throws(EBPFError) -> UInt64 {
        var registers = [UInt64?](repeating: nil, count: 11)
        // r1 holds the context pointer until something overwrites it; loads through it read `request`.
        registers[1] = 0
        var contextIn1 = true
        var pc = 0
        func read(_ register: UInt8) throws(EBPFError) -> UInt64 {
            guard let value = registers[Int(register)] else { throw .uninitializedRegister(pc: pc, register: register) }
            return value
        }
        while pc < program.count {
            let i = program[pc]
            let immediate64 = UInt64(bitPattern: Int64(i.immediate))
            switch i.code {
            case 0x61:  // LDX | W | MEM
                guard i.source == 1, contextIn1, let word = request.word(at: i.offset) else {
                    throw .badContextLoad(pc: pc, offset: i.offset)
                }
                registers[Int(i.destination)] = UInt64(word)
            case 0x54:  // ALU32 AND K
                registers[Int(i.destination)] = UInt64(UInt32(truncatingIfNeeded: try read(i.destination)) & UInt32(bitPattern: i.immediate))
            case 0x74:  // ALU32 RSH K
                registers[Int(i.destination)] = UInt64(UInt32(truncatingIfNeeded: try read(i.destination)) >> UInt32(i.immediate & 31))
            case 0xbc:  // ALU32 MOV X
                registers[Int(i.destination)] = UInt64(UInt32(truncatingIfNeeded: try read(i.source)))
            case 0xb7:  // ALU64 MOV K
                registers[Int(i.destination)] = immediate64
            case 0x15, 0x55:  // JEQ K, JNE K
                let equal = try read(i.destination) == immediate64
                if equal == (i.code == 0x15) { pc += Int(i.offset) }
            case 0x95:
                return try read(0)
            default:
                throw .unknownInstruction(pc: pc, code: i.code)
            }
            if i.destination == 1 && i.code != 0x15 && i.code != 0x55 { contextIn1 = false }
            pc += 1
        }
        throw .fellOffTheEnd
    }
}
