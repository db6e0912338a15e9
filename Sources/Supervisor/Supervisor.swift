import BerthCore
import Glibc
import Linux
import Runtime
import SupervisorAPI

/// One service's supervisor: a single-threaded poll() loop over its signal pipe, the control
/// socket and its clients, its versions' inits (pidfds) and output fifos, and the published
/// ports' connections, with timers for the restart back-off, the stop grace periods, health
/// checks, rollouts, drains and idle clients.
///
/// It is the parent of the container's init (it created it), so it can wait for it and read its
/// exit status; an adopted init is watched through its pidfd only. Everything it learns goes to
/// status.json at once, so that `ctr ps` needs no round trip.
final class Supervisor {
    let service: ServiceDirectory
    /// These three change with `ctr update`, so that restarts keep the new limits.
    var definition: ServiceDefinition
    var plan: LaunchPlan
    var configBytes: [UInt8]
    let containers: Containers
    var status: ServiceStatus
    var log: LogFile
    let signals: FileDescriptor
    let listener: FileDescriptor
    /// To the ctr that started us; nil once it has gone.
    var report: FileDescriptor?

    /// The versions with a container: the active one (none between runs) and, during a
    /// hand-off, a rollout's candidate and old versions draining or stopping, in the order
    /// status.json lists them.
    var versions: [VersionRun] = []
    /// Every output fifo or terminal being read into the log, tagged with its version's id; a
    /// pump stays after its run when something outside the container keeps a write end.
    var outputs: [LogPump] = []
    /// The health check's timing and verdicts; nil for a service without one.
    var health: HealthMonitor?
    /// The health check under way.
    var healthProbe: HealthProbe?
    /// Why the supervisor itself ended the current run (an unhealthy container), for its exit record.
    var exitReason: String?
    /// -it: stdin.fifo copied into the current run's terminal (Supervisor+Terminal).
    var terminalInput: InputCopy?
    /// The window size last asked for with `resize`, for every run's terminal.
    var windowSize: (rows: UInt16, columns: UInt16)?
    /// The restart back-off and the restart to come.
    var restarts = RestartSchedule()
    /// When to drop the executable's pages the loop does not use while it waits (those inherited
    /// from ctr, those a container's start or an event's handling mapped again): once the loop
    /// has been quiet for a moment, so that neither a short-lived container's exit nor the new
    /// container's first output finds its code just dropped. Every event sets it again: output
    /// that came after the drop (a container slow to start) would otherwise keep its code mapped
    /// for good. Coming back costs a few dozen minor faults (64 KiB each, see InheritedPages).
    var inheritedPagesDue: Int64? = monotonicNanoseconds() + InheritedPages.quietNanoseconds
    /// Set when that moment has come: the drop runs right before the next poll().
    var dropInheritedPages = false
    /// Accepted connections that have not sent their request yet.
    var clients: [(fd: FileDescriptor, deadline: Int64)] = []
    /// stop and wait requests, answered when the service ends for good.
    var waiters: [FileDescriptor] = []
    var ended = false

    /// The published ports (-p); nil for a service without any.
    var forwarder: PortForwarder?
    /// The listening sockets handed to every version as descriptors 3... (--listen).
    var activationSockets: [FileDescriptor] = []
    var rollout: RolloutInFlight?
    /// The active version has ended for good, but side versions are still being stopped.
    var finishWhenSidesGone = false

    /// The active version's place in `versions`; nil between runs.
    var activeIndex: Int? { versions.firstIndex { $0.role == .active } }
    var active: VersionRun? { activeIndex.map { versions[$0] } }
    /// Whether versions other than the active one are running.
    var hasSides: Bool { versions.contains { $0.role != .active } }

    /// How long a client may take to send its request after connecting.
    static let clientDeadlineNanoseconds: Int64 = 5_000_000_000
    static let maximumClients = 64
    /// The grace period of a stop the supervisor starts itself (on SIGTERM).
    static let defaultStopTimeout = 10

    /// Sets up everything but the container: signal handlers, the control socket (listening
    /// before any container exists, so ctr may talk to us as soon as we report) and the log.
    init(service: ServiceDirectory, definition: ServiceDefinition, plan: LaunchPlan, configBytes: [UInt8],
         state: ServiceState, report: FileDescriptor?) throws(BerthError) {
        self.service = service
        self.definition = definition
        self.plan = plan
        self.configBytes = configBytes
        containers = Containers(store: StateStore(root: service.runtimeRoot))
        self.report = report
        signals = try SignalPipe.install([SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE])
        listener = try ControlSocket.listen(at: service.socketPath)
        let me = Glibc.getpid()
        status = ServiceStatus(state: state, supervisorPid: me, supervisorStartTime: ProcessControl.startTime(me) ?? 0)
        log = try LogFile(path: service.logPath, rotatedPath: service.rotatedLogPath, maximumBytes: definition.logMaximumBytes)
        health = definition.health.map(HealthMonitor.init(check:))
        forwarder = try Supervisor.publishedPorts(definition)
    }

    private enum Source {
        case signals, listener, client, waiter, healthCheck, healthOutput, forwarded, terminalInput
        /// `versions[i]`'s init exited.
        case exit(Int)
        /// `outputs[i]` is readable.
        case output(Int)
    }

    /// Serves until the service has ended for good.
    func serve() {
        while !ended {
            var entries: [pollfd] = []
            var sources: [Source] = []
            func watch(_ fd: FileDescriptor, _ source: Source) {
                entries.append(pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0))
                sources.append(source)
            }
            watch(signals, .signals)
            watch(listener, .listener)
            for (index, version) in versions.enumerated() { watch(version.container.pidfd, .exit(index)) }
            if let probe = healthProbe {
                watch(probe.pidfd, .healthCheck)
                if let output = probe.output { watch(output, .healthOutput) }
            }
            for (index, output) in outputs.enumerated() { watch(output.descriptor, .output(index)) }
            if let entry = terminalInputEntry {
                entries.append(entry)
                sources.append(.terminalInput)
            }
            for client in clients { watch(client.fd, .client) }
            for waiter in waiters { watch(waiter, .waiter) }
            if let forwarder {
                let first = entries.count
                forwarder.watch(&entries)
                sources += Array(repeating: .forwarded, count: entries.count - first)
            }

            let timeout = pollTimeout()
            var dropPages = dropInheritedPages
            dropInheritedPages = false
            let ready: Int32
            do {
                ready = try sys("poll") {
                    // In the same C call as the poll: code run after the drop is mapped again.
                    if dropPages {
                        dropPages = false
                        return InheritedPages.dropThenPoll(&entries, timeout: timeout)
                    }
                    return Glibc.poll(&entries, nfds_t(entries.count), timeout)
                }
            } catch {
                SupervisorLog.warn("\(error)")
                usleep(100_000)
                continue
            }
            if ready > 0 {
                handle(entries, sources)
                // The drop waits for a quiet second: dropped now, the pages would only come
                // back with the next event (a new container's first output, say).
                inheritedPagesDue = monotonicNanoseconds() + InheritedPages.quietNanoseconds
            }
            if !ended { fireTimers() }
        }
    }

    private func handle(_ entries: [pollfd], _ sources: [Source]) {
        var finishedOutputs: [Int] = []
        var readyClients: Set<Int32> = []
        var goneWaiters: Set<Int32> = []
        var healthCheckExited = false
        var newSignals: [Int32] = []
        var acceptPending = false
        var exited: [String] = []
        var forwarded: [pollfd] = []
        var wroteOutput = false
        // Output first: lines written before the exit belong in the log before the exit is recorded.
        for (entry, source) in zip(entries, sources) where entry.revents != 0 {
            switch source {
            case .output(let index):
                wroteOutput = true
                if outputs[index].pump(into: &log) { finishedOutputs.append(index) }
            case .exit(let index): exited.append(versions[index].id)
            case .healthCheck: healthCheckExited = true
            case .healthOutput: healthOutputReady()
            case .terminalInput: terminalInputReady()
            case .signals: newSignals = SignalPipe.drain(signals)
            case .listener: acceptPending = true
            case .client: readyClients.insert(entry.fd)
            // A waiter never sends more: readable means it hung up.
            case .waiter: goneWaiters.insert(entry.fd)
            case .forwarded: forwarded.append(entry)
            }
        }
        if wroteOutput { tellAttachedOfOutput() }
        forwarder?.handle(forwarded)
        for index in finishedOutputs.reversed() {
            outputs[index].descriptor.close()
            outputs.remove(at: index)
        }
        waiters.removeAll { waiter in
            guard goneWaiters.contains(waiter.rawValue) else { return false }
            waiter.close()
            return true
        }
        // Each step below may end the service (finish() closes everything), so each checks.
        for signal in newSignals where !ended {
            switch signal {
            case SIGTERM, SIGINT: beginStop(timeoutSeconds: Supervisor.defaultStopTimeout)
            case SIGCHLD: reapStrays()
            default: break
            }
        }
        // By id: each exit may remove versions, moving the others' indices.
        for id in exited where !ended {
            if let index = versions.firstIndex(where: { $0.id == id }) { versionExited(index) }
        }
        if healthCheckExited && !ended { self.healthCheckExited() }
        let ready = clients.filter { readyClients.contains($0.fd.rawValue) }
        clients.removeAll { readyClients.contains($0.fd.rawValue) }
        for client in ready {
            if ended {
                client.fd.close()
            } else if !serveClient(client.fd) {
                clients.append(client)
            }
        }
        if acceptPending && !ended { acceptClients() }
    }

    /// Milliseconds until the nearest deadline, -1 for none.
    private func pollTimeout() -> Int32 {
        let deadlines = [restarts.due, inheritedPagesDue, health?.deadline, forwarder?.nextDeadline(), rollout?.controller.deadline].compactMap { $0 }
            + clients.map(\.deadline) + versions.compactMap { $0.deadline }
        guard let nearest = deadlines.min() else { return -1 }
        let remaining = nearest - monotonicNanoseconds()
        if remaining <= 0 { return 0 }
        return Int32(min((remaining + 999_999) / 1_000_000, Int64(Int32.max)))
    }

    private func fireTimers() {
        let now = monotonicNanoseconds()
        if restarts.fire(now: now) { restart() }
        if let due = inheritedPagesDue, due <= now {
            inheritedPagesDue = nil
            dropInheritedPages = true
        }
        if !ended { healthTimerFired(now: now) }
        if !ended {
            forwarder?.fireTimers(now: now)
            tendRollout(now: now)
            tendVersions(now: now)
        }
        let expired = clients.indices.filter { clients[$0].deadline <= now }
        for index in expired.reversed() {
            clients[index].fd.close()
            clients.remove(at: index)
        }
    }

    /// Collects exited children that are not the init: hook processes the runtime did not wait
    /// for, health checks given up on, and processes reparented to us as subreaper. The init's
    /// status is kept for its exit, the running health check's for its result.
    func reapStrays() {
        while true {
            var raw: Int32 = 0
            let pid = Glibc.waitpid(-1, &raw, WNOHANG)
            if pid <= 0 { return }
            let signal = raw & 0x7f
            let termination: ProcessControl.Termination = signal == 0 ? .exited((raw >> 8) & 0xff) : .signaled(signal)
            if let index = versions.firstIndex(where: { $0.container.pid == pid }) {
                versions[index].reaped = termination
            } else if !healthCheckReaped(pid, termination) {
                candidateCheckReaped(pid, termination)
            }
        }
    }

    /// One `output` report per loop turn that logged something, to a ctr still attached. Never
    /// waits: when the channel is full the ctr has reports to read already; when it is gone
    /// (a detached run closes its end) the channel is dropped.
    private func tellAttachedOfOutput() {
        guard let report else { return }
        let bytes = SupervisorReport.output.encoded
        let sent = bytes.withUnsafeBytes { Glibc.send(report.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        if sent < 0 && Glibc.errno != EAGAIN && Glibc.errno != EINTR {
            report.close()
            self.report = nil
        }
    }

    func saveStatus() {
        let others = versions.compactMap { $0.status() }
        status.others = others.isEmpty ? nil : others
        do { try service.save(status) } catch { SupervisorLog.warn("saving status: \(error)") }
    }
}
