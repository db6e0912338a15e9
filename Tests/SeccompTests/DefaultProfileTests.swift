import OCI
import Testing
@testable import Seccomp

/// The default profile, compiled once and checked by running the BPF through
/// ``BPFInterpreter`` for each architecture the profile covers.
@Suite struct DefaultProfileTests {
    static let profile = Spec.defaultSeccomp()
    static let program = try! SeccompProgram.compile(profile, kernel: .everything)
    let filter = BPFInterpreter(DefaultProfileTests.program)

    // Namespace and mode bits the tests pass as arguments.
    static let cloneNewNS: UInt64 = 0x0002_0000
    static let cloneNewUser: UInt64 = 0x1000_0000
    static let cloneNewNet: UInt64 = 0x4000_0000
    static let cloneNewPID: UInt64 = 0x2000_0000
    static let cloneNewTime: UInt64 = 0x80
    static let cloneFiles: UInt64 = 0x400
    static let cloneFS: UInt64 = 0x200
    static let sigchld: UInt64 = 17
    /// What glibc's pthread_create passes to clone.
    static let threadFlags: UInt64 = 0x003d_0f00

    /// Names of the rules without arguments, by action.
    static func unconditionalNames(_ action: SeccompAction, errnoRet: UInt? = nil) -> Set<String> {
        Set(profile.syscalls!.filter { $0.action == action && $0.errnoRet == errnoRet && $0.args == nil }
            .flatMap(\.names))
    }

    static var conditionalNames: Set<String> {
        Set(profile.syscalls!.filter { $0.args != nil }.flatMap(\.names))
    }

    @Test func compilesWithoutWarningsOrFlags() {
        #expect(Self.program.warnings == [])
        #expect(Self.program.flags == [])
        #expect(Self.program.instructions.count <= SeccompProgram.maxInstructions)
    }

    @Test func isErrnoENOSYSByDefaultForX86Architectures() {
        #expect(Self.profile.defaultAction == .errno)
        #expect(Self.profile.defaultErrnoRet == 38)
        #expect(Self.profile.architectures == [.x86_64, .x86, .x32])
    }

    @Test func surviveAJSONRoundTrip() throws {
        let json = try encodeJSON(Self.profile, pretty: true)
        #expect(try decodeJSON(LinuxSeccomp.self, from: json) == Self.profile)
    }

    @Test func noSyscallIsBothAllowedAndDenied() {
        let allowed = Self.unconditionalNames(.allow)
        let denied = Self.unconditionalNames(.errno, errnoRet: 1)
        #expect(allowed.intersection(denied).isEmpty)
        #expect(allowed.intersection(Self.conditionalNames).isEmpty)
        #expect(denied.intersection(Self.conditionalNames).isEmpty)
    }

    /// Every syscall number libseccomp knows, on every architecture, with zero arguments:
    /// allowed names ALLOW, denied names EPERM, all others ENOSYS.
    @Test(arguments: TestArch.all)
    func everyKnownSyscallGetsTheActionOfItsGroup(arch: TestArch) throws {
        let allowed = Self.unconditionalNames(.allow)
        let denied = Self.unconditionalNames(.errno, errnoRet: 1)
        let conditional = Self.conditionalNames
        var checked = 0
        for (nr, name) in arch.table where !conditional.contains(name) {
            let expected = allowed.contains(name) ? Ret.allow : denied.contains(name) ? Ret.eperm : Ret.enosys
            let got = try filter.run(arch.data(nr))
            #expect(got == expected, "\(arch) \(name) (\(nr)): got 0x\(String(got, radix: 16))")
            checked += 1
        }
        #expect(checked > 300)
    }

    @Test(arguments: TestArch.all)
    func ordinarySyscallsAreAllowed(arch: TestArch) throws {
        for name in ["read", "write", "close", "execve", "exit_group", "futex", "mmap", "rt_sigaction",
                     "clock_gettime", "epoll_wait", "getrandom", "sendmsg"] {
            #expect(try filter.run(name, on: arch) == Ret.allow, "\(arch) \(name)")
        }
        let open = arch.libseccomp == .x86 ? "open" : "openat"
        #expect(try filter.run(open, on: arch) == Ret.allow)
    }

    @Test(arguments: TestArch.all)
    func dangerousSyscallsFailWithEPERM(arch: TestArch) throws {
        for name in ["mount", "umount2", "pivot_root", "setns", "keyctl", "add_key", "request_key", "bpf",
                     "ptrace", "process_vm_readv", "process_vm_writev", "kexec_load", "open_by_handle_at",
                     "reboot", "init_module", "finit_module", "delete_module", "swapon", "swapoff", "acct",
                     "settimeofday", "clock_settime", "perf_event_open", "userfaultfd", "quotactl", "syslog",
                     "vhangup", "fsopen", "fsmount", "move_mount", "open_tree", "mount_setattr",
                     "io_uring_setup", "io_uring_enter", "io_uring_register"] {
            guard arch.number(name) != nil else { continue }
            #expect(try filter.run(name, on: arch) == Ret.eperm, "\(arch) \(name)")
        }
    }

    @Test func x86OnlyDangerousSyscallsFailWithEPERM() throws {
        #expect(try filter.run("iopl") == Ret.eperm)
        #expect(try filter.run("ioperm") == Ret.eperm)
        #expect(try filter.run("modify_ldt") == Ret.eperm)
        #expect(try filter.run("vm86", on: .i386) == Ret.eperm)
        #expect(try filter.run("umount", on: .i386) == Ret.eperm)
        #expect(try filter.run("stime", on: .i386) == Ret.eperm)
    }

    @Test(arguments: TestArch.all)
    func clone3ReturnsENOSYSSoGlibcFallsBackToClone(arch: TestArch) throws {
        #expect(try filter.run("clone3", on: arch, [0x1000, 88]) == Ret.enosys)
    }

    @Test(arguments: TestArch.all)
    func unknownSyscallNumbersReturnENOSYS(arch: TestArch) throws {
        let base: Int32 = arch.libseccomp == .x32 ? AuditArch.x32SyscallBit : 0
        for nr in [999, 4000, 0x3fff_ffff - 1] as [Int32] {
            #expect(try filter.run(arch.data(base | nr)) == Ret.enosys, "\(arch) \(nr)")
        }
    }

    @Test func unlistedArchitecturesAreKilled() throws {
        #expect(try filter.run(SeccompData(nr: 0, arch: AuditArch.aarch64)) == Ret.killThread)
        #expect(try filter.run(SeccompData(nr: 0, arch: AuditArch.arm)) == Ret.killThread)
    }

    @Test(arguments: TestArch.all)
    func cloneIsAllowedWithoutNamespaceFlags(arch: TestArch) throws {
        #expect(try filter.run("clone", on: arch, [Self.threadFlags]) == Ret.allow)
        #expect(try filter.run("clone", on: arch, [Self.sigchld]) == Ret.allow)
        #expect(try filter.run("fork", on: arch) == Ret.allow)
        #expect(try filter.run("vfork", on: arch) == Ret.allow)
    }

    @Test(arguments: TestArch.all)
    func cloneWithAnyNamespaceFlagFailsWithEPERM(arch: TestArch) throws {
        for flag: UInt64 in [0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000] {
            #expect(try filter.run("clone", on: arch, [flag | Self.sigchld]) == Ret.eperm, "\(arch) 0x\(String(flag, radix: 16))")
        }
        #expect(try filter.run("clone", on: arch, [Self.cloneNewUser | Self.cloneNewNS | Self.cloneNewPID | Self.sigchld]) == Ret.eperm)
        // Garbage in the upper half (which the kernel ignores) changes nothing.
        #expect(try filter.run("clone", on: arch, [0xffff_ffff_0000_0000 | Self.cloneNewUser]) == Ret.eperm)
    }

    @Test(arguments: TestArch.all)
    func unshareOfNamespacesFailsWithEPERM(arch: TestArch) throws {
        #expect(try filter.run("unshare", on: arch, [Self.cloneNewUser]) == Ret.eperm)
        #expect(try filter.run("unshare", on: arch, [Self.cloneNewNS]) == Ret.eperm)
        #expect(try filter.run("unshare", on: arch, [Self.cloneNewNet | Self.cloneFS]) == Ret.eperm)
        #expect(try filter.run("unshare", on: arch, [Self.cloneNewTime]) == Ret.eperm)
        #expect(try filter.run("unshare", on: arch, [0x1_0000_0000 | Self.cloneNewUser]) == Ret.eperm)
    }

    @Test(arguments: TestArch.all)
    func unshareOfFilesAndFsIsAllowed(arch: TestArch) throws {
        #expect(try filter.run("unshare", on: arch, [Self.cloneFiles]) == Ret.allow)
        #expect(try filter.run("unshare", on: arch, [Self.cloneFiles | Self.cloneFS]) == Ret.allow)
        #expect(try filter.run("unshare", on: arch, [0]) == Ret.allow)
    }

    @Test(arguments: TestArch.all)
    func personalityIsLimitedToLinuxPersonas(arch: TestArch) throws {
        for persona: UInt64 in [0, 8, 0x2_0000, 0x2_0008, 0xffff_ffff] {
            #expect(try filter.run("personality", on: arch, [persona]) == Ret.allow, "\(arch) 0x\(String(persona, radix: 16))")
        }
        // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, PER_BSD: not in the list, so the default action.
        for persona: UInt64 in [0x4_0000, 0x40_0000, 0x6] {
            #expect(try filter.run("personality", on: arch, [persona]) == Ret.enosys, "\(arch) 0x\(String(persona, radix: 16))")
        }
    }

    @Test(arguments: TestArch.all)
    func mknodCreatesFilesFifosSocketsAndWhiteoutsButNotDevices(arch: TestArch) throws {
        let regular: UInt64 = 0o100644, fifo: UInt64 = 0o010644, socket: UInt64 = 0o140755
        let char: UInt64 = 0o020666, block: UInt64 = 0o060660
        let null: UInt64 = (1 << 8) | 3, sda: UInt64 = 8 << 8
        func mknod(_ mode: UInt64, _ dev: UInt64) throws -> UInt32 {
            try filter.run("mknodat", on: arch, [UInt64(bitPattern: -100), 0x1000, mode, dev])
        }
        #expect(try mknod(regular, 0) == Ret.allow)
        #expect(try mknod(0o644, 0) == Ret.allow)  // no type: a regular file
        #expect(try mknod(fifo, 0) == Ret.allow)
        #expect(try mknod(socket, 0) == Ret.allow)
        #expect(try mknod(char, 0) == Ret.allow)  // overlayfs whiteout
        #expect(try mknod(char, null) == Ret.eperm)
        #expect(try mknod(block, sda) == Ret.eperm)
        #expect(try mknod(block, 0) == Ret.eperm)
        if arch.number("mknod") != nil {
            #expect(try filter.run("mknod", on: arch, [0x1000, fifo, 0]) == Ret.allow)
            #expect(try filter.run("mknod", on: arch, [0x1000, char, null]) == Ret.eperm)
            #expect(try filter.run("mknod", on: arch, [0x1000, block, sda]) == Ret.eperm)
        }
    }

    @Test func i386SocketcallAndIpcAreAllowed() throws {
        #expect(try filter.run("socketcall", on: .i386, [1]) == Ret.allow)
        #expect(try filter.run("ipc", on: .i386, [23]) == Ret.allow)
        #expect(try filter.run("mmap2", on: .i386) == Ret.allow)
        #expect(try filter.run("_llseek", on: .i386) == Ret.allow)
    }

    /// Counts for the documentation: how many names each group has.
    @Test func groupSizes() {
        let allowed = Self.unconditionalNames(.allow)
        let denied = Self.unconditionalNames(.errno, errnoRet: 1)
        let conditional = Self.conditionalNames
        print("default profile: \(allowed.count) names allowed, \(denied.count) denied with EPERM, \(conditional.count) conditional (\(conditional.sorted().joined(separator: ", "))), \(Self.profile.syscalls!.count) rules, \(Self.program.instructions.count) BPF instructions")
        #expect(allowed.count > 250)
        #expect(denied.count > 40)
    }

    @Test func compileTime() throws {
        let clock = ContinuousClock()
        let runs = 20
        var best = Duration.seconds(1000)
        var total = Duration.zero
        for _ in 0..<runs {
            let start = clock.now
            _ = try SeccompProgram.compile(Self.profile)
            let elapsed = clock.now - start
            total += elapsed
            best = min(best, elapsed)
        }
        print("default profile compile: best \(best), mean \(total / runs)")
        #expect(best < .milliseconds(500))
    }
}
