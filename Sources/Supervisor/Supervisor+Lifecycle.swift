import BerthCore
import Glibc
import Linux
import OCI
import Runtime
import Seccomp
import SupervisorAPI

/// Starting, restarting and stopping the container, and ending the service.
extension Supervisor {
    /// Creates and starts a container; on success the service is running.
    func startContainer() throws(BerthError) {
        if status.state == .starting { saveStatus() }
        try openActivationSockets()
        let started = try startRun(plan: plan, configBytes: configBytes, version: status.version ?? 1)
        activate(started)
        attachTerminal(started)
        status.state = .running
        status.pid = started.pid
        status.pidStartTime = started.pidStartTime
        status.startedAt = started.startedAt
        status.nextRestartAt = nil
        exitReason = nil
        resetHealth()
        saveStatus()
    }

    /// Creates and starts a container of version `version` with that version's fifos and the
    /// activation sockets; the active version's with the service's stdin fifo (-i without -t).
    func startRun(plan: LaunchPlan, configBytes: [UInt8], version: Int) throws(BerthError) -> ContainerRun {
        let stdin = definition.hasStdin && plan.id == definition.id ? service.stdinFifoPath : nil
        return try ContainerRun.start(store: containers.store, plan: plan, configBytes: configBytes,
                                      fifos: service.fifoPaths(version: version, id: plan.id), passing: activationSockets, stdin: stdin)
    }

    /// The active version's container, just started or adopted, from now on receives new connections.
    private func activate(_ container: ContainerRun) {
        let version = definition.version(number: status.version ?? 1)
        add(VersionRun(version: version, role: .active, container: container, netns: VersionRun.networkNamespace(of: container.pid)))
        forwarder?.target = PortForwarder.Target(version: version.number, netns: active?.netns)
    }

    /// Adds a version and hands its output to the loop.
    func add(_ added: VersionRun) {
        var version = added
        for var pump in version.container.pumps {
            pump.version = version.id
            outputs.append(pump)
        }
        version.container.pumps = []
        versions.append(version)
    }

    /// A version's init exited.
    func versionExited(_ index: Int) {
        switch versions[index].role {
        case .active: activeExited(index)
        case .candidate where rollout != nil: candidateExited(index)
        case .candidate, .draining, .stopping: sideExited(index)
        }
    }

    /// The active version's init exited: record how, remove the container (and whatever it left
    /// in its cgroup), then restart it or end the service.
    private func activeExited(_ index: Int) {
        let ended = versions.remove(at: index)
        var termination = ended.reaped
        if termination == nil && !ended.container.adopted {
            do { termination = try ProcessControl.wait(ended.container.pid) } catch {
                SupervisorLog.warn("waiting for the init \(ended.container.pid): \(error)")
            }
        }
        let oomKilled = containers.oomKills(ended.id) > 0
        do { try containers.delete(ended.id, force: true) } catch { SupervisorLog.warn("removing container \(ended.id): \(error)") }
        ended.container.pidfd.close()
        ended.container.terminal?.close()
        // New connections wait (a while) for the next run rather than reach a dead namespace.
        forwarder?.target = nil
        ended.netns?.close()
        suspendHealth()
        drainOutputs()
        let started = ended.container
        if let termination {
            var exit = ExitRecord(startedAt: started.startedAt, finishedAt: .now(), termination: termination, oomKilled: oomKilled)
            exit.error = exitReason
            exitReason = nil
            status.record(exit)
        } else {
            status.record(ExitRecord(startedAt: started.startedAt, finishedAt: .now(), oomKilled: oomKilled,
                                     error: "the exit status is unknown: the container was adopted from a supervisor that died"))
        }
        status.pid = 0
        status.pidStartTime = 0
        let now = monotonicNanoseconds()
        let decision = restarts.runEnded(termination, uptime: now - started.startedMonotonic, policy: definition.restart,
                                         restartsSoFar: status.restartCount, stopRequested: status.stopRequested, now: now)
        carryOut(decision, orElse: endService)
    }

    /// The active version has ended for good: the service ends once no side version is left.
    func endService() {
        guard !hasSides else {
            finishWhenSidesGone = true
            status.state = .stopping
            stopSides(graceSeconds: Supervisor.defaultStopTimeout)
            saveStatus()
            return
        }
        finish()
    }

    /// Takes over the container a dead supervisor left, as `status` (its last record) describes
    /// it, and carries on from the state it was in.
    func adoptContainer() throws(BerthError) {
        let previous = status
        status.version = previous.version
        do { try openActivationSockets(adoptingFrom: previous.containerIsAlive ? previous.pid : nil) } catch {
            SupervisorLog.warn("\(error); new versions will not get the socket")
        }
        adoptSides(previous.others ?? [])
        // A run with a terminal has no fifos, and its terminal died with the old supervisor.
        let fifos = definition.hasTerminal ? nil : service.fifoPaths(version: previous.version ?? 1, id: definition.id)
        if previous.containerIsAlive,
           let adopted = try adoptRun(pid: previous.pid, startTime: previous.pidStartTime, startedAt: previous.startedAt, fifos: fifos) {
            activate(adopted)
            if previous.state != .paused { status.state = .running }
            resetHealth()
            saveStatus()
            // A stop under way when the old supervisor died is finished with a fresh grace period.
            if previous.state == .stopping { beginStop(timeoutSeconds: Supervisor.defaultStopTimeout) }
        } else {
            try adoptEndedContainer(previous)
        }
    }

    /// Takes over a running init through a pidfd, with its output fifos (none for a run whose
    /// terminal is gone); nil when `pid` is no longer the process that started at `startTime`.
    func adoptRun(pid: pid_t, startTime: UInt64, startedAt: Timestamp?, fifos: (stdout: String, stderr: String)?) throws(BerthError) -> ContainerRun? {
        guard let pidfd = try? ProcessControl.openPidfd(pid) else { return nil }
        // Checked after opening the pidfd, which then cannot name a recycled pid.
        guard ProcessControl.startTime(pid) == startTime else {
            pidfd.close()
            return nil
        }
        var pumps: [LogPump] = []
        if let fifos {
            let stdout: FileDescriptor, stderr: FileDescriptor
            do { stdout = try FileDescriptor.open(fifos.stdout, O_RDONLY | O_NONBLOCK) } catch {
                pidfd.close()
                throw error
            }
            do { stderr = try FileDescriptor.open(fifos.stderr, O_RDONLY | O_NONBLOCK) } catch {
                stdout.close()
                pidfd.close()
                throw error
            }
            pumps = [LogPump(descriptor: stdout, stream: .stdout), LogPump(descriptor: stderr, stream: .stderr)]
        }
        let started = startedAt ?? .now()
        let uptime = Timestamp.now().nanoseconds - started.nanoseconds
        return ContainerRun(pid: pid, pidStartTime: startTime, pidfd: pidfd, pumps: pumps, startedAt: started,
                            startedMonotonic: monotonicNanoseconds() - uptime, adopted: true)
    }

    /// The versions a dead supervisor ran beside the active one. Their forwarded connections
    /// died with it, so a draining version has nothing left to drain and is stopped; a
    /// candidate never served and is removed (the rollout is rolled back). A version sharing
    /// a --listen socket keeps draining its own connections until its deadline.
    private func adoptSides(_ others: [VersionStatus]) {
        for other in others {
            let fifos = service.fifoPaths(version: other.version.number, id: other.version.id)
            guard other.isAlive, hasStoredConfig(other.version),
                  let adopted = try? adoptRun(pid: other.pid, startTime: other.pidStartTime, startedAt: other.startedAt, fifos: fifos) else {
                try? containers.delete(other.version.id, force: true)
                continue
            }
            let side = VersionRun.adopted(other, container: adopted, netns: VersionRun.networkNamespace(of: adopted.pid),
                                          now: monotonicNanoseconds(), wallNow: .now())
            if other.role == .candidate {
                SupervisorLog.warn("rollout to version \(other.version.number) rolled back: its supervisor died before the switch")
                try? containers.kill(other.version.id, signal: SIGKILL, all: true)
                _ = Glibc.unlink(service.nextConfigPath)
            }
            add(side)
        }
    }

    /// Whether the runtime still holds a valid plan for a version's container: one that does
    /// not is not ours to adopt, and is removed.
    private func hasStoredConfig(_ version: ServiceVersion) -> Bool {
        guard let config = try? Files.read(containers.store.directory(version.id) + "/config.json"),
              let spec = try? decodeJSON(Spec.self, from: config) else { return false }
        let cache = SeccompCache(stateRoot: service.root)
        return (try? LaunchPlan(spec: spec, id: version.id, bundle: version.bundle, seccompCache: cache)) != nil
    }

    /// The container ended (or was never started) while no supervisor watched.
    private func adoptEndedContainer(_ previous: ServiceStatus) throws(BerthError) {
        let kept = Set(versions.map { $0.id })
        for container in containers.store.list() where !kept.contains(container) { try containers.delete(container, force: true) }
        status.pid = 0
        status.pidStartTime = 0
        // Between runs, the exit was recorded already; otherwise it went unseen.
        if previous.state != .restarting {
            status.record(ExitRecord(startedAt: previous.startedAt, finishedAt: .now(),
                                     error: "ended while its supervisor was gone; the exit status is unknown"))
        }
        let decision = restarts.runEnded(nil, uptime: 0, policy: definition.restart, restartsSoFar: status.restartCount,
                                         stopRequested: status.stopRequested || previous.state == .stopping, now: monotonicNanoseconds())
        carryOut(decision, orElse: endService)
    }

    /// A restart is booked in the status (its time after the last exit's); else `end` runs.
    private func carryOut(_ decision: RestartSchedule.Decision, orElse end: () -> Void) {
        guard case .restart(_, let delay) = decision else { return end() }
        let due = Timestamp(nanoseconds: (status.exits.last?.finishedAt ?? .now()).nanoseconds + delay)
        status.state = .restarting
        status.nextRestartAt = due
        if !status.exits.isEmpty { status.exits[status.exits.count - 1].restartAt = due }
        saveStatus()
    }

    func restart() {
        status.restartCount += 1
        do {
            try startContainer()
            // Creating the container mapped the runtime's code again (see InheritedPages).
            inheritedPagesDue = monotonicNanoseconds() + InheritedPages.quietNanoseconds
        } catch {
            // A container that cannot even be created counts as a failed run.
            SupervisorLog.warn("restart \(status.restartCount): \(error)")
            status.record(ExitRecord(startedAt: nil, finishedAt: .now(), error: error.description))
            let decision = restarts.runEnded(nil, uptime: 0, policy: definition.restart, restartsSoFar: status.restartCount,
                                             stopRequested: false, now: monotonicNanoseconds())
            carryOut(decision, orElse: finish)
        }
    }

    /// SIGTERM to the init, then after `timeoutSeconds` SIGKILL to the whole cgroup. The restart
    /// policy no longer applies. A second stop can only shorten the grace period.
    func beginStop(timeoutSeconds: Int) {
        status.stopRequested = true
        guard active != nil else {
            // Between runs (restarting) or not started: nothing to signal.
            restarts.cancel()
            if status.state != .exited { endService() }
            return
        }
        stopSides(graceSeconds: timeoutSeconds)
        // Looked up after stopSides, which may have removed a candidate.
        guard let index = activeIndex else { return }
        let deadline = monotonicNanoseconds() + Int64(timeoutSeconds) * 1_000_000_000
        if versions[index].killDue.map({ deadline < $0 }) ?? true { versions[index].killDue = deadline }
        if status.state == .paused {
            // A frozen init cannot act on SIGTERM; cgroup.kill works frozen or not.
            do { try containers.resume(plan.id) } catch { SupervisorLog.warn("thawing for stop: \(error)") }
        }
        if timeoutSeconds == 0 {
            versions[index].killDue = nil
            killCgroup(of: index)
        } else if status.state != .stopping {
            do { try containers.kill(plan.id, signal: SIGTERM, all: false) } catch { SupervisorLog.warn("stop: SIGTERM: \(error)") }
        }
        status.state = .stopping
        saveStatus()
    }

    /// SIGKILL to every process of the active version's container at once (cgroup.kill).
    func killEverything() {
        if let index = activeIndex { killCgroup(of: index) }
    }

    /// SIGKILL to every process of `versions[index]` (cgroup.kill), or to its init when the
    /// cgroup cannot be killed.
    func killCgroup(of index: Int) {
        do {
            try containers.kill(versions[index].id, signal: SIGKILL, all: true)
        } catch {
            SupervisorLog.warn("stop: killing the cgroup of version \(versions[index].version.number): \(error)")
            try? ProcessControl.signal(pidfd: versions[index].container.pidfd, SIGKILL)
        }
    }

    /// Reads what the output fifos of ended runs still hold. After a container's cgroup is gone
    /// nobody can write to them any more, so this reaches end of file unless something outside
    /// the container kept a write end; such a pump stays in the loop.
    func drainOutputs() {
        let running = Set(versions.map { $0.id })
        var index = 0
        while index < outputs.count {
            if !running.contains(outputs[index].version) && outputs[index].pump(into: &log, budget: Int.max) {
                outputs[index].descriptor.close()
                outputs.remove(at: index)
            } else {
                index += 1
            }
        }
    }

    /// The service has ended for good: final status, answers to stop and wait, then the socket
    /// goes, and with --rm the whole service directory.
    func finish() {
        if rollout != nil { abortRollout("the service ended") }
        forwarder?.closeAll()
        forwarder = nil
        for socket in activationSockets { socket.close() }
        activationSockets = []
        restarts.cancel()
        status.state = .exited
        status.nextRestartAt = nil
        status.pid = 0
        status.pidStartTime = 0
        saveStatus()
        // --rm: the service is gone before anyone hears that it ended, so that `ctr run --rm`
        // (and `ctr wait`, `ctr stop`) return with the name free for reuse at once.
        if definition.removeWhenDone { removeServiceFiles() }
        let answer = ControlResponse.ended(status).encoded
        for waiter in waiters {
            try? ControlSocket.send(answer, on: waiter)
            waiter.close()
        }
        waiters = []
        if let report {
            try? ControlSocket.send(SupervisorReport.ended(status).encoded, on: report)
            report.close()
            self.report = nil
        }
        for client in clients { client.fd.close() }
        clients = []
        _ = Glibc.unlink(service.socketPath)
        listener.close()
        for output in outputs { output.descriptor.close() }
        outputs = []
        terminalInput?.source.close()
        terminalInput = nil
        log.close()
        ended = true
    }

    /// The service's directories, its socket with them: the listener stays open until the end,
    /// and the supervisor.log descriptor too (only the names go).
    private func removeServiceFiles() {
        service.remove()
    }
}
