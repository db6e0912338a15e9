import BerthCore
import Glibc
import OCI
import Testing
@testable import Seccomp

// Swift cannot call variadic C functions. On x86_64 and arm64 Linux, integer and pointer
// arguments of a variadic call are passed exactly like those of a fixed one, and glibc's
// syscall() is an assembly stub that just moves registers, so binding a fixed signature to
// the symbol works. Tests only; the runtime uses CShim's berth_seccomp.
@_silgen_name("syscall")
private func rawSyscall(_ number: Int, _ a1: Int, _ a2: Int, _ a3: Int, _ a4: Int, _ a5: Int) -> Int

@_silgen_name("prctl")
private func rawPrctl(_ option: Int32, _ arg2: UInt, _ arg3: UInt, _ arg4: UInt, _ arg5: UInt) -> Int32

#if arch(x86_64)
private let nrSeccomp = 317
#elseif arch(arm64)
private let nrSeccomp = 277
#endif

/// seccomp(2) through the raw syscall, in the shape `load(using:)` and `probe(using:)` take.
private func testSeccomp(_ op: UInt32, _ flags: UInt32, _ args: UnsafeMutableRawPointer?) -> Int32 {
    Int32(truncatingIfNeeded: rawSyscall(nrSeccomp, Int(op), Int(flags), Int(bitPattern: args), 0, 0))
}

@Suite struct LoadTests {
    /// What a fake seccomp(2) saw.
    final class Recorder: @unchecked Sendable {
        var operation: UInt32 = 0
        var flags: UInt32 = 0
        var length: UInt16 = 0
        var bytes: [UInt8] = []
    }

    private func record(_ program: SeccompProgram, returning result: Int32, errno code: Int32 = 0)
        -> (Recorder, Result<Int32?, BerthError>) {
        let recorder = Recorder()
        let outcome = Result { () throws(BerthError) -> Int32? in
            try program.load { op, flags, args in
                recorder.operation = op
                recorder.flags = flags
                let raw = UnsafeRawPointer(args!)
                recorder.length = raw.load(as: UInt16.self)
                let filter = raw.load(fromByteOffset: 8, as: UnsafeRawPointer.self)
                recorder.bytes = Array(UnsafeRawBufferPointer(start: filter, count: Int(recorder.length) * 8))
                errno = code
                return result
            }
        }
        return (recorder, outcome)
    }

    @Test func loadPassesSockFprogAndFlagsToSetModeFilter() throws {
        let program = try SeccompProgram.compile(
            LinuxSeccomp(defaultAction: .errno, flags: [.log, .specAllow],
                         syscalls: [LinuxSyscall(names: ["read"], action: .allow)]), kernel: .everything)
        let (recorder, outcome) = record(program, returning: 0)
        #expect(try outcome.get() == nil)
        #expect(recorder.operation == 1)  // SECCOMP_SET_MODE_FILTER
        #expect(recorder.flags == 0b110)
        #expect(Int(recorder.length) == program.instructions.count)
        #expect(recorder.bytes == program.bytes)
    }

    @Test func loadReturnsTheListenerWhenARuleNotifies() throws {
        let program = try SeccompProgram.compile(
            LinuxSeccomp(defaultAction: .allow, flags: [.tsync], listenerPath: "/run/agent.sock",
                         syscalls: [LinuxSyscall(names: ["mkdir"], action: .notify)]), kernel: .everything)
        let (recorder, outcome) = record(program, returning: 7)
        #expect(try outcome.get() == 7)
        #expect(recorder.flags == 0b11001)  // TSYNC | NEW_LISTENER | TSYNC_ESRCH
    }

    @Test func permissionDeniedExplainsNoNewPrivileges() throws {
        let program = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .allow), kernel: .everything)
        let (_, outcome) = record(program, returning: -1, errno: EACCES)
        guard case .failure(let error) = outcome else { Issue.record("load succeeded"); return }
        #expect(error.code == .system)
        #expect(error.errno == EACCES)
        #expect(error.description.contains("no_new_privs"))
    }

    @Test func tsyncFailureReportedAsAThreadIdIsAnError() throws {
        let program = try SeccompProgram.compile(LinuxSeccomp(defaultAction: .allow, flags: [.tsync]), kernel: .everything)
        let (_, outcome) = record(program, returning: 4242)
        guard case .failure(let error) = outcome else { Issue.record("load succeeded"); return }
        #expect(error.description.contains("thread 4242"))
    }

    @Test func emptyOrOversizedProgramIsRefusedBeforeTheSyscall() {
        for count in [0, SeccompProgram.maxInstructions + 1] {
            let program = SeccompProgram(instructions: Array(repeating: BPFInstruction(code: 6, jt: 0, jf: 0, k: 0), count: count))
            let (recorder, outcome) = record(program, returning: 0)
            guard case .failure(let error) = outcome else { Issue.record("load succeeded"); continue }
            #expect(error.code == .invalidConfig)
            #expect(recorder.operation == 0)
        }
    }
}

@Suite struct KernelSupportTests {
    @Test func releaseParsing() {
        #expect(SeccompKernelSupport.parseRelease("6.1.0-18-amd64")! == (6, 1))
        #expect(SeccompKernelSupport.parseRelease("5.19.0")! == (5, 19))
        #expect(SeccompKernelSupport.parseRelease("6.18rc1")! == (6, 18))
        #expect(SeccompKernelSupport.parseRelease("garbage") == nil)
    }

    @Test func apiLevelsMapToActionsAndFlags() {
        let level2 = SeccompKernelSupport.fromAPILevel(2, kernelRelease: (4, 9))
        #expect(level2.flags == [.tsync])
        #expect(!level2.actions.contains(.killProcess))
        #expect(!level2.actions.contains(.log))
        #expect(!level2.actions.contains(.notify))
        let level6Old = SeccompKernelSupport.fromAPILevel(6, kernelRelease: (5, 10))
        #expect(level6Old.flags == [.tsync, .log, .specAllow])
        #expect(level6Old.actions == Set(SeccompAction.allCases))
        #expect(level6Old.tsyncWithListener)
        let level6New = SeccompKernelSupport.fromAPILevel(6, kernelRelease: (6, 1))
        #expect(level6New == .everything)
    }

    #if arch(x86_64) || arch(arm64)
    @Test func probingTheKernelAgreesWithLibseccomp() {
        let probed = SeccompKernelSupport.probe(using: testSeccomp)
        #expect(probed == SeccompKernelSupport.host)
        #expect(probed.actions.contains(.allow))
        #expect(probed.flags.contains(.tsync))
    }
    #endif

    @Test func featuresListWhatThisHostSupports() {
        let features = SeccompProgram.features(kernel: .everything)
        #expect(features.enabled == true)
        #expect(features.actions?.count == SeccompAction.allCases.count)
        #expect(features.operators?.count == 7)
        #expect(features.archs?.contains("SCMP_ARCH_X86_64") == true)
        #expect(features.knownFlags?.count == 4)
        let old = SeccompProgram.features(kernel: .fromAPILevel(2, kernelRelease: (4, 9)))
        #expect(old.supportedFlags == ["SECCOMP_FILTER_FLAG_TSYNC"])
        #expect(SeccompProgram.featureAnnotations["io.github.seccomp.libseccomp.version"]?.hasPrefix("2.") == true)
    }
}

/// Loads real filters into the kernel, in a child process: the test binary runs itself with
/// a filter selecting ``childLoadsFiltersAndTheKernelEnforcesThem()`` and an environment
/// variable that makes that test act as the child. Loading into the test runner itself would
/// filter every other test.
@Suite struct RealKernelLoadTests {
    static let childVariable = "BERTH_SECCOMP_TEST_CHILD"

    @Test func childLoadsFiltersAndTheKernelEnforcesThem() throws {
        if getenv(Self.childVariable) != nil {
            runChild()  // does not return
        }
        let (status, output) = try runSelf(filter: "RealKernelLoadTests/childLoadsFiltersAndTheKernelEnforcesThem")
        #expect(status == 0, "child output:\n\(output)")
        #expect(output.contains("seccomp-child: all checks passed"), "child output:\n\(output)")
    }

    /// Runs this test binary with `--filter`, the child variable set, and returns its exit
    /// status and output.
    private func runSelf(filter: String) throws -> (Int32, String) {
        var pipeFDs: [Int32] = [0, 0]
        try #require(pipe(&pipeFDs) == 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])

        let arguments = ["/proc/self/exe", "--testing-library", "swift-testing", "--filter", filter]
        var environment = ["\(Self.childVariable)=1"]
        for name in ["PATH", "HOME", "LD_LIBRARY_PATH"] {
            if let value = getenv(name) { environment.append("\(name)=\(String(cString: value))") }
        }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/proc/self/exe", &actions, nil, argv, envp)
        close(pipeFDs[1])
        defer { close(pipeFDs[0]) }
        try #require(rc == 0, "posix_spawn: \(rc)")

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
            if n > 0 { output += buffer[0..<n] } else if n == 0 || errno != EINTR { break }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), String(decoding: output, as: UTF8.self))
    }

    /// The child: no_new_privs, a notify filter, the default profile; then syscalls whose
    /// results show the kernel enforces both. Prints one line per failed check and exits.
    private func runChild() -> Never {
        var failures: [String] = []
        func check(_ condition: Bool, _ what: String) { if !condition { failures.append(what) } }
        func call(_ nr: Int, _ a1: Int = 0, _ a2: Int = 0, _ a3: Int = 0, _ a4: Int = 0, _ a5: Int = 0) -> (Int, Int32) {
            errno = 0
            let result = rawSyscall(nr, a1, a2, a3, a4, a5)
            return (result, errno)
        }
        func finish() -> Never {
            let text = failures.isEmpty ? "seccomp-child: all checks passed\n"
                : failures.map { "seccomp-child: FAILED \($0)\n" }.joined()
            _ = text.utf8CString.withUnsafeBufferPointer { write(1, $0.baseAddress, $0.count - 1) }
            _exit(failures.isEmpty ? 0 : 1)
        }
        #if arch(x86_64)
        let (nrMount, nrUnshare, nrKeyctl, nrIoUringSetup, nrClone3, nrGetpid, nrPersonality) =
            (165, 272, 250, 425, 435, 39, 135)
        #else
        let (nrMount, nrUnshare, nrKeyctl, nrIoUringSetup, nrClone3, nrGetpid, nrPersonality) =
            (40, 97, 219, 425, 435, 172, 92)
        #endif
        let prSetNoNewPrivs: Int32 = 38
        check(rawPrctl(prSetNoNewPrivs, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS")

        do {
            // A notify rule on a syscall the child never makes: the listener must come back.
            let notify = try SeccompProgram.compile(
                LinuxSeccomp(defaultAction: .allow, flags: [.tsync], listenerPath: "/nonexistent",
                             syscalls: [LinuxSyscall(names: ["acct"], action: .notify)]))
            let listener = try notify.load(using: testSeccomp)
            if let listener {
                var target = [CChar](repeating: 0, count: 256)
                let n = readlink("/proc/self/fd/\(listener)", &target, 255)
                let link = n > 0 ? String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
                check(link == "anon_inode:seccomp notify", "listener fd is \(link)")
                check(fcntl(listener, F_GETFD) & FD_CLOEXEC != 0, "listener is close-on-exec")
            } else {
                check(false, "no listener returned")
            }

            let program = try SeccompProgram.compile(Spec.defaultSeccomp())
            check(try program.load(using: testSeccomp) == nil, "default profile returned a listener")
        } catch {
            check(false, "\(error)")
            finish()
        }

        var status = [CChar](repeating: 0, count: 4096)
        let fd = open("/proc/thread-self/status", O_RDONLY)
        let n = read(fd, &status, 4095)
        close(fd)
        let text = n > 0 ? String(decoding: status[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        check(text.contains("Seccomp:\t2"), "Seccomp mode 2 in /proc/thread-self/status")
        let filters = text.split(separator: "\n").first { $0.hasPrefix("Seccomp_filters:") } ?? "none"
        check(filters.hasSuffix("\t2"), "two filters in /proc/thread-self/status, got \(filters)")

        check(call(nrGetpid).0 == Int(getpid()), "getpid allowed")
        var r = call(nrMount, 0, 0, 0, 0, 0)
        check(r == (-1, EPERM), "mount → EPERM, got \(r)")
        r = call(nrUnshare, 0x1000_0000)
        check(r == (-1, EPERM), "unshare(CLONE_NEWUSER) → EPERM, got \(r)")
        r = call(nrUnshare, 0x400)  // CLONE_FILES
        check(r == (0, 0), "unshare(CLONE_FILES) allowed, got \(r)")
        r = call(nrKeyctl, 0, 0)
        check(r == (-1, EPERM), "keyctl → EPERM, got \(r)")
        r = call(nrIoUringSetup, 1, 0)
        check(r == (-1, EPERM), "io_uring_setup → EPERM, got \(r)")
        r = call(nrClone3, 0, 0)
        check(r == (-1, ENOSYS), "clone3 → ENOSYS, got \(r)")
        r = call(999)
        check(r == (-1, ENOSYS), "syscall 999 → ENOSYS, got \(r)")
        r = call(nrPersonality, 0xffff_ffff)
        check(r.0 >= 0, "personality(query) allowed, got \(r)")
        r = call(nrPersonality, 0x4_0000)  // ADDR_NO_RANDOMIZE
        check(r == (-1, ENOSYS), "personality(ADDR_NO_RANDOMIZE) → ENOSYS, got \(r)")
        let created = mkfifo("/proc/self/nonexistent-dir/fifo", 0o600)
        check(created == -1 && errno != ENOSYS && errno != EPERM, "mknodat(FIFO) reaches the kernel, errno \(errno)")

        // Real programs under both filters; posix_spawn itself tries clone3 first and must
        // fall back to clone (glibc 2.34+).
        let workloads: [[String]] = [
            ["/bin/sh", "-c", "ls -la / >/dev/null && id -u >/dev/null && date >/dev/null && cat /proc/self/status | grep -q 'Seccomp:.2' && mkfifo /tmp/berth-seccomp-fifo-$$ && rm /tmp/berth-seccomp-fifo-$$"],
            ["/usr/bin/python3", "-c", "import threading, os, socket, subprocess; t = threading.Thread(target=lambda: None); t.start(); t.join(); socket.socketpair(); assert subprocess.run(['true']).returncode == 0; os.listdir('/')"],
        ]
        for argv in workloads where access(argv[0], X_OK) == 0 {
            let cArgs = argv.map { strdup($0) } + [nil]
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, argv[0], nil, nil, cArgs, environ)
            var status: Int32 = -1
            if rc == 0 { while waitpid(pid, &status, 0) < 0 && errno == EINTR {} }
            check(rc == 0 && status == 0, "\(argv[0]) under the default profile: spawn \(rc), wait status \(status)")
        }
        finish()
    }
}
