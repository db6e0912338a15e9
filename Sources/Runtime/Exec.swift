import BerthCore
import CShim
import Cgroup2
import Glibc
import Linux
import OCI
import Seccomp

/// `berth exec`: an extra process in a running container, in every namespace and the cgroup of
/// its init, with the capabilities and no_new_privs of its config unless the process says
/// otherwise.
public struct Exec {
    public let store: StateStore
    public let id: String
    public let process: OCI.Process
    public var preserveFDs: Int32 = 0
    public var pidFile: String?
    /// Where the process's stdout and stderr go instead of the caller's (the pipe a supervisor's
    /// health check reads); stdin stays the caller's.
    public var output: FileDescriptor?
    /// Makes the process the leader of a new session and process group, so that the caller can
    /// kill it with whatever it started (a health check that hangs in a child).
    public var newSession = false
    /// --console-socket, for a process with `terminal` set.
    public var consoleSocket: String?
    /// Instead of a path: a connected unix socket that receives the master (the caller keeps
    /// and closes it). ctr uses one end of a socketpair.
    public var consoleConnection: FileDescriptor?
    /// --pidfd-socket: where a pidfd of the process goes once it has started (runc 1.2+).
    public var pidfdSocket: String?
    /// --ignore-paused: exec into a frozen container, where the process waits, frozen, until
    /// `resume` (runc's flag; without it exec refuses a paused container).
    public var ignorePaused = false
    /// --cgroup: a sub-cgroup of the container's, relative to it, to start the process in.
    public var subCgroup: ExecCgroup?

    public init(store: StateStore, id: String, process: OCI.Process) {
        self.store = store
        self.id = id
        self.process = process
    }

    /// The process as the container's config describes it, for building an exec process from
    /// command-line flags.
    public static func baseProcess(store: StateStore, id: String) throws(BerthError) -> OCI.Process {
        guard let process = try containerSpec(store: store, id: id).process else {
            throw BerthError(.invalidConfig, "container \"\(id)\" has no process in its config")
        }
        return process
    }

    /// The container's config.json as `create` stored it.
    static func containerSpec(store: StateStore, id: String) throws(BerthError) -> Spec {
        let bytes: [UInt8]
        do { bytes = try Files.read(store.directory(id) + "/config.json") } catch where error.errno == ENOENT {
            // Named as `state` and `kill` name it, not by a file of berth's (runc: "container does not exist").
            throw BerthError(.notFound, "container \"\(id)\" does not exist")
        }
        do { return try decodeJSON(Spec.self, from: bytes) } catch { throw BerthError(.invalidConfig, "\(store.directory(id))/config.json: \(error)") }
    }

    /// Starts the process. Returns its pid and, for waiting in the foreground, a pidfd.
    public func start() throws(BerthError) -> (pid: pid_t, pidfd: FileDescriptor?) {
        let record: ContainerRecord
        let container: Spec
        var process = self.process
        do {
            let lock = try store.lock(id)
            defer { lock.close() }
            guard let loaded = try store.load(id) else { throw BerthError(.invalidState, "container \"\(id)\" is still being created") }
            let status = store.status(of: loaded, id: id)
            // runc's texts, which engines show as they are.
            if status == .paused && !ignorePaused {
                throw BerthError(.invalidState, "cannot exec in a paused container (use --ignore-paused to override)")
            }
            guard status == .running || status == .created || status == .paused else {
                throw BerthError(.invalidState, "container \"\(id)\" is \(status.rawValue): exec needs a running container")
            }
            record = loaded
            container = try Exec.containerSpec(store: store, id: id)
            // A process.json without capabilities would otherwise keep every capability berth
            // has, bounding set included, and without no_new_privs could gain more. The
            // scheduler, I/O priority and exec affinity are the container's too, as in runc.
            if let base = container.process {
                process.capabilities = process.capabilities ?? base.capabilities
                process.noNewPrivileges = process.noNewPrivileges ?? base.noNewPrivileges
                process.scheduler = process.scheduler ?? base.scheduler
                process.ioPriority = process.ioPriority ?? base.ioPriority
                process.execCPUAffinity = process.execCPUAffinity ?? base.execCPUAffinity
            }
        }
        try LaunchPlan.refuseNULBytes(in: process, label: "process")
        var plan = try LaunchPlan.processPlan(process, label: "process")
        if geteuid() != 0 { try plan.makeRootless(label: "process") }
        let attributes = ProcessAttributes(process: plan, personality: LaunchPlan.personality(container.linux?.personality),
                                           memoryPolicy: try container.linux?.memoryPolicy.map { (policy) throws(BerthError) in try LaunchPlan.MemoryPolicy(policy) })
        // The container's filter applies to every process in it, exec'd ones included.
        let seccomp = try LaunchPlan.seccompProgram(container.linux?.seccomp, cache: SeccompCache(stateRoot: store.root), allowListener: false)

        var joins: [(kind: NamespaceKind, fd: FileDescriptor)] = []
        defer { for join in joins { join.fd.close() } }
        for kind in NamespaceKind.allCases where ExecNamespaces.differs(kind, pid: record.pid) {
            joins.append((kind, try FileDescriptor.open("/proc/\(record.pid)/ns/\(kind.procName)", O_RDONLY)))
        }
        // A caller that lives on (the supervisor, whose next container would otherwise be
        // created inside this one's pid namespace) takes its own back once the child exists.
        var own: [(kind: NamespaceKind, fd: FileDescriptor)] = []
        defer {
            for namespace in own {
                try? NamespaceKind.join(namespace.fd, kind: namespace.kind, path: "/proc/self/ns/\(namespace.kind.procName)")
                namespace.fd.close()
            }
        }
        for join in joins where join.kind == .pid || join.kind == .time {
            own.append((join.kind, try FileDescriptor.open("/proc/self/ns/\(join.kind.procName)", O_RDONLY)))
        }
        // Rootless, joining the container's namespaces needs capabilities in its user namespace,
        // which its owner gets by entering it: first, here, for good (a user cannot go back).
        let enteredUser = geteuid() != 0 ? joins.first(where: { $0.kind == .user }) : nil
        if let enteredUser { try NamespaceKind.join(enteredUser.fd, kind: .user, path: "/proc/\(record.pid)/ns/user") }
        // pid and time namespaces apply to children of the caller only: joined here, before clone.
        for join in joins where join.kind == .pid || join.kind == .time {
            try NamespaceKind.join(join.fd, kind: join.kind, path: "/proc/\(record.pid)/ns/\(join.kind.procName)")
        }
        // A container without a mount namespace of its own shares the host's: joining the
        // others leaves the child at the host's root, so it takes the init's root instead
        // (a chroot into the rootfs, as the init did).
        let initRoot = joins.contains { $0.kind == .mount } ? nil : try FileDescriptor.open("/proc/\(record.pid)/root", BERTH_O_PATH | O_DIRECTORY)
        defer { initRoot?.close() }
        var cgroupFD = try record.cgroup.map { (location) throws(BerthError) in try ExecCgroup.open(location, sub: subCgroup, initPid: record.pid) }
        defer { cgroupFD?.close() }
        let console = try ConsoleSetup.make(terminal: plan.terminal, path: consoleSocket, connection: consoleConnection, size: plan.consoleSize,
                                            missing: "exec: a terminal (--tty or process.terminal) needs --console-socket",
                                            unwanted: "flag --console-socket: the process has no terminal (add --tty)")
        defer { console?.socket.close() }
        let pidfdReceiver = try PidfdSocket.connect(pidfdSocket)
        defer { pidfdReceiver?.close() }
        let errors = try makePipe()
        // The child is in the container's pid namespace from birth (setns above): processes of
        // the container see it at once. Not dumpable before clone, so it is not dumpable from its
        // first instruction, while berth's image is still mapped and its root, cwd and
        // descriptors are the host's (CVE-2019-5736): ptrace access, and with it
        // /proc/PID/exe, root, cwd and fd/, is refused to them. Its execve resets the flag.
        try ProcessControl.prctl(Prctl.setDumpable, 0, describing: "PR_SET_DUMPABLE")
        // The container's resctrl group: the child moves itself in first thing (pid 0 is the writer).
        let resctrlTasks = try container.linux?.intelRdt.map { (rdt) throws(BerthError) in
            try FileDescriptor.open(Resctrl().directory(try ResctrlPlan(rdt, id: id)) + "/tasks", O_WRONLY)
        }
        defer { resctrlTasks?.close() }
        // Inherited by the child, which is born in the container's cgroup: runc's "initial".
        let ownAffinity = try plan.cpuAffinity.enterInitial()
        defer { ownAffinity.map { try? ThreadAffinity.set($0) } }
        let (pid, pidfd): (pid_t, FileDescriptor?)
        do { (pid, pidfd) = try ProcessControl.clone(cgroup: cgroupFD) } catch where error.errno == EBUSY && subCgroup == nil {
            // The container's cgroup hands its controllers to sub-groups (the init moved into
            // one), so it may hold no process: follow the init, as runc does.
            guard let location = record.cgroup, let initGroup = ExecCgroup.initCgroup(of: record.pid, in: location) else {
                throw error
            }
            cgroupFD?.close()
            cgroupFD = try initGroup.open()
            (pid, pidfd) = try ProcessControl.clone(cgroup: cgroupFD)
        }
        if pid == 0 {
            let kernel = LiveKernel()
            errors.read.close()
            // The host's cgroup directory: not needed once clone3 has placed us (CVE-2024-21626).
            cgroupFD?.close()
            do {
                if let resctrlTasks {
                    try resctrlTasks.writeAll("0")
                    resctrlTasks.close()
                }
                // The user namespace last: as root of the host we may join any namespace, while
                // inside the container's user namespace we could not join those the host owns
                // (a network namespace made by the engine, say).
                for join in joins where join.kind != .user && join.kind != .pid && join.kind != .time {
                    try NamespaceKind.join(join.fd, kind: join.kind, path: join.kind.procName)
                }
                if let initRoot {
                    try kernel.changeDirectory(to: initRoot, describing: "the container's root")
                    try kernel.changeRoot(".", describing: "the container's root")
                    kernel.close(initRoot)
                }
                for join in joins where join.kind == .user && enteredUser == nil {
                    try NamespaceKind.join(join.fd, kind: .user, path: "user")
                }
                for limit in plan.rlimits { try Rlimit.set(limit.resource, soft: limit.soft, hard: limit.hard, name: limit.name) }
                try attributes.apply(kernel)
                try plan.cpuAffinity.applyFinal(kernel)
                if let output {
                    try output.duplicate(as: 1)
                    try output.duplicate(as: 2)
                }
                if newSession { try sys("setsid") { Glibc.setsid() } }
                try console?.attach(kernel)
                // Inside the container's root now: its /etc/passwd is the one to read.
                var process = plan
                process.environment = HomeDirectory.environment(process, kernel: kernel)
                try ProcessIdentity(process: process, seccomp: seccomp, kernel: kernel).apply()
                kernel.unblockAllSignals()
                try execProcess(process, preserveFDs: preserveFDs, kernel: kernel)
            } catch {
                try? errors.write.writeAll(error.description)
            }
            Glibc._exit(127)
        }
        errors.write.close()
        defer { errors.read.close() }
        // Close-on-exec makes a successful exec read as end of file.
        let message = (try? errors.read.readAll()) ?? []
        if !message.isEmpty {
            _ = try? ProcessControl.wait(pid)
            pidfd?.close()
            throw BerthError(.system, String(decoding: message, as: UTF8.self))
        }
        do throws(BerthError) {
            try pidfdReceiver?.send(pid: pid, pidfd: pidfd, kind: "setns")
            if let pidFile { try Files.writeAtomically(pidFile, Array(String(pid).utf8), mode: 0o644, durable: false) }
        } catch {
            // As runc: a process whose pid the caller cannot learn is not left running.
            if let pidfd { try? ProcessControl.signal(pidfd: pidfd, SIGKILL) } else { Glibc.kill(pid, SIGKILL) }
            _ = try? ProcessControl.wait(pid)
            pidfd?.close()
            throw error
        }
        return (pid, pidfd)
    }
}

enum ExecNamespaces {
    /// True when `pid` is in another namespace of this kind than we are.
    static func differs(_ kind: NamespaceKind, pid: pid_t) -> Bool {
        var theirs = Glibc.stat(), ours = Glibc.stat()
        guard Glibc.fstatat(AT_FDCWD, "/proc/\(pid)/ns/\(kind.procName)", &theirs, 0) == 0 else { return false }
        guard Glibc.fstatat(AT_FDCWD, "/proc/self/ns/\(kind.procName)", &ours, 0) == 0 else { return true }
        return theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev
    }
}

/// `exec --cgroup`: runc's `[CONTROLLER[,CONTROLLER...]:]PATH`, a sub-cgroup of the container's.
/// On cgroup v2 one directory holds every controller, so the controllers named only have to be
/// the container's, and every argument must name the same path.
public struct ExecCgroup: Equatable, Sendable {
    /// Relative to the container's cgroup, without `.` or `..` components.
    public var path: String
    public var controllers: [String]

    public init(arguments: [String]) throws(BerthError) {
        var path: String?
        var controllers: [String] = []
        for argument in arguments {
            let parts = argument.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            var named = ""
            if parts.count == 2 {
                for controller in parts[0].split(separator: ",", omittingEmptySubsequences: false) {
                    guard !controller.isEmpty else { throw BerthError(.invalidArgument, "flag --cgroup: \"\(argument)\" has an empty controller") }
                    guard !controllers.contains(String(controller)) else {
                        throw BerthError(.invalidArgument, "flag --cgroup: controller \(controller) is named more than once")
                    }
                    controllers.append(String(controller))
                }
                named = String(parts[1])
            } else {
                guard arguments.count == 1 else { throw BerthError(.invalidArgument, "flag --cgroup: \"\(argument)\" needs a CONTROLLER: prefix") }
                named = argument
            }
            let components = named.split(separator: "/")
            guard !components.isEmpty, !components.contains(where: { $0 == ".." || $0 == "." }) else {
                throw BerthError(.invalidArgument, "flag --cgroup: \"\(named)\" is not a sub-cgroup of the container's")
            }
            let normalized = components.joined(separator: "/")
            if let path, path != normalized {
                throw BerthError(.invalidArgument, "flag --cgroup: cgroup v2 has one path for all controllers, not \(path) and \(normalized)")
            }
            path = normalized
        }
        guard let path else { throw BerthError(.invalidArgument, "flag --cgroup: expects [CONTROLLER:]PATH") }
        self.path = path
        self.controllers = controllers
    }

    /// The directory to clone the process into: the sub-cgroup when one is asked for (it must
    /// exist, as in runc), else the container's, else the init's when the container's is gone.
    static func open(_ location: Cgroup2Location, sub: ExecCgroup?, initPid: pid_t) throws(BerthError) -> FileDescriptor {
        let container = Cgroup(root: location.root, path: location.path)
        if let sub {
            let available = container.availableControllers()
            for controller in sub.controllers where !available.contains(controller) {
                throw BerthError(.invalidArgument, "flag --cgroup: the container's cgroup has no \(controller) controller")
            }
            do { return try Cgroup(root: container.root, path: container.path + "/" + sub.path).open() } catch {
                throw BerthError(.invalidArgument, "flag --cgroup: \(error.description)")
            }
        }
        do { return try container.open() } catch {
            guard let initGroup = initCgroup(of: initPid, in: location) else { throw error }
            return try initGroup.open()
        }
    }

    /// The cgroup v2 group of the container's init when it lies below the container's cgroup
    /// (a systemd inside moves itself into init.scope), from /proc/PID/cgroup.
    static func initCgroup(of pid: pid_t, in container: Cgroup2Location) -> Cgroup? {
        guard let text = try? Files.readString("/proc/\(pid)/cgroup") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("0::/") {
            let path = String(line.dropFirst(4))
            guard path.hasPrefix(container.path + "/"), !path.split(separator: "/").contains("..") else { return nil }
            return Cgroup(root: container.root, path: path)
        }
        return nil
    }
}
