import BerthCore
import CShim
import Glibc
import Linux
import OCI
import Seccomp

/// The container's init between clone and exec: the child side of `create`. It runs
/// single-threaded in the new namespaces, follows the plan step by step, and either execs the
/// container's process or reports why it could not and exits.
struct ContainerInit<Kernel: KernelCalls> {
    let kernel: Kernel
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
    /// The idmapped mounts' trees and user namespaces, made by the parent.
    var idmappedMounts = IDMappedMountFiles()

    /// Everything up to `ready`: namespaces, rootfs, pivot, and checks that make a later exec
    /// failure unlikely. Returns the init's pid as the host sees it, and the host's
    /// /proc/self/fd when the container has no /proc of its own.
    func prepare() throws(BerthError) -> (hostPid: Int32, descriptors: FileDescriptor?) {
        // If `berth create` dies mid-setup, so does the half-built container. Had it died before
        // this line, the first receive below would read end of file and fail.
        try kernel.prctl(Prctl.setParentDeathSignal, UInt(SIGKILL), describing: "PR_SET_PDEATHSIG")
        closeInheritedDescriptors()
        // `taskset -c 0 berth run` must not pin the container: every CPU its cgroup's cpuset
        // allows, as runc resets it once the init is in the cgroup (here since clone3).
        // Best effort, as in runc, where a failure is only a warning.
        try? kernel.setCPUAffinity(ThreadAffinity.everyCPU, describing: nil)
        // Not dumpable since birth: the parent cleared the flag before clone (CVE-2019-5736).
        // Modes in the config are exact; the process's own umask is set just before exec.
        kernel.setUmask(0)

        let (hostPid, bindSources) = try enterNamespaces()
        // In the uts namespace just created or joined: the plan refused the host's.
        if let hostname = plan.hostname {
            do { try kernel.setHostname(hostname) } catch { throw error.prefixed("hostname") }
        }
        if let domainname = plan.domainname {
            do { try kernel.setDomainname(domainname) } catch { throw error.prefixed("domainname") }
        }

        var rootfs = RootfsSetup(plan: plan, kernel: kernel)
        rootfs.idmappedMounts = idmappedMounts
        rootfs.bindSources = bindSources
        try rootfs.prepare()
        for fd in idmappedMounts.descriptors + bindSources.values { kernel.close(fd) }
        // Without a mount namespace of our own there is no /proc after the chroot: the fifo is
        // reopened later through the host's, held from here.
        let descriptors = plan.hasOwnMountNamespace ? nil : try kernel.open("/proc/self/fd", BERTH_O_PATH | O_DIRECTORY, mode: 0, relativeTo: nil)
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
        // Inherited across execve, as runc sets them: after the rootfs, before the identity. The
        // memory policy once the setup's own allocations are done.
        try ProcessAttributes(process: plan.process, personality: plan.personality, memoryPolicy: plan.memoryPolicy).apply(kernel)
        // After pivot_root: the pty comes from the container's own devpts.
        try console?.attach(kernel)

        for limit in plan.process.rlimits {
            try kernel.setResourceLimit(limit.resource, soft: limit.soft, hard: limit.hard, name: limit.name)
        }
        if let adjust = plan.process.oomScoreAdj {
            let proc = try Procfs(kernel: kernel)
            defer { proc.close() }
            try proc.write("self/oom_score_adj", String(adjust))
        }
        try checkExecutable()

        // The container outlives `berth create` from here on. Cleared before `ready`, not after
        // `stateWritten`: berth exits right after sending that, and its death signal could kill
        // us before we got to clear it. A parent dying in between still ends us: the receive
        // below reads end of file and fails.
        try kernel.prctl(Prctl.setParentDeathSignal, 0, describing: "PR_SET_PDEATHSIG")
        try channel.send(.ready)
        try channel.expect(.stateWritten)
        channel.close()
        return (hostPid, descriptors)
    }

    /// From `start` to exec: wait on the fifo, take on the process's identity, run startContainer
    /// hooks and exec.
    func finishAndExec(hostPid: Int32, descriptors: FileDescriptor?) throws(BerthError) -> Never {
        // Opening the fifo for writing blocks until `berth start` opens it for reading.
        let fifo = try kernel.open(descriptors == nil ? execFifo.procPath : String(execFifo.rawValue), O_WRONLY, mode: 0, relativeTo: descriptors)
        if let descriptors { kernel.close(descriptors) }
        try kernel.writeAll(fifo, Array("0".utf8))
        kernel.close(fifo)
        kernel.close(execFifo)
        var process = plan.process
        process.environment = HomeDirectory.environment(process, kernel: kernel)
        let hookState = plan.hooks.startContainer.isEmpty ? nil : try containerHookState()
        var identity = ProcessIdentity(process: process, seccomp: plan.seccomp, kernel: kernel)
        if let seccompAgent {
            // Encoded now: after the filter is loaded, nothing but the send may remain to do.
            let state = State(id: plan.id, status: .running, pid: Int(hostPid), bundle: plan.bundle,
                              annotations: plan.annotations.isEmpty ? nil : plan.annotations)
            let message = ContainerProcessState(fds: [ContainerProcessState.seccompFdName], pid: Int(hostPid),
                                                metadata: plan.seccompListenerMetadata, state: state)
            do { identity.agent = (seccompAgent, try encodeJSON(message)) } catch { throw BerthError(.system, "encoding the seccomp agent message: \(error)") }
        }
        try identity.apply()
        // As in runc, startContainer hooks run as the process will: its user, capabilities,
        // working directory and seccomp filter, right before its exec.
        if let hookState { try runHooks(plan.hooks.startContainer, state: hookState, defaultEnvironment: process.environment) }
        // The creator's signal mask (berth run blocks what it forwards) is not the container's.
        kernel.unblockAllSignals()
        try placePassedFiles()
        try execProcess(process, preserveFDs: preserveFDs, kernel: kernel)
    }

    /// Closes what berth's caller left open (`exec 7>file; berth create`), which the init would
    /// otherwise hold, and hand to its hooks, until `start` (CVE-2024-21626): all but stdio,
    /// the descriptors the process keeps (--preserve-fds, LISTEN_FDS) and the init's own.
    private func closeInheritedDescriptors() {
        var own = [channel.descriptor, execFifo].map(\.rawValue) + joinFiles.map(\.fd.rawValue) + passedFiles.map(\.rawValue)
        if let console { own.append(console.socket.rawValue) }
        if let seccompAgent { own.append(seccompAgent.rawValue) }
        own += idmappedMounts.descriptors.map(\.rawValue)
        var first = 3 + keptDescriptorCount(plan.process, preserveFDs: preserveFDs)
        for fd in Set(own).sorted() where fd >= first {
            if fd > first { kernel.closeRange(first, fd - 1, closeOnExec: false) }
            first = fd + 1
        }
        kernel.closeRange(first, -1, closeOnExec: false)
    }

    /// Moves the passed descriptors to 3, 4, ... Each is first copied above every target, so
    /// that placing one cannot overwrite another still to be placed; the copies close on exec.
    private func placePassedFiles() throws(BerthError) {
        guard !passedFiles.isEmpty else { return }
        let base = Int32(3 + passedFiles.count)
        var copies: [FileDescriptor] = []
        for file in passedFiles { copies.append(try kernel.duplicate(file, atLeast: base)) }
        for (index, copy) in copies.enumerated() { try kernel.duplicate(copy, as: Int32(3 + index)) }
    }

    /// Joins and creates what clone3 did not, and returns the init's pid as the host sees it
    /// with the bind sources the parent opened (BindSources), by mount label.
    private func enterNamespaces() throws(BerthError) -> (Int32, [String: FileDescriptor]) {
        if !plan.stagedNamespaces {
            var sources: [String: FileDescriptor] = [:]
            while true {
                let (message, passed) = try channel.receiveWithDescriptor()
                if case .bindSource(let label) = message, let passed {
                    sources[label] = passed
                    continue
                }
                if let passed { kernel.close(passed) }
                guard case .begin(let hostPid) = message else { throw BerthError(.system, "create: the parent did not start the init") }
                if plan.creates(.user) { try becomeRoot() }
                // Without a new user namespace we still hold the host's privileges for these.
                try join(joinFiles)
                return (hostPid, sources)
            }
        }
        // Joined namespaces belong to the host's user namespace: join them while we can.
        try join(joinFiles.filter { $0.kind != .user })
        if let user = joinFiles.first(where: { $0.kind == .user }) {
            try join([user])
        } else if plan.creates(.user) {
            try kernel.unshare([.user])
            try channel.send(.userNamespaceReady)
        }
        guard case .begin(var hostPid) = try channel.receive() else { throw BerthError(.system, "create: the parent did not start the init") }
        if plan.creates(.user) { try becomeRoot() }
        // Created after the user namespace, so that it owns them.
        let rest = plan.newNamespaces.filter { $0 != .user && $0 != .time && $0 != .pid }
        if !rest.isEmpty { try kernel.unshare(rest) }
        if plan.creates(.pid) { hostPid = try forkIntoPidNamespace() }
        // Staged, the mount namespace is made only now: the init looks for the sources itself.
        return (hostPid, [:])
    }

    /// unshare(CLONE_NEWPID) moves only our children into the new namespace, so fork once more:
    /// the child becomes the container's init, this process reports its pid and exits.
    private func forkIntoPidNamespace() throws(BerthError) -> Int32 {
        try kernel.unshare([.pid])
        let handoff = try makePipe()
        let pid = try kernel.fork()
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
        try kernel.prctl(Prctl.setParentDeathSignal, UInt(SIGKILL), describing: "PR_SET_PDEATHSIG")
        try channel.send(.initPid(hostPid))
        return hostPid
    }

    /// Root in the new user namespace exists once the parent has written the mappings.
    private func becomeRoot() throws(BerthError) {
        // Rootless, the init stayed dumpable until now: a non-dumpable process's /proc/PID
        // files belong to the host's root, and the parent could not have written the maps.
        if plan.rootless != nil { try kernel.prctl(Prctl.setDumpable, 0, describing: "PR_SET_DUMPABLE") }
        try kernel.setGroupIDs(0)
        try kernel.setUserIDs(0)
    }

    private func join(_ entries: [(kind: NamespaceKind, path: String, fd: FileDescriptor)]) throws(BerthError) {
        for entry in entries {
            try kernel.setNamespace(entry.fd, kind: entry.kind, path: entry.path)
            kernel.close(entry.fd)
        }
    }

    private func checkExecutable() throws(BerthError) {
        guard let command = plan.process.arguments.first else { return }
        guard let path = kernel.lookUp(command, path: plan.process.searchPath) else {
            throw BerthError(.invalidConfig, "process.args[0]: \"\(ErrorText.short(command))\": executable file not found in $PATH")
        }
        do { try kernel.access(path, X_OK) } catch {
            throw BerthError(.invalidConfig, "process.args[0]: \(ErrorText.short(path))", errno: error.errno)
        }
        do { try kernel.access(plan.process.cwd, F_OK) } catch {
            throw BerthError(.invalidConfig, "process.cwd: \(ErrorText.short(plan.process.cwd))", errno: error.errno)
        }
    }

    /// The state a hook in the container's namespaces reads: "created" until the process runs
    /// (runc passes "created" to startContainer as well), and the pid as the container sees it,
    /// as the runtime-spec asks for such hooks. Without an `env` of their own these hooks get the
    /// process's environment, as in runc, not berth's, which is the host's.
    private func containerHookState() throws(BerthError) -> String {
        try ContainerState(id: plan.id, status: .created, pid: kernel.processID(), bundle: plan.bundle, annotations: plan.annotations).json()
    }
}

// Only berth runs the whole init; tests drive `prepare` and `finishAndExec` themselves. Written
// for LiveKernel rather than generic also because Swift 6.3.1 crashes (Mem2Reg) specializing it.
extension ContainerInit where Kernel == LiveKernel {
    /// Reports what failed before `ready` to the parent and what failed after it to the
    /// container's stderr, and exits.
    func run() -> Never {
        let prepared: (hostPid: Int32, descriptors: FileDescriptor?)
        do { prepared = try prepare() } catch {
            // One packet, which the parent reads with a buffer of 64 KiB: a longer report
            // would be lost, and the cause with it.
            try? channel.send(.failed(ErrorText.line(error.description)))
            Glibc._exit(127)
        }
        do { try finishAndExec(hostPid: prepared.hostPid, descriptors: prepared.descriptors) } catch {
            // The parent is gone by now; the engine reads the container's stderr. runc's init
            // writes the bare error (`exec /run.sh: no such file or directory`) and exits 255.
            _ = try? FileDescriptor.standardError.writeAll("\(ErrorText.line(error.description))\n")
        }
        Glibc._exit(255)
    }
}
