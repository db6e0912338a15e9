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
        activeNetns?.close()
        activeNetns = SideVersion.networkNamespace(of: started.pid)
        forwarder?.target = PortForwarder.Target(version: status.version ?? 1, netns: activeNetns)
        run = started
        reapedInit = nil
        pumps += started.pumps
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

    /// The init exited: record how, remove the container (and whatever it left in its cgroup),
    /// then restart it or end the service.
    func handleContainerExit() {
        guard let ended = run else { return }
        var termination: ProcessControl.Termination?
        if let reaped = reapedInit {
            termination = reaped
        } else if !ended.adopted {
            do { termination = try ProcessControl.wait(ended.pid) } catch { SupervisorLog.warn("waiting for the init \(ended.pid): \(error)") }
        }
        let oomKilled = containers.oomKills(plan.id) > 0
        do { try containers.delete(plan.id, force: true) } catch { SupervisorLog.warn("removing container \(plan.id): \(error)") }
        ended.pidfd.close()
        ended.terminal?.close()
        run = nil
        reapedInit = nil
        killDue = nil
        // New connections wait (a while) for the next run rather than reach a dead namespace.
        forwarder?.target = nil
        activeNetns?.close()
        activeNetns = nil
        suspendHealth()
        drainPumps()
        if let termination {
            var exit = ExitRecord(startedAt: ended.startedAt, finishedAt: .now(), termination: termination, oomKilled: oomKilled)
            exit.error = exitReason
            exitReason = nil
            status.record(exit)
        } else {
            status.record(ExitRecord(startedAt: ended.startedAt, finishedAt: .now(), oomKilled: oomKilled,
                                     error: "the exit status is unknown: the container was adopted from a supervisor that died"))
        }
        status.pid = 0
        status.pidStartTime = 0
        if status.stopRequested || !definition.restart.restarts(after: termination, restartsSoFar: status.restartCount) {
            endService()
        } else {
            scheduleRestart(uptime: monotonicNanoseconds() - ended.startedMonotonic)
        }
    }

    /// The active version has ended for good: the service ends once no side version is left.
    func endService() {
        guard sides.isEmpty else {
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
            run = adopted
            pumps += adopted.pumps
            activeNetns = SideVersion.networkNamespace(of: adopted.pid)
            forwarder?.target = PortForwarder.Target(version: status.version ?? 1, netns: activeNetns)
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
            guard other.isAlive, let (sidePlan, config) = storedPlan(other.version),
                  let adopted = try? adoptRun(pid: other.pid, startTime: other.pidStartTime, startedAt: other.startedAt, fifos: fifos) else {
                try? containers.delete(other.version.id, force: true)
                continue
            }
            let remaining = other.drainDeadline.map { $0.nanoseconds - Timestamp.now().nanoseconds } ?? 0
            var side = SideVersion(version: other.version, plan: sidePlan, configBytes: config, run: adopted,
                                   netns: SideVersion.networkNamespace(of: adopted.pid),
                                   pumps: adopted.pumps,
                                   role: other.role == .candidate ? VersionRole.stopping : other.role,
                                   drainDue: monotonicNanoseconds() + max(0, remaining), drainDeadline: other.drainDeadline)
            if other.role == .candidate {
                SupervisorLog.warn("rollout to version \(other.version.number) rolled back: its supervisor died before the switch")
                try? containers.kill(other.version.id, signal: SIGKILL, all: true)
                _ = Glibc.unlink(service.nextConfigPath)
            }
            if side.role == .stopping { side.killDue = monotonicNanoseconds() }
            sides.append(side)
        }
    }

    /// A version's plan from the config the runtime stored when it created the container.
    private func storedPlan(_ version: ServiceVersion) -> (LaunchPlan, [UInt8])? {
        guard let config = try? Files.read(containers.store.directory(version.id) + "/config.json"),
              let spec = try? decodeJSON(Spec.self, from: config) else { return nil }
        let cache = SeccompCache(stateRoot: service.root)
        guard let plan = try? LaunchPlan(spec: spec, id: version.id, bundle: version.bundle, seccompCache: cache) else { return nil }
        return (plan, config)
    }

    /// The container ended (or was never started) while no supervisor watched.
    private func adoptEndedContainer(_ previous: ServiceStatus) throws(BerthError) {
        let kept = Set(sides.map(\.plan.id))
        for container in containers.store.list() where !kept.contains(container) { try containers.delete(container, force: true) }
        status.pid = 0
        status.pidStartTime = 0
        // Between runs, the exit was recorded already; otherwise it went unseen.
        if previous.state != .restarting {
            status.record(ExitRecord(startedAt: previous.startedAt, finishedAt: .now(),
                                     error: "ended while its supervisor was gone; the exit status is unknown"))
        }
        if status.stopRequested || previous.state == .stopping
            || !definition.restart.restarts(after: nil, restartsSoFar: status.restartCount) {
            endService()
        } else {
            scheduleRestart(uptime: 0)
        }
    }

    private func scheduleRestart(uptime: Int64) {
        let delay = backoff.delay(afterUptime: uptime)
        restartDue = monotonicNanoseconds() + delay
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
            if definition.restart.restarts(after: nil, restartsSoFar: status.restartCount) {
                scheduleRestart(uptime: 0)
            } else {
                finish()
            }
        }
    }

    /// SIGTERM to the init, then after `timeoutSeconds` SIGKILL to the whole cgroup. The restart
    /// policy no longer applies. A second stop can only shorten the grace period.
    func beginStop(timeoutSeconds: Int) {
        status.stopRequested = true
        guard run != nil else {
            // Between runs (restarting) or not started: nothing to signal.
            restartDue = nil
            if status.state != .exited { endService() }
            return
        }
        stopSides(graceSeconds: timeoutSeconds)
        let deadline = monotonicNanoseconds() + Int64(timeoutSeconds) * 1_000_000_000
        if killDue.map({ deadline < $0 }) ?? true { killDue = deadline }
        if status.state == .paused {
            // A frozen init cannot act on SIGTERM; cgroup.kill works frozen or not.
            do { try containers.resume(plan.id) } catch { SupervisorLog.warn("thawing for stop: \(error)") }
        }
        if timeoutSeconds == 0 {
            killDue = nil
            killEverything()
        } else if status.state != .stopping {
            do { try containers.kill(plan.id, signal: SIGTERM, all: false) } catch { SupervisorLog.warn("stop: SIGTERM: \(error)") }
        }
        status.state = .stopping
        saveStatus()
    }

    /// SIGKILL to every process of the container at once (cgroup.kill).
    func killEverything() {
        guard run != nil else { return }
        do {
            try containers.kill(plan.id, signal: SIGKILL, all: true)
        } catch {
            SupervisorLog.warn("stop: killing the cgroup: \(error)")
            if let pidfd = run?.pidfd { try? ProcessControl.signal(pidfd: pidfd, SIGKILL) }
        }
    }

    /// Reads what the output fifos still hold. After the container's cgroup is gone nobody can
    /// write to them any more, so this reaches end of file unless something outside the
    /// container kept a write end; such a pump stays in the loop.
    func drainPumps() {
        var index = 0
        while index < pumps.count {
            if pumps[index].pump(into: &log, budget: Int.max) {
                pumps[index].descriptor.close()
                pumps.remove(at: index)
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
        activeNetns?.close()
        activeNetns = nil
        restartDue = nil
        killDue = nil
        status.state = .exited
        status.nextRestartAt = nil
        status.pid = 0
        status.pidStartTime = 0
        saveStatus()
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
        for pump in pumps { pump.descriptor.close() }
        pumps = []
        terminalInput?.source.close()
        terminalInput = nil
        log.close()
        if definition.removeWhenDone { Files.removeTree(service.path) }
        ended = true
    }
}
