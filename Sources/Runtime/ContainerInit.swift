import BerthCore
import CShim
import Glibc
import Linux
import OCI
import Seccomp

/// The container's init between clone and exec: the child side of `create`. It runs
/// single-threaded in the new namespaces, follows the plan step by step, and either execs the
/// container's process or reports why it could not and exits.
struct ContainerInit {
    let plan: LaunchPlan
    let channel: SyncChannel
    /// An O_PATH descriptor of the exec fifo, opened for writing only once setup is done.
    let execFifo: FileDescriptor
    /// Namespaces to join by path, opened before any setns changes what paths mean.
    let joinFiles: [(kind: NamespaceKind, path: String, fd: FileDescriptor)]
    let preserveFDs: Int32
    /// Put on 3, 4, ... just before exec.
    let passedFiles: [FileDescriptor]
    let console: ConsoleSetup?
    /// Connected to linux.seccomp.listenerPath when the filter has notify rules.
    let seccompAgent: FileDescriptor?

    func run() -> Never {
        var afterReady = false
        do {
            let (hostPid, descriptors) = try prepare()
            afterReady = true
            try finishAndExec(hostPid: hostPid, descriptors: descriptors)
        } catch {
            if afterReady {
                // The parent is gone by now; the engine reads the container's stderr.
                _ = try? FileDescriptor.standardError.writeAll("berth: \(ErrorText.line(error.description))\n")
            } else {
                // One packet, which the parent reads with a buffer of 64 KiB: a longer report
                // would be lost, and the cause with it.
                try? channel.send(.failed(ErrorText.line(error.description)))
            }
        }
        Glibc._exit(127)
    }

    /// Everything up to `ready`: namespaces, rootfs, pivot, and checks that make a later exec
    /// failure unlikely. Returns the init's pid as the host sees it, and the host's
    /// /proc/self/fd when the container has no /proc of its own.
    private func prepare() throws(BerthError) -> (hostPid: Int32, descriptors: FileDescriptor?) {
        // If `berth create` dies mid-setup, so does the half-built container. Had it died before
        // this line, the first receive below would read end of file and fail.
        try ProcessControl.prctl(Prctl.setParentDeathSignal, UInt(SIGKILL), describing: "PR_SET_PDEATHSIG")
        closeInheritedDescriptors()
        // Not dumpable since birth: the parent cleared the flag before clone (CVE-2019-5736).
        // Modes in the config are exact; the process's own umask is set just before exec.
        Glibc.umask(0)

        let hostPid = try enterNamespaces()
        // In the uts namespace just created or joined: the plan refused the host's.
        if let hostname = plan.hostname {
            do { try sys("sethostname", hostname) { Glibc.sethostname(hostname, hostname.utf8.count) } } catch { throw error.prefixed("hostname") }
        }
        if let domainname = plan.domainname {
            do { try sys("setdomainname", domainname) { Glibc.setdomainname(domainname, domainname.utf8.count) } } catch { throw error.prefixed("domainname") }
        }

        var rootfs = try RootfsSetup(plan: plan)
        try rootfs.prepare()
        // Without a mount namespace of our own there is no /proc after the chroot: the fifo is
        // reopened later through the host's, held from here.
        let descriptors = plan.hasOwnMountNamespace ? nil : try FileDescriptor.open("/proc/self/fd", BERTH_O_PATH | O_DIRECTORY)
        if plan.hooks.beforePivot {
            try channel.send(.rootfsPrepared)
            try channel.expect(.hooksDone)
        }
        // createContainer hooks run in the container's mount namespace, before pivot_root.
        try runHooks(plan.hooks.createContainer, state: try containerHookState(), defaultEnvironment: plan.process.environment)
        try rootfs.enter()
        // sysctls go through /proc/sys before readonlyPaths make it read-only.
        try rootfs.writeSysctls()
        try rootfs.maskAndProtectPaths()
        try rootfs.finish()
        rootfs.close()
        // The process inherits it across execve; set once the setup's own allocations are done.
        try plan.memoryPolicy?.apply()
        // After pivot_root: the pty comes from the container's own devpts.
        try console?.attach()

        for limit in plan.process.rlimits {
            try Rlimit.set(limit.resource, soft: limit.soft, hard: limit.hard, name: limit.name)
        }
        if let adjust = plan.process.oomScoreAdj {
            let proc = try Procfs()
            defer { proc.close() }
            try proc.write("self/oom_score_adj", String(adjust))
        }
        try checkExecutable()

        // The container outlives `berth create` from here on. Cleared before `ready`, not after
        // `stateWritten`: berth exits right after sending that, and its death signal could kill
        // us before we got to clear it. A parent dying in between still ends us: the receive
        // below reads end of file and fails.
        try ProcessControl.prctl(Prctl.setParentDeathSignal, 0, describing: "PR_SET_PDEATHSIG")
        try channel.send(.ready)
        try channel.expect(.stateWritten)
        channel.close()
        return (hostPid, descriptors)
    }

    /// From `start` to exec: wait on the fifo, run startContainer hooks, take on the process's
    /// identity and exec.
    private func finishAndExec(hostPid: Int32, descriptors: FileDescriptor?) throws(BerthError) -> Never {
        // Opening the fifo for writing blocks until `berth start` opens it for reading.
        let fifo = try FileDescriptor.open(descriptors == nil ? execFifo.procPath : String(execFifo.rawValue), O_WRONLY, relativeTo: descriptors)
        descriptors?.close()
        try fifo.writeAll("0")
        fifo.close()
        execFifo.close()
        var process = plan.process
        process.environment = HomeDirectory.environment(process)
        try runHooks(plan.hooks.startContainer, state: try containerHookState(), defaultEnvironment: process.environment)
        var identity = ProcessIdentity(process: process, seccomp: plan.seccomp)
        if let seccompAgent {
            // Encoded now: after the filter is loaded, nothing but the send may remain to do.
            let state = State(id: plan.id, status: .running, pid: Int(hostPid), bundle: plan.bundle,
                              annotations: plan.annotations.isEmpty ? nil : plan.annotations)
            let message = ContainerProcessState(fds: [ContainerProcessState.seccompFdName], pid: Int(hostPid),
                                                metadata: plan.seccompListenerMetadata, state: state)
            do { identity.agent = (seccompAgent, try encodeJSON(message)) } catch { throw BerthError(.system, "encoding the seccomp agent message: \(error)") }
        }
        try identity.apply()
        // The creator's signal mask (berth run blocks what it forwards) is not the container's.
        berth_unblock_all_signals()
        try placePassedFiles()
        try execProcess(process, preserveFDs: preserveFDs)
    }

    /// Closes what berth's caller left open (`exec 7>file; berth create`), which the init would
    /// otherwise hold, and hand to its hooks, until `start` (CVE-2024-21626): all but stdio,
    /// the descriptors the process keeps (--preserve-fds, LISTEN_FDS) and the init's own.
    private func closeInheritedDescriptors() {
        var own = [channel.descriptor, execFifo].map(\.rawValue) + joinFiles.map(\.fd.rawValue) + passedFiles.map(\.rawValue)
        if let console { own.append(console.socket.rawValue) }
        if let seccompAgent { own.append(seccompAgent.rawValue) }
        var first = 3 + keptDescriptorCount(plan.process, preserveFDs: preserveFDs)
        for fd in Set(own).sorted() where fd >= first {
            if fd > first { _ = berth_close_range(UInt32(first), UInt32(fd - 1), 0) }
            first = fd + 1
        }
        ProcessControl.closeDescriptors(from: first)
    }

    /// Moves the passed descriptors to 3, 4, ... Each is first copied above every target, so
    /// that placing one cannot overwrite another still to be placed; the copies close on exec.
    private func placePassedFiles() throws(BerthError) {
        guard !passedFiles.isEmpty else { return }
        let base = Int32(3 + passedFiles.count)
        var copies: [Int32] = []
        for file in passedFiles { copies.append(try sys("fcntl") { berth_fcntl_int(file.rawValue, F_DUPFD_CLOEXEC, base) }) }
        for (index, copy) in copies.enumerated() { try sys("dup3") { berth_dup3(copy, Int32(3 + index), 0) } }
    }

    /// Joins and creates what clone3 did not, and returns the init's pid as the host sees it.
    private func enterNamespaces() throws(BerthError) -> Int32 {
        if !plan.stagedNamespaces {
            guard case .begin(let hostPid) = try channel.receive() else { throw BerthError(.system, "create: the parent did not start the init") }
            if plan.creates(.user) { try becomeRoot() }
            // Without a new user namespace we still hold the host's privileges for these.
            try join(joinFiles)
            return hostPid
        }
        // Joined namespaces belong to the host's user namespace: join them while we can.
        try join(joinFiles.filter { $0.kind != .user })
        if let user = joinFiles.first(where: { $0.kind == .user }) {
            try join([user])
        } else if plan.creates(.user) {
            try NamespaceKind.unshare([.user])
            try channel.send(.userNamespaceReady)
        }
        guard case .begin(var hostPid) = try channel.receive() else { throw BerthError(.system, "create: the parent did not start the init") }
        if plan.creates(.user) { try becomeRoot() }
        // Created after the user namespace, so that it owns them.
        let rest = plan.newNamespaces.filter { $0 != .user && $0 != .time && $0 != .pid }
        if !rest.isEmpty { try NamespaceKind.unshare(rest) }
        if plan.creates(.pid) { hostPid = try forkIntoPidNamespace() }
        return hostPid
    }

    /// unshare(CLONE_NEWPID) moves only our children into the new namespace, so fork once more:
    /// the child becomes the container's init, this process reports its pid and exits.
    private func forkIntoPidNamespace() throws(BerthError) -> Int32 {
        try NamespaceKind.unshare([.pid])
        let handoff = try makePipe()
        let (pid, _) = try ProcessControl.clone()
        if pid != 0 {
            _ = try? handoff.write.writeAll(String(pid))
            Glibc._exit(0)
        }
        handoff.write.close()
        // End of file means the first child has exited and berth create, a subreaper, is now our
        // parent: only then may the parent-death signal be armed again (fork cleared it).
        let text = String(decoding: (try? handoff.read.readAll()) ?? [], as: UTF8.self)
        handoff.read.close()
        guard let hostPid = Int32(text) else { throw BerthError(.system, "create: lost the init's pid") }
        try ProcessControl.prctl(Prctl.setParentDeathSignal, UInt(SIGKILL), describing: "PR_SET_PDEATHSIG")
        try channel.send(.initPid(hostPid))
        return hostPid
    }

    /// Root in the new user namespace exists once the parent has written the mappings.
    private func becomeRoot() throws(BerthError) {
        try sys("setresgid") { berth_setresgid(0, 0, 0) }
        try sys("setresuid") { berth_setresuid(0, 0, 0) }
    }

    private func join(_ entries: [(kind: NamespaceKind, path: String, fd: FileDescriptor)]) throws(BerthError) {
        for entry in entries {
            try NamespaceKind.join(entry.fd, kind: entry.kind, path: entry.path)
            entry.fd.close()
        }
    }

    private func checkExecutable() throws(BerthError) {
        guard let command = plan.process.arguments.first else { return }
        guard let path = ProcessControl.lookUp(command, path: plan.process.searchPath) else {
            throw BerthError(.invalidConfig, "process.args[0]: \"\(ErrorText.short(command))\": executable file not found in $PATH")
        }
        if Glibc.access(path, X_OK) != 0 {
            throw BerthError(.invalidConfig, "process.args[0]: \(ErrorText.short(path))", errno: Glibc.errno)
        }
        if Glibc.access(plan.process.cwd, F_OK) != 0 {
            throw BerthError(.invalidConfig, "process.cwd: \(ErrorText.short(plan.process.cwd))", errno: Glibc.errno)
        }
    }

    /// The state a hook in the container's namespaces reads: "created" until the process runs
    /// (runc passes "created" to startContainer as well), and the pid as the container sees it,
    /// as the runtime-spec asks for such hooks. Without an `env` of their own these hooks get the
    /// process's environment, as in runc, not berth's, which is the host's.
    private func containerHookState() throws(BerthError) -> String {
        try ContainerState(id: plan.id, status: .created, pid: Glibc.getpid(), bundle: plan.bundle, annotations: plan.annotations).json()
    }
}

/// Becoming the configured user with the configured capabilities, shared by the init and exec.
struct ProcessIdentity {
    let process: LaunchPlan.ProcessPlan
    let seccomp: SeccompProgram?
    /// The seccomp agent's socket and the message that goes with the listener fd.
    var agent: (socket: FileDescriptor, message: String)?

    init(process: LaunchPlan.ProcessPlan, seccomp: SeccompProgram?) {
        self.process = process
        self.seccomp = seccomp
    }

    func apply() throws(BerthError) {
        // Without no_new_privs the kernel loads a filter only for a holder of CAP_SYS_ADMIN, so
        // the filter goes on before the capabilities go. It must then allow what follows.
        if !process.noNewPrivileges { try loadSeccomp() }
        // The bounding set can only shrink while we still hold CAP_SETPCAP, so before setuid.
        if let caps = process.capabilities { try Capability.limitBoundingSet(to: caps.bounding) }
        // Keep the permitted set across setuid; the configured sets are applied right after.
        try ProcessControl.prctl(Prctl.setKeepCapabilities, 1, describing: "PR_SET_KEEPCAPS")
        let groups = process.additionalGids.map { gid_t($0) }
        try sys("setgroups") { Glibc.setgroups(groups.count, groups) }
        try sys("setresgid", "\(process.gid)") { berth_setresgid(process.gid, process.gid, process.gid) }
        try sys("setresuid", "\(process.uid)") { berth_setresuid(process.uid, process.uid, process.uid) }
        try ProcessControl.prctl(Prctl.setKeepCapabilities, 0, describing: "PR_SET_KEEPCAPS")
        if let caps = process.capabilities { try Capability.apply(caps) }
        // A change of credentials sets the dumpable flag to fs.suid_dumpable, which a host may
        // have set to 1: clear it again, berth's image stays mapped until execve (CVE-2019-5736).
        try ProcessControl.prctl(Prctl.setDumpable, 0, describing: "PR_SET_DUMPABLE")
        Glibc.umask(mode_t(process.umask ?? 0o022))
        try sys("chdir", process.cwd) { Glibc.chdir(process.cwd) }
        // A cwd reached through a leaked descriptor would lie outside the root (CVE-2024-21626).
        var buffer = [CChar](repeating: 0, count: 4096)
        guard Glibc.getcwd(&buffer, buffer.count) != nil, buffer.first == CChar(UInt8(ascii: "/")) else {
            throw BerthError(.system, "process.cwd: \(ErrorText.short(process.cwd)) is outside the container's root")
        }
        if process.noNewPrivileges {
            try ProcessControl.prctl(Prctl.setNoNewPrivileges, 1, describing: "PR_SET_NO_NEW_PRIVS")
            // Last before exec, so the filter need not allow the runtime's own calls.
            try loadSeccomp()
        }
    }

    private func loadSeccomp() throws(BerthError) {
        guard let seccomp else { return }
        let listener = try seccomp.load(using: berth_seccomp)
        guard let listener, let agent else { return }
        // The runtime-spec's hand-off: one message, the process state as data, the listener as
        // SCM_RIGHTS. Should the filter notify sendmsg itself, this blocks: as in runc, a profile
        // must leave sendmsg to the runtime.
        try sys("sendmsg", "linux.seccomp.listenerPath") { berth_send_fd(agent.socket.rawValue, listener, agent.message) }
        Glibc.close(listener)
        agent.socket.close()
    }
}

/// HOME for a process whose environment has none, from the user's entry in the container's
/// /etc/passwd, as runc and crun set it; "/" when there is no entry, as in runc. Called in the
/// container's root (after pivot_root, or in exec after joining the mount namespace).
enum HomeDirectory {
    static func environment(_ process: LaunchPlan.ProcessPlan) -> [String] {
        if process.environment.contains(where: { $0.hasPrefix("HOME=") }) { return process.environment }
        return process.environment + ["HOME=" + (home(of: process.uid) ?? "/")]
    }

    /// The container's file is the image's: resolved inside the root without magic links (a
    /// link to /proc/1/root/... in a shared pid namespace would read the host's), opened
    /// without blocking (a fifo), read only when it is a regular file, and only so much of it.
    static func home(of uid: UInt32) -> String? {
        guard let root = try? Rootfs(path: "/") else { return nil }
        defer { root.close() }
        guard let file = try? root.open("/etc/passwd", O_RDONLY | O_NONBLOCK) else { return nil }
        defer { file.close() }
        guard let info = try? file.stat(), (info.st_mode & S_IFMT) == S_IFREG, let bytes = try? file.readAll(limit: 4 << 20) else { return nil }
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            // name:password:uid:gid:gecos:home:shell
            let fields = line.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            guard fields.count >= 6, UInt32(String(decoding: fields[2], as: UTF8.self)) == uid else { continue }
            let home = String(decoding: fields[5], as: UTF8.self)
            return home.isEmpty || home.utf8.contains(0) ? nil : home
        }
        return nil
    }
}

/// How many descriptors from 3 up the process keeps: --preserve-fds or LISTEN_FDS, the larger.
func keptDescriptorCount(_ process: LaunchPlan.ProcessPlan, preserveFDs: Int32) -> Int32 {
    var keep = max(preserveFDs, 0)
    if let listen = process.environment.last(where: { $0.hasPrefix("LISTEN_FDS=") }), let count = Int32(listen.dropFirst(11)) {
        keep = max(keep, count)
    }
    // A LISTEN_FDS of the image's (`ENV LISTEN_FDS=2147483647`) must not overflow `3 + keep`.
    return min(keep, Int32.max - 3)
}

/// Exec of the container's process: descriptors beyond stdio and the preserved ones are closed
/// on exec, and the command is looked up in the container's PATH.
func execProcess(_ process: LaunchPlan.ProcessPlan, preserveFDs: Int32) throws(BerthError) -> Never {
    // Nothing but stdio, LISTEN_FDS and --preserve-fds may reach the container (CVE-2024-21626).
    ProcessControl.markCloseOnExec(from: 3 + keptDescriptorCount(process, preserveFDs: preserveFDs))
    guard let command = process.arguments.first else { throw BerthError(.invalidConfig, "process.args: must not be empty") }
    guard let path = ProcessControl.lookUp(command, path: process.searchPath) else {
        throw BerthError(.invalidConfig, "process.args[0]: \"\(ErrorText.short(command))\": executable file not found in $PATH")
    }
    try ProcessControl.exec(path: path, arguments: process.arguments, environment: process.environment)
}
