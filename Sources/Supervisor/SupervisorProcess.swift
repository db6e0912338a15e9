import BerthCore
import CShim
import Glibc
import Linux
import OCI
import Runtime
import Seccomp
import SupervisorAPI

/// Starting a supervisor: ctr forks, and the child becomes the supervisor without exec. ctr is
/// single-threaded, so the child may keep running Swift code; it already holds the validated
/// plan, and exec would only cost start-up time.
public enum SupervisorProcess {
    /// A supervisor that has started (or adopted) its service's container.
    public struct Started {
        public var supervisorPid: pid_t
        /// The container's init; 0 when an adopted container had already ended.
        public var pid: Int32
        /// Where an attached ctr reads the final `ended` report.
        public var channel: SupervisorReportChannel
    }

    /// Forks the supervisor for a service whose directory, service.json and config.json exist,
    /// and waits until it has started the container or failed to. On failure the supervisor
    /// has removed the service directory.
    public static func start(service: ServiceDirectory, definition: ServiceDefinition, plan: LaunchPlan,
                             configBytes: [UInt8]) throws(BerthError) -> Started {
        try fork(service: service, removeOnFailure: true) { (report) throws(BerthError) in
            let supervisor = try Supervisor(service: service, definition: definition, plan: plan, configBytes: configBytes,
                                            state: .starting, report: report)
            try supervisor.startContainer()
            return supervisor
        }
    }

    /// Forks a supervisor for a service that has ended (`ctr start`, `ctr system boot`), from its
    /// saved definition and config.json, and waits until it has started the container or failed
    /// to. The service is kept either way: its exit history goes on, and a container that cannot
    /// start is recorded as an exit with the error.
    public static func startAgain(service: ServiceDirectory, definition: ServiceDefinition, plan: LaunchPlan,
                                  configBytes: [UInt8], history: [ExitRecord]) throws(BerthError) -> Started {
        try fork(service: service, removeOnFailure: false) { (report) throws(BerthError) in
            do throws(BerthError) {
                let supervisor = try Supervisor(service: service, definition: definition, plan: plan, configBytes: configBytes,
                                                state: .starting, report: report)
                supervisor.status.exits = history
                try supervisor.startContainer()
                return supervisor
            } catch {
                // Recorded as an exit that never ran, with no supervisor: ps shows "exited (error)".
                var status = ServiceStatus(state: .exited, exits: history)
                status.record(ExitRecord(startedAt: nil, finishedAt: .now(), error: error.description))
                try? service.save(status)
                _ = Glibc.unlink(service.socketPath)
                throw error
            }
        }
    }

    /// Forks a supervisor for a service whose supervisor died, to take over its container: the
    /// init (through a pidfd, since it is no longer our child), its cgroup, and its output
    /// fifos, which the container kept open. The container's config.json is validated again
    /// for the restarts to come.
    public static func adopt(service: ServiceDirectory, definition: ServiceDefinition, previous: ServiceStatus) throws(BerthError) -> Started {
        let definition = try Supervisor.finishSwitch(service, definition, previous)
        let configBytes = try Files.read(service.configPath)
        let spec: Spec
        do { spec = try decodeJSON(Spec.self, from: configBytes) } catch { throw BerthError(.invalidConfig, "\(service.configPath): \(error)") }
        let plan = try LaunchPlan(spec: spec, id: definition.id, bundle: definition.bundle,
                                  seccompCache: SeccompCache(stateRoot: service.root))
        return try fork(service: service, removeOnFailure: false) { (report) throws(BerthError) in
            var status = previous
            let supervisor = try Supervisor(service: service, definition: definition, plan: plan, configBytes: configBytes,
                                            state: previous.state, report: report)
            status.supervisorPid = supervisor.status.supervisorPid
            status.supervisorStartTime = supervisor.status.supervisorStartTime
            supervisor.status = status
            try supervisor.adoptContainer()
            return supervisor
        }
    }

    /// Forks; the child detaches, builds its supervisor with `setUp`, reports, and serves. The
    /// parent returns once the child has reported.
    private static func fork(service: ServiceDirectory, removeOnFailure: Bool,
                             _ setUp: (FileDescriptor) throws(BerthError) -> Supervisor) throws(BerthError) -> Started {
        let (ours, theirs) = try makeSocketPair()
        let (pid, pidfd) = try ProcessControl.clone()
        if pid == 0 {
            ours.close()
            let report = detach(service: service, report: theirs)
            do {
                let supervisor = try setUp(report)
                // An adopted service may have ended already; finish() has then sent `ended`.
                if !supervisor.ended { try? ControlSocket.send(SupervisorReport.started(pid: supervisor.status.pid).encoded, on: report) }
                supervisor.serve()
                Glibc._exit(0)
            } catch {
                try? ControlSocket.send(SupervisorReport.failed(error.description).encoded, on: report)
                if removeOnFailure {
                    _ = Glibc.unlink(service.socketPath)
                    service.remove()
                }
                Glibc._exit(1)
            }
        }
        pidfd?.close()
        theirs.close()
        let channel = SupervisorReportChannel(descriptor: ours)
        switch channel.next() {
        case .started(let initPid)?:
            return Started(supervisorPid: pid, pid: initPid, channel: channel)
        case .failed(let message)?:
            channel.close()
            // It exits right after reporting; reaped here so that an attached ctr leaves no zombie.
            _ = try? ProcessControl.wait(pid)
            throw BerthError(.system, message)
        case .ended?:
            // An adopted container that had already ended, and whose policy asked for no restart.
            return Started(supervisorPid: pid, pid: 0, channel: channel)
        case .output?:
            // Output is reported only after `started`; the first report cannot be one.
            channel.close()
            throw BerthError(.system, "service \"\(service.name)\": the supervisor reported output before it started")
        case nil:
            channel.close()
            _ = try? ProcessControl.wait(pid)
            if removeOnFailure { service.remove() }
            throw BerthError(.system, "service \"\(service.name)\": the supervisor exited before reporting")
        }
    }

    /// The child's first steps: a process of its own, outliving ctr. Returns the report channel,
    /// moved to descriptor 3.
    private static func detach(service: ServiceDirectory, report reportEnd: FileDescriptor) -> FileDescriptor {
        // Only the report channel survives from ctr: its other descriptors (an attached ctr's
        // log reader, its signalfd) would otherwise stay open as long as the service runs.
        if reportEnd.rawValue != 3 { _ = berth_dup3(reportEnd.rawValue, 3, O_CLOEXEC) }
        ProcessControl.closeDescriptors(from: 4)
        // A session of its own: no terminal, and no signal to ctr's process group reaches it.
        _ = Glibc.setsid()
        // Processes orphaned below us come to us, not to pid 1, so we can reap them.
        _ = try? ProcessControl.prctl(Prctl.setChildSubreaper, 1, describing: "PR_SET_CHILD_SUBREAPER")
        _ = Glibc.chdir("/")
        // ps and top show it by this name rather than as the ctr command it was forked from.
        "ctr-supervisor".withCString { _ = berth_prctl(15 /* PR_SET_NAME */, UInt(bitPattern: $0), 0, 0, 0) }
        // An attached ctr blocks the signals it forwards; the container must not inherit that.
        berth_unblock_all_signals()
        let null = Glibc.open("/dev/null", O_RDWR)
        for fd in Int32(0)...2 where null >= 0 { _ = berth_dup3(null, fd, 0) }
        if null > 2 { Glibc.close(null) }
        SupervisorLog.open(service.supervisorLogPath)
        warningHandler = SupervisorLog.warn
        return FileDescriptor(rawValue: 3)
    }
}
