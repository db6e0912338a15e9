import Glibc
import Linux
import Runtime
import SupervisorAPI

/// Starting, restarting and stopping the container, and ending the service.
extension Supervisor {
    /// Creates and starts a container; on success the service is running.
    func startContainer() throws(BerthError) {
        if status.state == .starting { saveStatus() }
        let started = try ContainerRun.start(store: containers.store, plan: plan, configBytes: configBytes, service: service)
        run = started
        reapedInit = nil
        pumps.append(LogPump(descriptor: started.stdout, stream: .stdout))
        pumps.append(LogPump(descriptor: started.stderr, stream: .stderr))
        status.state = .running
        status.pid = started.pid
        status.pidStartTime = started.pidStartTime
        status.startedAt = started.startedAt
        status.nextRestartAt = nil
        exitReason = nil
        resetHealth()
        saveStatus()
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
        run = nil
        reapedInit = nil
        killDue = nil
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
            finish()
        } else {
            scheduleRestart(uptime: monotonicNanoseconds() - ended.startedMonotonic)
        }
    }

    /// Takes over the container a dead supervisor left, as `status` (its last record) describes
    /// it, and carries on from the state it was in.
    func adoptContainer() throws(BerthError) {
        let previous = status
        if previous.containerIsAlive, let pidfd = try? ProcessControl.openPidfd(previous.pid) {
            // Checked after opening the pidfd, which then cannot name a recycled pid.
            guard ProcessControl.startTime(previous.pid) == previous.pidStartTime else {
                pidfd.close()
                return try adoptEndedContainer(previous)
            }
            let stdout = try FileDescriptor.open(service.stdoutFifoPath, O_RDONLY | O_NONBLOCK)
            let stderr: FileDescriptor
            do { stderr = try FileDescriptor.open(service.stderrFifoPath, O_RDONLY | O_NONBLOCK) } catch {
                stdout.close()
                pidfd.close()
                throw error
            }
            let startedAt = previous.startedAt ?? .now()
            let uptime = Timestamp.now().nanoseconds - startedAt.nanoseconds
            run = ContainerRun(pid: previous.pid, pidStartTime: previous.pidStartTime, pidfd: pidfd, stdout: stdout, stderr: stderr,
                               startedAt: startedAt, startedMonotonic: monotonicNanoseconds() - uptime, adopted: true)
            pumps.append(LogPump(descriptor: stdout, stream: .stdout))
            pumps.append(LogPump(descriptor: stderr, stream: .stderr))
            if previous.state != .paused { status.state = .running }
            resetHealth()
            saveStatus()
            // A stop under way when the old supervisor died is finished with a fresh grace period.
            if previous.state == .stopping { beginStop(timeoutSeconds: Supervisor.defaultStopTimeout) }
        } else {
            try adoptEndedContainer(previous)
        }
    }

    /// The container ended (or was never started) while no supervisor watched.
    private func adoptEndedContainer(_ previous: ServiceStatus) throws(BerthError) {
        for container in containers.store.list() { try containers.delete(container, force: true) }
        status.pid = 0
        status.pidStartTime = 0
        // Between runs, the exit was recorded already; otherwise it went unseen.
        if previous.state != .restarting {
            status.record(ExitRecord(startedAt: previous.startedAt, finishedAt: .now(),
                                     error: "ended while its supervisor was gone; the exit status is unknown"))
        }
        if status.stopRequested || previous.state == .stopping
            || !definition.restart.restarts(after: nil, restartsSoFar: status.restartCount) {
            finish()
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
            if status.state != .exited { finish() }
            return
        }
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
        log.close()
        if definition.removeWhenDone { Files.removeTree(service.path) }
        ended = true
    }
}
