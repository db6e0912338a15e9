import BerthCore
import Glibc
import Linux
import OCI
@testable import Runtime
import TestSupport
import Testing

/// The container's init from `begin` to execve, against a recording kernel: the order of its
/// security-relevant steps and their arguments, for the configs that change that order. The
/// parent's side of the sync channel is a real socket pair with the parent's messages queued.
@Suite struct InitOrderTests {
    /// Runs the init until its execve (which the double ends with an error) or its first
    /// failure, and returns that error.
    static func run(_ plan: LaunchPlan, _ kernel: RecordingKernel,
                    joinFiles: [(kind: NamespaceKind, path: String, fd: FileDescriptor)] = [], console: ConsoleSetup? = nil) throws -> BerthError {
        let (childEnd, parentEnd) = try makeSocketPair()
        defer { parentEnd.close() }
        let parent = SyncChannel(parentEnd)
        try parent.send(.begin(pid: kernel.pid))
        try parent.send(.stateWritten)
        let containerInit = ContainerInit(kernel: kernel, plan: plan, channel: SyncChannel(childEnd), execFifo: kernel.descriptor(named: "exec.fifo"),
                                          joinFiles: joinFiles, preserveFDs: 0, passedFiles: [], console: console, seccompAgent: nil)
        let prepared: (hostPid: Int32, descriptors: FileDescriptor?)
        do { prepared = try containerInit.prepare() } catch {
            // prepare closes its end of the channel only once it succeeded.
            childEnd.close()
            return error
        }
        do { try containerInit.finishAndExec(hostPid: prepared.hostPid, descriptors: prepared.descriptors) } catch { return error }
    }

    /// A kernel whose container has /bin/sh (`berth spec`'s process) and a null device.
    static func kernel() -> RecordingKernel {
        let kernel = RecordingKernel()
        kernel.files["/bin/sh"] = .regular
        kernel.files["/dev/null"] = .characterDevice(major: 1, minor: 3)
        kernel.contents["/proc/sys/kernel/cap_last_cap"] = "40\n"
        return kernel
    }

    /// Runs `plan` to its execve and returns the calls.
    static func calls(_ plan: LaunchPlan, _ kernel: RecordingKernel = kernel()) throws -> [KernelCall] {
        let end = try run(plan, kernel)
        #expect(end.message == RecordingKernel.execMessage, "the init reached execve: \(end)")
        return kernel.calls
    }

    static func firstIndex(_ calls: [KernelCall], _ name: String, _ arguments: String...) -> Int? {
        calls.firstIndex { $0.name == name && arguments.allSatisfy($0.arguments.contains) }
    }

    static func lastIndex(_ calls: [KernelCall], _ name: String, _ arguments: String...) -> Int? {
        calls.lastIndex { $0.name == name && arguments.allSatisfy($0.arguments.contains) }
    }

    @Test func theDefaultConfigTakesItsSecurityStepsInOrder() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { spec in
            spec.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
            spec.linux?.seccomp = Spec.defaultSeccomp()
        }
        let calls = try Self.calls(plan)
        let steps: [(String, [String])] = [
            ("prctl", ["PR_SET_PDEATHSIG", "9"]), ("umask", ["0"]), ("mount", ["/", "rec,slave"]), ("pivot_root", []),
            ("write", ["/proc/sys/net/ipv4/ip_forward", "1"]), ("move_mount", []), ("mount_setattr", []), ("setrlimit", ["RLIMIT_NOFILE"]),
            ("prctl", ["PR_SET_PDEATHSIG", "0"]), ("write", ["exec.fifo", "0"]), ("prctl", ["PR_CAPBSET_DROP"]), ("chdir", ["/"]), ("prctl", ["PR_SET_KEEPCAPS", "1"]),
            ("setgroups", []), ("setresgid", ["0"]), ("setresuid", ["0"]), ("prctl", ["PR_SET_KEEPCAPS", "0"]), ("capset", []),
            ("prctl", ["PR_SET_DUMPABLE", "0"]), ("umask", ["22"]), ("prctl", ["PR_SET_NO_NEW_PRIVS", "1"]), ("seccomp", []),
            ("close_range", ["CLOSE_RANGE_CLOEXEC"]), ("execve", []),
        ]
        var position = -1
        for (name, arguments) in steps {
            let found = calls.indices.first { $0 > position && calls[$0].name == name && arguments.allSatisfy(calls[$0].arguments.contains) }
            let index = try #require(found, "\(name) \(arguments) after step \(position): \(calls)")
            position = index
        }
    }

    @Test func withNoNewPrivilegesSeccompIsTheLastCallBeforeExec() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { $0.linux?.seccomp = Spec.defaultSeccomp() }
        #expect(plan.process.noNewPrivileges && plan.seccomp != nil)
        let calls = try Self.calls(plan)
        let seccomp = try #require(Self.firstIndex(calls, "seccomp"))
        #expect(calls.filter { $0.name == "seccomp" }.count == 1)
        let noNewPrivileges = try #require(Self.firstIndex(calls, "prctl", "PR_SET_NO_NEW_PRIVS"))
        let capset = try #require(Self.firstIndex(calls, "capset"))
        #expect(capset < noNewPrivileges && noNewPrivileges < seccomp)
        // After the filter: only the signal mask, close-on-exec, the PATH lookup and execve,
        // none of which a profile has to allow for the runtime's sake.
        let after = Set(calls[(seccomp + 1)...].map(\.name))
        #expect(after.isSubset(of: ["sigprocmask", "close_range", "stat", "access", "execve"]), "\(after)")
        #expect(calls.last?.name == "execve")
    }

    @Test func withoutNoNewPrivilegesSeccompIsLoadedWhileTheCapabilitiesAreStillHeld() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { spec in
            spec.process?.noNewPrivileges = false
            spec.linux?.seccomp = Spec.defaultSeccomp()
        }
        #expect(!plan.process.noNewPrivileges && plan.seccomp != nil)
        let calls = try Self.calls(plan)
        #expect(Self.firstIndex(calls, "prctl", "PR_SET_NO_NEW_PRIVS") == nil)
        let seccomp = try #require(Self.firstIndex(calls, "seccomp"))
        let firstDrop = try #require(Self.firstIndex(calls, "prctl", "PR_CAPBSET_DROP"))
        let setuid = try #require(Self.firstIndex(calls, "setresuid"))
        let fifo = try #require(Self.firstIndex(calls, "write", "exec.fifo"))
        #expect(fifo < seccomp && seccomp < firstDrop && seccomp < setuid)
    }

    @Test func theBoundingSetIsDroppedBeforeSetuidAndTheOtherSetsAfter() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { spec in
            spec.process?.user = User(uid: 1000, gid: 1000, additionalGids: [27])
            spec.process?.capabilities?.ambient = ["CAP_NET_BIND_SERVICE"]
            spec.process?.capabilities?.inheritable = ["CAP_NET_BIND_SERVICE"]
        }
        let calls = try Self.calls(plan)
        let bounding = try #require(plan.process.capabilities?.bounding)
        let drops = calls.indices.filter { calls[$0].name == "prctl" && calls[$0].arguments.first == "PR_CAPBSET_DROP" }
        #expect(drops.count == 41 - bounding.count, "every capability up to cap_last_cap but the kept ones")
        #expect(!drops.contains { calls[$0].arguments.contains("CAP_NET_BIND_SERVICE") })
        let keep = try #require(Self.firstIndex(calls, "prctl", "PR_SET_KEEPCAPS", "1"))
        let groups = try #require(Self.firstIndex(calls, "setgroups"))
        let setgid = try #require(Self.firstIndex(calls, "setresgid", "1000"))
        let setuid = try #require(Self.firstIndex(calls, "setresuid", "1000"))
        let unkeep = try #require(Self.firstIndex(calls, "prctl", "PR_SET_KEEPCAPS", "0"))
        let capset = try #require(Self.firstIndex(calls, "capset"))
        let ambient = try #require(Self.firstIndex(calls, "prctl", "PR_CAP_AMBIENT_RAISE", "CAP_NET_BIND_SERVICE"))
        let dumpable = try #require(Self.lastIndex(calls, "prctl", "PR_SET_DUMPABLE", "0"))
        #expect(drops.allSatisfy { $0 < keep })
        #expect(keep < groups && groups < setgid && setgid < setuid && setuid < unkeep && unkeep < capset && capset < ambient && ambient < dumpable)
        #expect(calls[groups].arguments == ["27"])
    }

    @Test func aUserNamespaceMakesTheInitRootThereBeforeAnythingElse() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture, RootfsSetupTests.addUserNamespace)
        let kernel = Self.kernel()
        let network = kernel.descriptor(named: "/var/run/netns/engine")
        let end = try Self.run(plan, kernel, joinFiles: [(.network, "/var/run/netns/engine", network)])
        #expect(end.message == RecordingKernel.execMessage, "\(end)")
        let calls = kernel.calls
        let umask = try #require(Self.firstIndex(calls, "umask", "0"))
        #expect(Array(calls[(umask + 1)...(umask + 3)]) == [
            KernelCall("setresgid", ["0"]), KernelCall("setresuid", ["0"]), KernelCall("setns", ["network", "/var/run/netns/engine"]),
        ])
        #expect(kernel.openDescriptors[network.rawValue] == nil, "a joined namespace's descriptor is closed once joined")
    }

    @Test func theHostnameIsSetBeforeTheFirstMount() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { $0.hostname = "web" }
        let calls = try Self.calls(plan)
        let hostname = try #require(Self.firstIndex(calls, "sethostname", "web"))
        let mount = try #require(Self.firstIndex(calls, "mount"))
        #expect(hostname < mount)
    }

    @Test func rlimitsAndOomScoreAdjustmentAreSetInTheContainerBeforeReady() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { $0.process?.oomScoreAdj = 500 }
        let calls = try Self.calls(plan)
        let pivot = try #require(Self.firstIndex(calls, "pivot_root"))
        let rlimit = try #require(Self.firstIndex(calls, "setrlimit", "RLIMIT_NOFILE"))
        let opened = try #require(Self.firstIndex(calls, "open", "/proc/4242/oom_score_adj"))
        let written = try #require(Self.firstIndex(calls, "write", "/proc/4242/oom_score_adj", "500"))
        let ready = try #require(Self.firstIndex(calls, "prctl", "PR_SET_PDEATHSIG", "0"))
        #expect(pivot < rlimit && rlimit < written && written < ready)
        #expect(calls[opened].arguments.contains("RESOLVE_NO_SYMLINKS"), "through the verified procfs")
    }

    @Test func theTerminalComesFromTheContainersDevptsAfterPivot() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture)
        let kernel = Self.kernel()
        let socket = kernel.descriptor(named: "console socket")
        let end = try Self.run(plan, kernel, console: ConsoleSetup(socket: socket, size: (rows: 24, columns: 80)))
        #expect(end.message == RecordingKernel.execMessage, "\(end)")
        let pivot = try #require(kernel.index(of: "pivot_root"))
        let session = try #require(kernel.index(of: "setsid"))
        #expect(pivot < session)
        #expect(Array(kernel.calls[(session + 1)...(session + 10)].map(\.description)) == [
            "open /dev/ptmx", "ioctl TIOCSPTLCK /dev/ptmx", "open /dev/pts/0", "ioctl TIOCSWINSZ /dev/ptmx 24x80",
            "sendmsg /dev/ptmx console socket", "dup3 /dev/pts/0 0", "dup3 /dev/pts/0 1", "dup3 /dev/pts/0 2", "ioctl TIOCSCTTY fd 0",
            "setrlimit RLIMIT_NOFILE 1024 1024",
        ])
        #expect(kernel.openDescriptors[socket.rawValue] == nil)
    }

    @Test func aPtmxThatIsNotOnDevptsIsRefused() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture)
        let kernel = Self.kernel()
        kernel.filesystemTypes["/dev/ptmx"] = 0xef53
        let error = try Self.run(plan, kernel, console: ConsoleSetup(socket: kernel.descriptor(named: "console socket"), size: nil))
        #expect(error.description == "/dev/ptmx in the container is not on a devpts filesystem")
        #expect(kernel.index(of: "sendmsg") == nil)
    }

    @Test func aMissingExecutableIsReportedBeforeReady() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture)
        let kernel = RecordingKernel()
        kernel.files["/dev/null"] = .characterDevice(major: 1, minor: 3)
        let error = try Self.run(plan, kernel)
        #expect(error.description == "process.args[0]: \"sh\": executable file not found in $PATH")
        #expect(kernel.index(of: "prctl", "PR_SET_PDEATHSIG", "0") == nil, "the parent-death signal stays armed")
    }

    @Test(arguments: [
        ("sethostname", "web", "hostname: sethostname web: operation not permitted"),
        ("setns", "/var/run/netns/engine", "setns /var/run/netns/engine: operation not permitted"),
        ("pivot_root", nil, "pivot_root rootfs: operation not permitted"),
        ("prctl", "PR_SET_NO_NEW_PRIVS", "prctl PR_SET_NO_NEW_PRIVS: operation not permitted"),
        ("setresuid", "1000", "setresuid 1000: operation not permitted"),
        ("capset", nil, "capset: operation not permitted"),
    ] as [(String, String?, String)])
    func aFailedCallIsReportedWithItsNameAndPath(call: String, path: String?, message: String) throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { spec in
            spec.hostname = "web"
            spec.process?.user = User(uid: 1000, gid: 1000)
        }
        let kernel = Self.kernel()
        kernel.fail(call, at: path, errno: EPERM)
        let error = try Self.run(plan, kernel, joinFiles: [(.network, "/var/run/netns/engine", kernel.descriptor(named: "/var/run/netns/engine"))])
        #expect(error.description == message)
        #expect(kernel.index(of: "execve") == nil)
    }

    @Test func aWorkingDirectoryOutsideTheRootStopsTheExec() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture)
        let kernel = Self.kernel()
        kernel.workingDirectory = nil
        let error = try Self.run(plan, kernel)
        #expect(error.description == "process.cwd: / is outside the container's root")
        #expect(kernel.index(of: "execve") == nil)
    }

    @Test func theWorkingDirectoryIsEnteredBeforeTheUserSwitchAndAfterItWhenRootIsRefused() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { spec in
            spec.process?.cwd = "/work"
            spec.process?.user = User(uid: 1000, gid: 1000)
        }
        let calls = try Self.calls(plan)
        let entered = try #require(Self.firstIndex(calls, "chdir", "/work"))
        let setuid = try #require(Self.firstIndex(calls, "setresuid", "1000"))
        #expect(entered < setuid && calls.filter { $0 == KernelCall("chdir", ["/work"]) }.count == 1)

        let squashed = Self.kernel()
        squashed.fail("chdir", at: "/work", errno: EACCES, times: 1)
        let retried = try Self.calls(plan, squashed)
        let second = try #require(Self.lastIndex(retried, "chdir", "/work"))
        #expect(retried.filter { $0 == KernelCall("chdir", ["/work"]) }.count == 2)
        #expect(try #require(Self.firstIndex(retried, "setresuid", "1000")) < second)
    }

    @Test func aFilterTheKernelRefusesIsReportedAsSeccompsAndStopsTheExec() throws {
        let fixture = try PlanFixture()
        let plan = try RootfsSetupTests.plan(fixture) { $0.linux?.seccomp = Spec.defaultSeccomp() }
        let kernel = Self.kernel()
        kernel.fail("seccomp", errno: EINVAL)
        let error = try Self.run(plan, kernel)
        #expect(error.description.hasPrefix("seccomp(SECCOMP_SET_MODE_FILTER): invalid argument"), "\(error)")
        #expect(kernel.index(of: "execve") == nil)
    }
}
