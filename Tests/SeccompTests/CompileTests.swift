import BerthCore
import CLibseccomp
import OCI
import Testing
@testable import Seccomp

/// A filter with one rule for getpid, under a default action.
private func compileGetpid(_ action: SeccompAction, errnoRet: UInt? = nil, defaultAction: SeccompAction = .errno,
                           listenerPath: String? = nil,
                           kernel: SeccompKernelSupport = .everything) throws -> SeccompProgram {
    try SeccompProgram.compile(LinuxSeccomp(defaultAction: defaultAction, listenerPath: listenerPath,
                                            syscalls: [LinuxSyscall(names: ["getpid"], action: action, errnoRet: errnoRet)]),
                               kernel: kernel)
}

/// The error `body` throws, or nil.
private func seccompError(_ body: () throws -> Void) -> BerthError? {
    do {
        try body()
        return nil
    } catch let error as BerthError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

@Suite struct ActionTests {
    @Test(arguments: [
        (SeccompAction.allow, nil as UInt?, Ret.allow),
        (.errno, nil, Ret.eperm),
        (.errno, 13, Ret.errno(13)),
        (.errno, 0, Ret.errno(0)),
        (.kill, nil, Ret.killThread),
        (.killThread, nil, Ret.killThread),
        (.killProcess, nil, Ret.killProcess),
        (.trap, nil, Ret.trap),
        (.trace, nil, Ret.trace(1)),
        (.trace, 4242, Ret.trace(4242)),
        (.log, nil, Ret.log),
    ])
    func everyActionCompilesToItsFilterReturn(action: SeccompAction, errnoRet: UInt?, expected: UInt32) throws {
        let program = try compileGetpid(action, errnoRet: errnoRet, defaultAction: .log)
        let filter = BPFInterpreter(program)
        #expect(try filter.run("getpid") == expected)
        #expect(try filter.run("getppid") == Ret.log)
        #expect(program.flags == [])
        #expect(program.warnings.isEmpty)
    }

    @Test(arguments: SeccompAction.allCases.filter { $0 != .notify })
    func everyActionWorksAsTheDefaultAction(action: SeccompAction) throws {
        let program = try SeccompProgram.compile(LinuxSeccomp(defaultAction: action), kernel: .everything)
        let expected: UInt32 = switch action {
        case .errno: Ret.eperm
        case .trace: Ret.trace(1)
        default: action.baseReturn
        }
        #expect(try BPFInterpreter(program).run("getpid") == expected)
    }

    @Test func unknownActionOperatorOrArchitectureFailsAtDecodingWithItsPath() {
        for (json, path) in [
            (#"{"defaultAction": "SCMP_ACT_ALOW"}"#, "defaultAction"),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQUAL"}]}]}"#,
             "syscalls[0].args[0].op"),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_VAX"]}"#, "architectures[1]"),
        ] {
            do {
                _ = try decodeJSON(LinuxSeccomp.self, from: json)
                Issue.record("decoded \(json)")
            } catch {
                #expect(error.path == path)
            }
        }
    }

    @Test func notifyRequestsAListener() throws {
        let program = try compileGetpid(.notify, listenerPath: "/run/agent.sock")
        #expect(try BPFInterpreter(program).run("getpid") == Ret.notify)
        #expect(program.needsListener)
        #expect(program.flags == [.newListener])
    }

    @Test func notifyWithoutListenerPathIsRejected() {
        let error = seccompError { _ = try compileGetpid(.notify) }
        #expect(error?.path == "linux.seccomp.listenerPath")
        #expect(error?.description.contains("linux.seccomp.syscalls[0].action") == true)
    }

    /// runc refuses it the same way: the agent could be waiting for the very write it holds.
    @Test func notifyOnWriteIsRejectedInRuncsWords() {
        let error = seccompError {
            _ = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .allow, listenerPath: "/x",
                                                        syscalls: [LinuxSyscall(names: ["read", "write"], action: .notify)]), kernel: .everything)
        }
        #expect(error?.code == .invalidConfig)
        #expect(error?.description == "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the write syscall")
    }

    @Test func notifyAsDefaultActionIsRejected() {
        let error = seccompError {
            _ = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .notify, listenerPath: "/x"), kernel: .everything)
        }
        #expect(error?.code == .invalidConfig)
        #expect(error?.path == "linux.seccomp.defaultAction")
    }

    @Test func defaultErrnoRetDefaultsToEPERMAndIsUsedWhenSet() throws {
        let plain = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .errno), kernel: .everything)
        #expect(try BPFInterpreter(plain).run("getpid") == Ret.eperm)
        let enosys = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .errno, defaultErrnoRet: 38), kernel: .everything)
        #expect(try BPFInterpreter(enosys).run("getpid") == Ret.enosys)
    }

    @Test func errnoRetOutOfRangeIsRejectedWithItsPath() {
        let error = seccompError { _ = try compileGetpid(.errno, errnoRet: 4096) }
        #expect(error?.description == "linux.seccomp.syscalls[0].errnoRet: 4096 is out of range 0-4095 for SCMP_ACT_ERRNO")
        let trace = seccompError { _ = try compileGetpid(.trace, errnoRet: 65536) }
        #expect(trace?.path == "linux.seccomp.syscalls[0].errnoRet")
        let defaultError = seccompError {
            _ = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .errno, defaultErrnoRet: 70000), kernel: .everything)
        }
        #expect(defaultError?.path == "linux.seccomp.defaultErrnoRet")
    }

    @Test func errnoRetOnAnActionWithoutDataIsRejected() {
        let error = seccompError { _ = try compileGetpid(.allow, errnoRet: 1) }
        #expect(error?.code == .invalidConfig)
        #expect(error?.path == "linux.seccomp.syscalls[0].errnoRet")
    }

    @Test func actionTheKernelLacksIsRejectedWithItsPath() {
        let old = SeccompKernelSupport.fromAPILevel(2, kernelRelease: (4, 9))
        let error = seccompError { _ = try compileGetpid(.killProcess, kernel: old) }
        #expect(error?.code == .unsupported)
        #expect(error?.description == "linux.seccomp.syscalls[0].action: SCMP_ACT_KILL_PROCESS is not supported by this kernel")
        let defaultError = seccompError {
            _ = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .log), kernel: old)
        }
        #expect(defaultError?.path == "linux.seccomp.defaultAction")
    }

    @Test func ruleWithTheDefaultActionIsDropped() throws {
        // libseccomp refuses such a rule (EACCES); runc drops it, and so does berth.
        let program = try SeccompProgram.compile(
            LinuxSeccomp(defaultAction: .errno, defaultErrnoRet: 38,
                         syscalls: [LinuxSyscall(names: ["getpid"], action: .errno, errnoRet: 38),
                                    LinuxSyscall(names: ["getppid"], action: .errno)]),
            kernel: .everything)
        let filter = BPFInterpreter(program)
        #expect(try filter.run("getpid") == Ret.enosys)
        #expect(try filter.run("getppid") == Ret.eperm)
        #expect(program.warnings.isEmpty)
    }
}

@Suite struct OperatorTests {
    /// `write` allowed when arg 2 (the count) compares with 10 (or 0x5_0000_000a) as `op`.
    private func filter(_ op: SeccompOperator, _ value: UInt64, _ valueTwo: UInt64? = nil) throws -> BPFInterpreter {
        let rule = LinuxSyscall(names: ["write"], action: .allow,
                                args: [LinuxSeccompArg(index: 2, value: value, valueTwo: valueTwo, op: op)])
        return BPFInterpreter(try SeccompProgram.compile(LinuxSeccomp(defaultAction: .errno, syscalls: [rule]),
                                                         kernel: .everything))
    }

    @Test(arguments: [
        (SeccompOperator.notEqual, [(9, true), (10, false), (11, true), (0x1_0000_000a, true)]),
        (.lessThan, [(9, true), (10, false), (11, false), (0x1_0000_0000, false)]),
        (.lessEqual, [(9, true), (10, true), (11, false), (0x1_0000_0009, false)]),
        (.equalTo, [(9, false), (10, true), (11, false), (0x1_0000_000a, false)]),
        (.greaterEqual, [(9, false), (10, true), (11, true), (0x1_0000_0000, true)]),
        (.greaterThan, [(9, false), (10, false), (11, true), (0xffff_ffff_ffff_ffff, true)]),
    ] as [(SeccompOperator, [(UInt64, Bool)])])
    func everyComparisonOperatorComparesAll64Bits(op: SeccompOperator, cases: [(UInt64, Bool)]) throws {
        let filter = try filter(op, 10)
        for (value, allowed) in cases {
            #expect(try filter.run("write", on: .x86_64, [1, 0, value]) == (allowed ? Ret.allow : Ret.eperm),
                    "\(op.rawValue) 10 with \(value)")
        }
    }

    @Test func maskedEqualTakesTheMaskFromValueAndTheOperandFromValueTwo() throws {
        let filter = try filter(.maskedEqual, 0x0f0, 0x030)
        #expect(try filter.run("write", on: .x86_64, [0, 0, 0x030]) == Ret.allow)
        #expect(try filter.run("write", on: .x86_64, [0, 0, 0xf3f]) == Ret.allow)
        #expect(try filter.run("write", on: .x86_64, [0, 0, 0x070]) == Ret.eperm)
        #expect(try filter.run("write", on: .x86_64, [0, 0, 0]) == Ret.eperm)
    }

    @Test func highWordIsComparedOn64BitArchitectures() throws {
        let filter = try filter(.equalTo, 0x5_0000_000a)
        #expect(try filter.run("write", on: .x86_64, [0, 0, 0x5_0000_000a]) == Ret.allow)
        #expect(try filter.run("write", on: .x86_64, [0, 0, 0x000a]) == Ret.eperm)
    }

    @Test func argsOfDifferentIndexesMustAllMatch() throws {
        let rule = LinuxSyscall(names: ["write"], action: .allow, args: [
            LinuxSeccompArg(index: 0, value: 1, op: .equalTo),
            LinuxSeccompArg(index: 2, value: 100, op: .lessThan),
        ])
        let filter = BPFInterpreter(try SeccompProgram.compile(LinuxSeccomp(defaultAction: .errno, syscalls: [rule]),
                                                               kernel: .everything))
        #expect(try filter.run("write", on: .x86_64, [1, 0, 99]) == Ret.allow)
        #expect(try filter.run("write", on: .x86_64, [2, 0, 99]) == Ret.eperm)
        #expect(try filter.run("write", on: .x86_64, [1, 0, 100]) == Ret.eperm)
    }

    @Test func argsRepeatingAnIndexBecomeSeparateRulesAsInRunc() throws {
        // libseccomp cannot AND two comparisons of one argument (EINVAL); runc then adds each
        // comparison as a rule of its own, so they are ORed.
        let rule = LinuxSyscall(names: ["personality"], action: .allow, args: [
            LinuxSeccompArg(index: 0, value: 0, op: .equalTo),
            LinuxSeccompArg(index: 0, value: 8, op: .equalTo),
        ])
        let filter = BPFInterpreter(try SeccompProgram.compile(LinuxSeccomp(defaultAction: .errno, syscalls: [rule]),
                                                               kernel: .everything))
        #expect(try filter.run("personality", on: .x86_64, [0]) == Ret.allow)
        #expect(try filter.run("personality", on: .x86_64, [8]) == Ret.allow)
        #expect(try filter.run("personality", on: .x86_64, [4]) == Ret.eperm)
    }

    @Test func argumentIndex6IsRejectedWithItsPath() {
        let rule = LinuxSyscall(names: ["write"], action: .allow, args: [
            LinuxSeccompArg(index: 1, value: 0, op: .equalTo),
            LinuxSeccompArg(index: 6, value: 0, op: .equalTo),
        ])
        let error = seccompError {
            _ = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .errno, syscalls: [LinuxSyscall(names: ["read"]), rule]),
                                           kernel: .everything)
        }
        #expect(error?.description == "linux.seccomp.syscalls[1].args[1].index: argument index 6 is out of range 0-5")
        #expect(error?.code == .invalidConfig)
    }
}

@Suite struct ArchitectureTests {
    @Test func everyArchitectureLibseccompKnowsMapsToItsToken() {
        for arch in SeccompArch.allCases where arch != .loongarch64 {
            #expect(arch.libseccompToken != nil, "\(arch.rawValue) as \(arch.libseccompName)")
        }
        #expect(SeccompArch.x86_64.libseccompToken == AuditArch.x86_64)
        #expect(SeccompArch.x86.libseccompToken == AuditArch.i386)
        #expect(SeccompArch.aarch64.libseccompToken == AuditArch.aarch64)
        #expect(SeccompArch.mipsel64n32.libseccompName == "mipsel64n32")
        #expect(SeccompArch.ppc64le.libseccompName == "ppc64le")
    }

    @Test func listedArchitecturesAreFilteredAndOthersKilled() throws {
        let program = try SeccompProgram.compile(
            LinuxSeccomp(defaultAction: .errno, architectures: [.x86, .arm],
                         syscalls: [LinuxSyscall(names: ["getpid"], action: .allow)]),
            kernel: .everything)
        let filter = BPFInterpreter(program)
        let armGetpid = seccomp_syscall_resolve_name_arch(SeccompArch.arm.libseccompToken!, "getpid")
        #expect(try filter.run(SeccompData(nr: armGetpid, arch: AuditArch.arm)) == Ret.allow)
        #expect(try filter.run("getpid", on: .i386) == Ret.allow)
        // The native architecture is always in the filter.
        #expect(try filter.run("getpid", on: .x86_64) == Ret.allow)
        #expect(try filter.run("getppid", on: .x86_64) == Ret.eperm)
        // Unlisted architectures get libseccomp's bad-architecture action, KILL.
        #expect(try filter.run(SeccompData(nr: 172, arch: AuditArch.aarch64)) == Ret.killThread)
        // x32 is not listed: x86_64 numbers with the x32 bit are killed.
        #expect(try filter.run(SeccompData(nr: AuditArch.x32SyscallBit | 39, arch: AuditArch.x86_64)) == Ret.killThread)
    }

    @Test func listingTheNativeArchitectureIsHarmless() throws {
        let program = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .allow, architectures: [.x86_64, .x86_64]),
                                                 kernel: .everything)
        #expect(try BPFInterpreter(program).run("getpid") == Ret.allow)
    }

    @Test func architectureLibseccompDoesNotKnowIsRejectedWithItsPath() throws {
        try #require(SeccompArch.loongarch64.libseccompToken == nil, "this libseccomp knows loongarch64")
        let error = seccompError {
            _ = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .allow, architectures: [.x86, .loongarch64]),
                                           kernel: .everything)
        }
        #expect(error?.code == .unsupported)
        #expect(error?.path == "linux.seccomp.architectures[1]")
        #expect(error?.message.hasPrefix("SCMP_ARCH_LOONGARCH64 is not supported by libseccomp 2.") == true)
    }
}

@Suite struct FlagTests {
    @Test func flagsBecomeSeccompFilterFlags() throws {
        let program = try SeccompProgram.compile(
            LinuxSeccomp(defaultAction: .allow, flags: [.tsync, .log, .specAllow]), kernel: .everything)
        #expect(program.flags == [.tsync, .log, .specAllow])
        #expect(program.flags.rawValue == 0b111)
        #expect(!program.needsListener)
    }

    @Test(arguments: SeccompFlag.allCases)
    func flagTheKernelLacksIsRejectedWithItsPath(flag: SeccompFlag) {
        var kernel = SeccompKernelSupport.everything
        kernel.flags.remove(flag)
        let error = seccompError {
            _ = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .allow, flags: flag == .tsync ? [flag] : [.tsync, flag]),
                                           kernel: kernel)
        }
        #expect(error?.code == .unsupported)
        let index = flag == .tsync ? 0 : 1
        #expect(error?.description == "linux.seccomp.flags[\(index)]: \(flag.rawValue) is not supported by this kernel")
    }

    @Test func waitKillableRecvWithoutNotifyIsDroppedWithAWarning() throws {
        let program = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .allow, flags: [.waitKillableRecv]),
                                                 kernel: .everything)
        #expect(program.flags == [])
        #expect(program.warnings == ["linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored: no rule uses SCMP_ACT_NOTIFY"])
    }

    @Test func waitKillableRecvIsKeptWithNotify() throws {
        let program = try SeccompProgram.compile(
            LinuxSeccomp(defaultAction: .allow, flags: [.waitKillableRecv], listenerPath: "/a",
                         syscalls: [LinuxSyscall(names: ["mkdir"], action: .notify)]), kernel: .everything)
        #expect(program.flags == [.waitKillableRecv, .newListener])
    }

    @Test func tsyncWithNotifyAddsTsyncESRCH() throws {
        let seccomp = LinuxSeccomp(defaultAction: .allow, flags: [.tsync], listenerPath: "/a",
                                   syscalls: [LinuxSyscall(names: ["mkdir"], action: .notify)])
        let program = try SeccompProgram.compile(seccomp, kernel: .everything)
        #expect(program.flags == [.tsync, .newListener, .tsyncESRCH])

        var kernel = SeccompKernelSupport.everything
        kernel.tsyncWithListener = false
        let error = seccompError { _ = try SeccompProgram.compile(seccomp, kernel: kernel) }
        #expect(error?.code == .unsupported)
        #expect(error?.path == "linux.seccomp.flags")
    }
}

@Suite struct SyscallListTests {
    @Test func unknownSyscallNameIsSkippedWithAWarning() throws {
        let program = try SeccompProgram.compile(
            LinuxSeccomp(defaultAction: .errno, syscalls: [
                LinuxSyscall(names: ["getpid"], action: .allow),
                LinuxSyscall(names: ["no_such_syscall", "getppid"], action: .allow),
            ]), kernel: .everything)
        #expect(program.warnings.count == 1)
        #expect(program.warnings.first?.hasPrefix(
            "linux.seccomp.syscalls[1].names[0]: unknown syscall \"no_such_syscall\" skipped (libseccomp 2.") == true)
        let filter = BPFInterpreter(program)
        #expect(try filter.run("getpid") == Ret.allow)
        #expect(try filter.run("getppid") == Ret.allow)
    }

    @Test func ruleWithoutNamesIsRejected() {
        let error = seccompError {
            _ = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .errno, syscalls: [LinuxSyscall(names: [], action: .allow)]),
                                           kernel: .everything)
        }
        #expect(error?.path == "linux.seccomp.syscalls[0].names")
    }

    @Test func emptyOrAbsentSyscallListGivesTheDefaultActionForEverySyscall() throws {
        for syscalls in [nil, []] as [[LinuxSyscall]?] {
            let program = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .errno, defaultErrnoRet: 38,
                                                                  syscalls: syscalls), kernel: .everything)
            let filter = BPFInterpreter(program)
            for name in ["read", "getpid", "mount", "exit_group"] {
                #expect(try filter.run(name) == Ret.enosys)
            }
            #expect(try filter.run(SeccompData(nr: 999, arch: AuditArch.x86_64)) == Ret.enosys)
        }
    }

    @Test func filterLargerThanTheKernelAcceptsIsRejected() {
        // One rule per write(fd) value: more than 4096 instructions.
        let rules = (0..<5000).map {
            LinuxSyscall(names: ["write"], action: .allow, args: [LinuxSeccompArg(index: 0, value: UInt64($0), op: .equalTo)])
        }
        let error = seccompError {
            _ = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .errno, architectures: [.x86_64], syscalls: rules),
                                           kernel: .everything)
        }
        #expect(error?.code == .invalidConfig)
        #expect(error?.path == "linux.seccomp")
        #expect(error?.message.contains("the kernel accepts at most 4096") == true)
    }

    @Test func defaultActionAloneAllowsEverything() throws {
        let program = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .allow), kernel: .everything)
        #expect(try BPFInterpreter(program).run("mount") == Ret.allow)
        #expect(program.instructions.count < 16)
        #expect(program.flags == [])
        #expect(program.warnings.isEmpty)
    }

    @Test func syscallsOfOtherArchitecturesResolveThroughLibseccomp() throws {
        // socketcall exists on i386 only; on x86_64 libseccomp gives it a pseudo number.
        let program = try SeccompProgram.compile(
            LinuxSeccomp(defaultAction: .errno, architectures: [.x86],
                         syscalls: [LinuxSyscall(names: ["socketcall"], action: .allow)]), kernel: .everything)
        #expect(program.warnings.isEmpty)
        #expect(try BPFInterpreter(program).run("socketcall", on: .i386) == Ret.allow)
    }
}

@Suite struct ProgramTests {
    @Test func instructionLayoutMatchesStructSockFilter() {
        #expect(MemoryLayout<BPFInstruction>.size == 8)
        #expect(MemoryLayout<BPFInstruction>.stride == 8)
        #expect(MemoryLayout<BPFInstruction>.offset(of: \.code) == 0)
        #expect(MemoryLayout<BPFInstruction>.offset(of: \.jt) == 2)
        #expect(MemoryLayout<BPFInstruction>.offset(of: \.jf) == 3)
        #expect(MemoryLayout<BPFInstruction>.offset(of: \.k) == 4)
        #expect(MemoryLayout<SockFprog>.size == 16)
        #expect(MemoryLayout<SockFprog>.offset(of: \.filter) == 8)
    }

    @Test func bytesRoundTripThroughInstructions() throws {
        let program = try SeccompProgram.compile(Spec.defaultSeccomp(), kernel: .everything)
        let bytes = program.bytes
        #expect(bytes.count == program.instructions.count * 8)
        #expect(SeccompProgram.instructions(fromBytes: bytes) == program.instructions)
        #expect(SeccompProgram.instructions(fromBytes: [1, 2, 3]) == nil)
        let memory = program.instructions.withUnsafeBytes { Array($0) }
        #expect(memory == bytes)
    }
}
