import BerthCore
import CShim
import Cgroup2
import Glibc
import Linux
import OCI

/// The parent side of `create`: state directory, cgroup, clone3 into both, id mappings, hooks
/// in the runtime namespace, then the state record. On any failure everything made so far is
/// undone: the init is killed, the cgroup and the state directory removed.
public struct Launcher {
    public let store: StateStore
    public let plan: LaunchPlan
    /// The raw config.json, kept in the state directory for `exec`.
    public let configBytes: [UInt8]
    public var preserveFDs: Int32 = 0
    /// Descriptors the container's process gets as 3, 4, ... (socket activation: the caller
    /// sets LISTEN_FDS to their count in process.env, which keeps them open across exec).
    public var passedFiles: [FileDescriptor] = []
    public var pidFile: String?
    /// --console-socket: where the pty master goes when process.terminal is set.
    public var consoleSocket: String?
    /// Instead of a path: a connected unix socket that receives the master (the caller keeps
    /// and closes it). ctr's supervisor uses one end of a socketpair.
    public var consoleConnection: FileDescriptor?
    /// --pidfd-socket: where a pidfd of the init goes once it is ready (runc 1.2+).
    public var pidfdSocket: String?
    /// The state directory's notify directory that the plan binds into the container
    /// (``LaunchPlan/proxyNotifySocket(from:)``): made before the init mounts it.
    public var notifyDirectory: String?

    public init(store: StateStore, plan: LaunchPlan, configBytes: [UInt8]) {
        self.store = store
        self.plan = plan
        self.configBytes = configBytes
    }

    /// A created container whose init waits on the exec fifo.
    public struct Created {
        public var record: ContainerRecord
        /// A pidfd for the init; only the process that cloned it can also wait for it.
        public var pidfd: FileDescriptor?
    }

    public func create() throws(BerthError) -> Created {
        let lock = try store.create(plan.id)
        defer { lock.close() }
        var record = ContainerRecord(id: plan.id, bundle: plan.bundle, rootfs: plan.rootfs, pid: 0, pidStartTime: 0,
                                     created: Timestamp.now().description, started: false, cgroupRoot: nil, cgroupPath: nil,
                                     cgroupCreated: 0, annotations: plan.annotations,
                                     poststart: plan.hooks.poststart.map(ContainerRecord.StoredHook.init),
                                     poststop: plan.hooks.poststop.map(ContainerRecord.StoredHook.init))
        var cgroup: Cgroup?
        do throws(BerthError) {
            try Files.writeAtomically(store.directory(plan.id) + "/config.json", configBytes, durable: false)
            if let notifyDirectory { try sys("mkdir", notifyDirectory) { Glibc.mkdir(notifyDirectory, 0o755) } }
            if let warning = plan.rootless?.warning { warn(warning) }
            if let mount = Cgroup.hostMount(), plan.rootless == nil || plan.rootless?.cgroup != nil {
                // Rootless, the delegated cgroup is the root: nothing above it is the user's to write.
                let root = plan.rootless?.cgroup.map { $0.base.isEmpty ? mount : mount + "/" + $0.base } ?? mount
                let group = Cgroup(root: root, path: plan.rootless?.cgroup?.leaf ?? plan.cgroupPath)
                record.cgroupRoot = root
                record.cgroupPath = group.path
                // Recorded before the cgroup exists, so `delete --force` finds it whatever happens next.
                try store.save(record)
                if group.exists && !group.processes().isEmpty {
                    throw BerthError(.invalidConfig, "linux.cgroupsPath: cgroup \(group.directory) is in use")
                }
                record.cgroupCreated = try group.create(controllers: plan.resources.controllers)
                cgroup = group
                // Limits and device rules are in force before the init's first instruction:
                // clone3 starts it inside this cgroup.
                if !plan.resources.writes.isEmpty { try group.apply(plan.resources) }
                // Rootless, the user namespace keeps devices to what the user may open, and
                // loading a device program needs CAP_BPF: runc ignores the device rules too.
                if let devices = plan.deviceProgram, plan.rootless == nil { try group.attachDeviceProgram(devices) }
            } else if plan.rootless == nil {
                // Without a cgroup there is no device control: never run unprotected.
                throw BerthError(.unsupported, "linux.resources.devices: this host has no cgroup2 mount to attach the device program to, and berth runs no container without one")
            }
            try sys("mkfifo", store.fifoPath(plan.id)) { Glibc.mkfifo(store.fifoPath(plan.id), 0o600) }
            // In a user namespace the init is the container's root, which the host knows by
            // another uid: the fifo must be that user's for the init to open it.
            let owner = (plan.uidMappings.hostID(of: 0) ?? 0, plan.gidMappings.hostID(of: 0) ?? 0)
            if plan.rootless != nil && owner != (geteuid(), getegid()) {
                // Not ours to give away: the fifo's directory is the caller's alone (0700), so
                // its mode can let the container's root, whoever it maps to, open it.
                try sys("chmod", store.fifoPath(plan.id)) { Glibc.chmod(store.fifoPath(plan.id), 0o622) }
            } else if owner != (0, 0) && plan.rootless == nil {
                try sys("chown", store.fifoPath(plan.id)) { Glibc.chown(store.fifoPath(plan.id), owner.0, owner.1) }
            }
            return try launch(cgroup: cgroup, record: &record, lock: lock)
        } catch {
            // `launch` records the init's pid as soon as it exists.
            if record.pid > 0 { Glibc.kill(record.pid, SIGKILL); _ = try? ProcessControl.wait(record.pid) }
            if let cgroup { try? removeContainerCgroup(cgroup, created: record.cgroupCreated, id: plan.id) }
            if let group = record.resctrlGroup { Resctrl.remove(group) }
            store.remove(plan.id)
            throw error
        }
    }

    private func launch(cgroup: Cgroup?, record: inout ContainerRecord, lock: FileDescriptor) throws(BerthError) -> Created {
        let fifo = try FileDescriptor.open(store.fifoPath(plan.id), BERTH_O_PATH)
        defer { fifo.close() }
        let (parentEnd, childEnd) = try makeSocketPair()
        let channel = SyncChannel(parentEnd)
        defer { channel.close() }
        let cgroupFD = try cgroup?.open()
        defer { cgroupFD?.close() }
        let console = try consoleSetup()
        defer { console?.socket.close() }
        let pidfdReceiver = try PidfdSocket.connect(pidfdSocket)
        defer { pidfdReceiver?.close() }
        // The seccomp agent's socket is on the host: connected now, used by the init after pivot.
        var agent: FileDescriptor?
        if plan.seccomp?.needsListener == true, let path = plan.seccompListenerPath {
            // runc's words, which engines and agents' docs quote.
            do { agent = FileDescriptor(rawValue: try sys("connect", path) { berth_connect_unix(path) }) } catch {
                throw BerthError(.system, "failed to connect with seccomp agent specified in the seccomp profile: dial unix \(path): connect", errno: error.errno)
            }
        }
        defer { agent?.close() }
        // Made as root of the host, which the init inside a user namespace no longer is.
        let idmapped = try IDMappedMountFiles(for: plan)
        defer { idmapped.close() }

        // Namespaces whose setns or unshare only affects children are entered here, before clone.
        var joinFiles: [(kind: NamespaceKind, path: String, fd: FileDescriptor)] = []
        for (kind, path) in plan.joinedNamespaces {
            let fd = try FileDescriptor.open(path, O_RDONLY)
            if kind == .pid || kind == .time {
                defer { fd.close() }
                try NamespaceKind.join(fd, kind: kind, path: path)
            } else {
                joinFiles.append((kind, path, fd))
            }
        }
        if plan.creates(.time) {
            try NamespaceKind.unshare([.time])
            // Offsets can be set only before the first process enters the namespace: now.
            if !plan.timeOffsets.isEmpty {
                let proc = try Procfs()
                defer { proc.close() }
                try proc.write("self/timens_offsets", plan.timeOffsets.map(\.line).joined())
            }
        }
        var cloneFlags: UInt64 = 0
        if plan.stagedNamespaces {
            // The init joins and unshares itself and may fork again into a new pid namespace;
            // as subreaper we inherit that grandchild and can wait for it like any child.
            try ProcessControl.prctl(Prctl.setChildSubreaper, 1, describing: "PR_SET_CHILD_SUBREAPER")
        } else {
            for kind in plan.newNamespaces where kind != .time { cloneFlags |= kind.cloneFlag }
        }

        // Not dumpable from its first instruction (CVE-2019-5736): the flag is copied into the
        // child by clone, so no process of a pid namespace the init is born into (a joined one)
        // can open its /proc/PID/exe, root, cwd or fd/ (ptrace access), not even in the window
        // before the child could call prctl itself. Reset by the container process's execve.
        // Rootless with a new user namespace, the init clears it once the maps are written.
        if plan.rootless == nil || !plan.creates(.user) {
            try ProcessControl.prctl(Prctl.setDumpable, 0, describing: "PR_SET_DUMPABLE")
        }
        let (pid, clonePidfd) = try ProcessControl.clone(namespaces: cloneFlags, cgroup: cgroupFD)
        if pid == 0 {
            // flock belongs to the open file, which the child shares: holding it would keep the
            // container locked against `start` for as long as the init lives.
            lock.close()
            parentEnd.close()
            // The cgroup directory is the host's: nothing the init needs, so nothing to leak
            // (runc's CVE-2024-21626 leaked exactly this descriptor).
            cgroupFD?.close()
            ContainerInit(kernel: LiveKernel(), plan: plan, channel: SyncChannel(childEnd), execFifo: fifo, joinFiles: joinFiles,
                          preserveFDs: preserveFDs, passedFiles: passedFiles, console: console, seccompAgent: agent,
                          idmappedMounts: idmapped).run()
        }
        childEnd.close()
        for entry in joinFiles { entry.fd.close() }
        // Not saved until ready: should berth die before then, the init dies with it
        // (PDEATHSIG) and the record saved above already names the cgroup to clean up.
        record.pid = pid
        var pidfd = clonePidfd
        do throws(BerthError) {
            if plan.stagedNamespaces && plan.creates(.user) { try channel.expect(.userNamespaceReady) }
            if plan.creates(.user) {
                if let rootless = plan.rootless { try writeRootlessMappings(rootless, pid: pid) } else { try writeMappings(pid: pid) }
            }
            // In its resctrl group before it runs anything, as runc joins it after the cgroup.
            if let rdt = plan.intelRdt { record.resctrlGroup = try Resctrl().join(rdt, id: plan.id, pid: pid) }
            try moveNetDevices(pid: pid)
            try BindSources.send(plan, pid: pid, over: channel)
            try channel.send(.begin(pid: pid))
            if plan.stagedNamespaces && plan.creates(.pid) {
                guard case .initPid(let initPid) = try channel.receive() else {
                    throw BerthError(.system, "create: the init did not report its pid")
                }
                _ = try? ProcessControl.wait(pid)
                pidfd?.close()
                pidfd = nil
                record.pid = initPid
                pidfd = try ProcessControl.openPidfd(initPid)
            }
            record.pidStartTime = ProcessControl.startTime(record.pid) ?? 0
            if plan.hooks.beforePivot {
                try channel.expect(.rootfsPrepared)
                // "created", as crun passes and runtime-tools' hooks_stdin expects (runc: "creating").
                let state = try ContainerState(id: plan.id, status: .created, pid: record.pid, bundle: plan.bundle, annotations: plan.annotations).json()
                try runHooks(plan.hooks.prestart, state: state)
                try runHooks(plan.hooks.createRuntime, state: state)
                try channel.send(.hooksDone)
            }
            try channel.expect(.ready)
            try pidfdReceiver?.send(pid: record.pid, pidfd: pidfd, kind: "standard")
            try store.save(record)
            if let pidFile { try Files.writeAtomically(pidFile, Array(String(record.pid).utf8), mode: 0o644, durable: false) }
            try channel.send(.stateWritten)
        } catch {
            pidfd?.close()
            throw error
        }
        return Created(record: record, pidfd: pidfd)
    }

    /// The console socket, connected, when the process wants a terminal; both or neither.
    private func consoleSetup() throws(BerthError) -> ConsoleSetup? {
        try ConsoleSetup.make(terminal: plan.process.terminal, path: consoleSocket, connection: consoleConnection, size: plan.process.consoleSize,
                              missing: "process.terminal is true: it needs --console-socket",
                              unwanted: "flag --console-socket: process.terminal is false, so there is no terminal to send")
    }

    /// uid_map and gid_map through a verified procfs (CVE-2025-52881). As root in the initial
    /// user namespace we may map any range, so setgroups stays allowed.
    private func writeMappings(pid: pid_t) throws(BerthError) {
        let proc = try Procfs()
        defer { proc.close() }
        try proc.write("\(pid)/uid_map", plan.uidMappings.map(\.line).joined())
        try proc.write("\(pid)/gid_map", plan.gidMappings.map(\.line).joined())
    }
}

extension ContainerRecord.StoredHook {
    init(_ hook: HookCommand) {
        self.init(label: hook.label, path: hook.path, args: hook.arguments, env: hook.environment, timeout: hook.timeoutSeconds)
    }

    var command: HookCommand {
        HookCommand(label: label, path: path, arguments: args, environment: env, timeoutSeconds: timeout)
    }
}
