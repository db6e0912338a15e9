import Glibc
import CLibseccomp
import OCI
@testable import Seccomp

/// The input of a seccomp filter, `struct seccomp_data`.
struct SeccompData {
    var nr: Int32
    var arch: UInt32
    var instructionPointer: UInt64 = 0
    var args: [UInt64] = [0, 0, 0, 0, 0, 0]

    /// The 32-bit word at `offset`, as BPF_LD|BPF_W|BPF_ABS reads it (little-endian halves).
    func word(at offset: UInt32) throws(InterpreterError) -> UInt32 {
        guard offset % 4 == 0, offset < 64 else { throw .badLoad(offset) }
        switch offset {
        case 0: return UInt32(bitPattern: nr)
        case 4: return arch
        case 8: return UInt32(truncatingIfNeeded: instructionPointer)
        case 12: return UInt32(truncatingIfNeeded: instructionPointer >> 32)
        default:
            let arg = args[Int(offset - 16) / 8]
            return offset % 8 == 0 ? UInt32(truncatingIfNeeded: arg) : UInt32(truncatingIfNeeded: arg >> 32)
        }
    }
}

enum InterpreterError: Error, Equatable {
    case badLoad(UInt32)
    case badInstruction(pc: Int, code: UInt16)
    case jumpOutOfRange(pc: Int)
    case fellOffTheEnd
    case divisionByZero(pc: Int)
}

/// A classic-BPF interpreter for the subset the kernel allows in seccomp filters: loads from
/// `seccomp_data` (word-aligned, absolute), the scratch memory, ALU, conditional and
/// unconditional forward jumps, and returns. It checks what the kernel's verifier checks
/// (jumps inside the program, no falling off the end), so a program it runs is one the
/// kernel would load.
struct BPFInterpreter {
    let program: [BPFInstruction]

    init(_ program: [BPFInstruction]) { self.program = program }
    init(_ program: SeccompProgram) { self.program = program.instructions }

    func run(_ data: SeccompData) throws(InterpreterError) -> UInt32 {
        var a: UInt32 = 0
        var x: UInt32 = 0
        var memory = [UInt32](repeating: 0, count: 16)
        var pc = 0
        while pc < program.count {
            let insn = program[pc]
            let code = insn.code
            pc += 1
            func jump(_ offset: Int) throws(InterpreterError) {
                pc += offset
                guard pc < program.count else { throw .jumpOutOfRange(pc: pc - offset - 1) }
            }
            switch code & 0x07 {
            case 0x00, 0x01:  // BPF_LD, BPF_LDX
                let value: UInt32
                switch code & 0xe0 {
                case 0x00: value = insn.k                               // BPF_IMM
                case 0x20:                                              // BPF_ABS
                    guard code & 0x18 == 0x00 else { throw .badInstruction(pc: pc - 1, code: code) }
                    value = try data.word(at: insn.k)
                case 0x60:                                              // BPF_MEM
                    guard insn.k < 16 else { throw .badInstruction(pc: pc - 1, code: code) }
                    value = memory[Int(insn.k)]
                case 0x80: value = 64                                   // BPF_LEN
                default: throw .badInstruction(pc: pc - 1, code: code)
                }
                if code & 0x07 == 0x00 { a = value } else { x = value }
            case 0x02, 0x03:  // BPF_ST, BPF_STX
                guard insn.k < 16 else { throw .badInstruction(pc: pc - 1, code: code) }
                memory[Int(insn.k)] = code & 0x07 == 0x02 ? a : x
            case 0x04:  // BPF_ALU
                let operand = code & 0x08 == 0 ? insn.k : x
                switch code & 0xf0 {
                case 0x00: a = a &+ operand
                case 0x10: a = a &- operand
                case 0x20: a = a &* operand
                case 0x30:
                    guard operand != 0 else { throw .divisionByZero(pc: pc - 1) }
                    a /= operand
                case 0x40: a |= operand
                case 0x50: a &= operand
                case 0x60: a = operand >= 32 ? 0 : a << operand
                case 0x70: a = operand >= 32 ? 0 : a >> operand
                case 0x80: a = 0 &- a
                case 0x90:
                    guard operand != 0 else { throw .divisionByZero(pc: pc - 1) }
                    a %= operand
                case 0xa0: a ^= operand
                default: throw .badInstruction(pc: pc - 1, code: code)
                }
            case 0x05:  // BPF_JMP
                let operand = code & 0x08 == 0 ? insn.k : x
                let taken: Bool
                switch code & 0xf0 {
                case 0x00:  // BPF_JA
                    try jump(Int(insn.k))
                    continue
                case 0x10: taken = a == operand
                case 0x20: taken = a > operand
                case 0x30: taken = a >= operand
                case 0x40: taken = a & operand != 0
                default: throw .badInstruction(pc: pc - 1, code: code)
                }
                try jump(Int(taken ? insn.jt : insn.jf))
            case 0x06:  // BPF_RET
                switch code & 0x18 {
                case 0x00: return insn.k
                case 0x10: return a
                default: throw .badInstruction(pc: pc - 1, code: code)
                }
            case 0x07:  // BPF_MISC
                switch code & 0xf8 {
                case 0x00: x = a   // TAX
                case 0x80: a = x   // TXA
                default: throw .badInstruction(pc: pc - 1, code: code)
                }
            default:
                throw .badInstruction(pc: pc - 1, code: code)
            }
        }
        throw .fellOffTheEnd
    }
}

/// Audit architecture values as they appear in `seccomp_data.arch`.
enum AuditArch {
    static let x86_64: UInt32 = 0xc000_003e
    static let i386: UInt32 = 0x4000_0003
    static let aarch64: UInt32 = 0xc000_00b7
    static let arm: UInt32 = 0x4000_0028
    /// x32 syscalls arrive as x86_64 with this bit set in the number.
    static let x32SyscallBit: Int32 = 0x4000_0000
}

/// Filter return values, for expectations.
enum Ret {
    static let allow: UInt32 = 0x7fff_0000
    static let killThread: UInt32 = 0
    static let killProcess: UInt32 = 0x8000_0000
    static let trap: UInt32 = 0x0003_0000
    static let log: UInt32 = 0x7ffc_0000
    static let notify: UInt32 = 0x7fc0_0000
    static func errno(_ value: UInt32) -> UInt32 { 0x0005_0000 | value }
    static func trace(_ value: UInt32) -> UInt32 { 0x7ff0_0000 | value }
    static let eperm = errno(1)
    static let enosys = errno(38)
}

/// An architecture the default profile covers on x86_64, with how a syscall of it arrives.
struct TestArch: CustomStringConvertible, Sendable {
    var name: String
    var libseccomp: SeccompArch
    var auditArch: UInt32

    static let x86_64 = TestArch(name: "x86_64", libseccomp: .x86_64, auditArch: AuditArch.x86_64)
    static let i386 = TestArch(name: "i386", libseccomp: .x86, auditArch: AuditArch.i386)
    static let x32 = TestArch(name: "x32", libseccomp: .x32, auditArch: AuditArch.x86_64)
    static let all = [x86_64, i386, x32]

    var description: String { name }

    /// The syscall number of `name` on this architecture (x32 numbers include the x32 bit),
    /// or nil when the architecture does not have it.
    /// (libseccomp resolves i386 socket calls to socketcall pseudo numbers, so this looks the
    /// name up in the table instead.)
    func number(_ syscall: String) -> Int32? {
        let nr = seccomp_syscall_resolve_name_arch(libseccomp.libseccompToken!, syscall)
        if nr >= 0 { return nr }
        return table.first { $0.name == syscall }?.nr
    }

    /// Every (number, name) libseccomp knows for this architecture.
    var table: [(nr: Int32, name: String)] {
        switch libseccomp {
        case .x86: Self.i386Table
        case .x32: Self.x32Table
        default: Self.x86_64Table
        }
    }

    private static let x86_64Table = TestArch.x86_64.computeTable()
    private static let i386Table = TestArch.i386.computeTable()
    private static let x32Table = TestArch.x32.computeTable()

    private func computeTable() -> [(nr: Int32, name: String)] {
        let base: Int32 = libseccomp == .x32 ? AuditArch.x32SyscallBit : 0
        var out: [(Int32, String)] = []
        for offset in Int32(0)..<1024 {
            guard let cName = seccomp_syscall_resolve_num_arch(libseccomp.libseccompToken!, base + offset) else { continue }
            out.append((base + offset, String(cString: cName)))
            free(cName)
        }
        return out
    }

    func data(_ nr: Int32, _ args: [UInt64] = []) -> SeccompData {
        SeccompData(nr: nr, arch: auditArch, args: args + Array(repeating: 0, count: 6 - args.count))
    }
}

extension BPFInterpreter {
    /// Runs the filter for syscall `name` on `arch` with `args`.
    func run(_ name: String, on arch: TestArch = .x86_64, _ args: [UInt64] = []) throws -> UInt32 {
        guard let nr = arch.number(name) else {
            struct NoSuchSyscall: Error { var name: String; var arch: String }
            throw NoSuchSyscall(name: name, arch: arch.name)
        }
        return try run(arch.data(nr, args))
    }
}

/// Creates a directory `prefix` + six random characters and returns its path.
func makeTemporaryDirectory(_ prefix: String) -> String? {
    var template = Array((prefix + "XXXXXX").utf8CString)
    return template.withUnsafeMutableBufferPointer { buffer -> String? in
        guard let path = mkdtemp(buffer.baseAddress!) else { return nil }
        return String(cString: path)
    }
}
