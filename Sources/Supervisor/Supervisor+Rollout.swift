import BerthCore
import Glibc
import Linux
import OCI
import Runtime
import Seccomp
import SupervisorAPI

/// The hand-off: a new version starts beside the active one, new connections switch to it
/// once it is ready, and the old one drains its connections before it is stopped. A candidate
/// that exits, or is not ready in time, is removed and the old version never stops serving.
extension Supervisor {
    /// Starts the candidate. The answer goes to `requester` once it serves or has been removed.
    func beginRollout(_ request: RolloutRequest, requester: FileDescriptor) -> ControlResponse? {
        if let rollout { return .failed("a rollout to version \(rollout.request.version.number) is already under way") }
        guard status.state == .running || status.state == .restarting else {
            return .failed("service is \(status.state.rawValue): a rollout needs it running")
        }
        let version = request.version
        let candidate: VersionRun
        let plan: LaunchPlan, configBytes: [UInt8]
        do {
            configBytes = try Files.read(service.nextConfigPath)
            let spec: Spec
            do { spec = try decodeJSON(Spec.self, from: configBytes) } catch { throw BerthError(.invalidConfig, "\(service.nextConfigPath): \(error)") }
            plan = try LaunchPlan(spec: spec, id: version.id, bundle: version.bundle,
                                  seccompCache: SeccompCache(stateRoot: service.root))
            let started = try startRun(plan: plan, configBytes: configBytes, version: version.number)
            candidate = VersionRun(version: version, role: .candidate, container: started, netns: VersionRun.networkNamespace(of: started.pid))
        } catch {
            _ = Glibc.unlink(service.nextConfigPath)
            let fifos = service.fifoPaths(version: version.number, id: version.id)
            _ = Glibc.unlink(fifos.stdout)
            _ = Glibc.unlink(fifos.stderr)
            return .failed("version \(version.number) could not start: \(error)")
        }
        let now = monotonicNanoseconds()
        add(candidate)
        rollout = RolloutInFlight(request: request, plan: plan, configBytes: configBytes, requester: requester,
                                  readyDue: now + Int64(request.readyTimeout) * 1_000_000, nextProbe: now)
        saveStatus()
        return nil
    }

    /// Probes the candidate's readiness when due, and gives up at the ready deadline.
    func tendRollout(now: Int64) {
        guard var inFlight = rollout, let index = versions.firstIndex(where: { $0.role == .candidate }) else { return }
        if now >= inFlight.readyDue {
            let seconds = Double(inFlight.request.readyTimeout) / 1000
            return abortRollout("version \(inFlight.request.version.number) did not become ready within \(formatSeconds(seconds))")
        }
        guard now >= inFlight.nextProbe else { return }
        inFlight.nextProbe = now + RolloutInFlight.probeNanoseconds
        let ready = candidateIsReady(versions[index], &inFlight, now: now)
        rollout = inFlight
        if ready {
            promote(index)
        } else if let check = definition.health, inFlight.failedChecks >= check.retries {
            abortRollout("version \(inFlight.request.version.number) failed its health check \(inFlight.failedChecks) times in a row"
                         + (inFlight.lastCheckOutput.isEmpty ? "" : ": \(inFlight.lastCheckOutput)"))
        }
    }

    /// Ready means: its health check passed when it has one; else its first published port
    /// accepts a connection; else (a --listen service) it stayed up for a second.
    private func candidateIsReady(_ candidate: VersionRun, _ inFlight: inout RolloutInFlight, now: Int64) -> Bool {
        if let check = definition.health { return candidateHealthPassed(check, candidate, &inFlight, now: now) }
        if let mapping = definition.ports?.first, let forwarder {
            if let probe = inFlight.probe {
                switch PortForwarder.connectOutcome(probe) {
                case .pending: return false
                case .connected:
                    probe.close()
                    inFlight.probe = nil
                    return true
                case .failed:
                    probe.close()
                    inFlight.probe = nil
                    return false
                }
            }
            guard let socket = try? forwarder.openUpstream(PortForwarder.Target(version: candidate.version.number, netns: candidate.netns),
                                                          port: mapping.containerPort) else { return false }
            // SO_ERROR is cleared by reading it: a failed connect must not be asked again.
            switch PortForwarder.connectOutcome(socket) {
            case .pending:
                inFlight.probe = socket
                return false
            case .connected:
                socket.close()
                return true
            case .failed:
                socket.close()
                return false
            }
        }
        return now - candidate.container.startedMonotonic >= RolloutInFlight.survivalNanoseconds
    }

    /// One health check of the candidate at a time, each started as soon as the last ended.
    private func candidateHealthPassed(_ check: HealthCheck, _ candidate: VersionRun, _ inFlight: inout RolloutInFlight, now: Int64) -> Bool {
        guard var probe = inFlight.check else {
            do { inFlight.check = try HealthProbe.start(check, store: containers.store, containerID: candidate.id) } catch {
                SupervisorLog.warn("health check of version \(candidate.version.number): \(error)")
            }
            return false
        }
        probe.readOutput()
        var exited = pollfd(fd: probe.pidfd.rawValue, events: Int16(POLLIN), revents: 0)
        let result: HealthResult
        if probe.reaped != nil || Glibc.poll(&exited, 1, 0) == 1 {
            result = probe.finish()
        } else if probe.deadline <= now {
            result = probe.timeOut(after: check.timeoutMilliseconds)
        } else {
            inFlight.check = probe
            return false
        }
        inFlight.check = nil
        if result.exitCode == 0 { return true }
        // As for a running service: failures in the start period do not count; `retries` in a
        // row mean it is unhealthy, and an unhealthy candidate is rolled back at once.
        if now - candidate.container.startedMonotonic >= check.startPeriodMilliseconds * 1_000_000 {
            inFlight.failedChecks += 1
            inFlight.lastCheckOutput = String(result.output.prefix(200).split(separator: "\n").first ?? "")
        }
        return false
    }

    /// Called by the stray reaper: keeps the exit status of the candidate's health check.
    func candidateCheckReaped(_ pid: pid_t, _ termination: ProcessControl.Termination) {
        if rollout?.check?.pid == pid { rollout?.check?.reaped = termination }
    }

    /// The next rollout deadline, for the loop's timeout.
    func rolloutDeadline() -> Int64? {
        guard let rollout else { return nil }
        return min(rollout.readyDue, rollout.nextProbe)
    }

    /// The switch: new connections go to the candidate from now on; the old version keeps its
    /// connections and drains.
    private func promote(_ index: Int) {
        guard var inFlight = rollout else { return }
        let candidateID = versions[index].id
        let now = monotonicNanoseconds()
        let previous = definition.version(number: status.version ?? 1)
        var draining: VersionRun?
        if let oldIndex = activeIndex {
            // Moved to the end: status.json lists the versions beside the active one in the
            // order they took their roles.
            var old = versions.remove(at: oldIndex)
            let drainDue = now + Int64(inFlight.request.drainTimeout) * 1_000_000
            old.version = previous
            old.role = .draining
            old.killDue = nil
            old.drainDue = drainDue
            old.drainDeadline = Timestamp(nanoseconds: Timestamp.now().nanoseconds + drainDue - now)
            versions.append(old)
            draining = old
        }
        guard let candidateIndex = versions.firstIndex(where: { $0.id == candidateID }) else { return }
        versions[candidateIndex].role = .active
        let candidate = versions[candidateIndex]
        plan = inFlight.plan
        configBytes = inFlight.configBytes
        forwarder?.target = PortForwarder.Target(version: candidate.version.number, netns: candidate.netns)
        if !activationSockets.isEmpty, let draining {
            // Both versions accept on the same socket until now; the old one is told to stop.
            do { try containers.kill(draining.id, signal: inFlight.request.drainSignal, all: false) } catch {
                SupervisorLog.warn("telling version \(draining.version.number) to stop accepting: \(error)")
            }
        }
        restartDue = nil
        backoff = RestartBackoff()
        status.state = .running
        status.version = candidate.version.number
        status.activeVersion = candidate.version
        status.pid = candidate.container.pid
        status.pidStartTime = candidate.container.pidStartTime
        status.startedAt = candidate.container.startedAt
        status.nextRestartAt = nil
        status.restartCount = 0
        resetHealth()
        // Status first: a supervisor that dies before the files follow leaves a status that
        // says which version is active, and the next one finishes the switch (finishSwitch).
        saveStatus()
        recordSwitch(from: previous, to: candidate.version)
        if let requester = inFlight.requester {
            try? ControlSocket.send(ControlResponse.status(liveStatus()).encoded, on: requester)
            requester.close()
            inFlight.requester = nil
        }
        rollout = nil
    }

    /// The files follow the switch: the new config becomes config.json, the old one is kept
    /// (with its version) for `ctr rollback`.
    private func recordSwitch(from previous: ServiceVersion, to next: ServiceVersion) {
        Supervisor.moveConfigs(service, keeping: previous)
        definition.adopt(next)
        definition.limits = Supervisor.limits(ofConfig: configBytes) ?? definition.limits
        do { try service.save(definition) } catch { SupervisorLog.warn("\(error)") }
    }

    /// config.json becomes config.previous.json (with previous.json naming its version) and
    /// config.next.json becomes config.json. A link, then a rename: config.json exists at
    /// every moment, whatever instant the supervisor dies at.
    static func moveConfigs(_ service: ServiceDirectory, keeping previous: ServiceVersion) {
        guard Files.exists(service.nextConfigPath) else { return }
        _ = Glibc.unlink(service.previousConfigPath)
        if Glibc.link(service.configPath, service.previousConfigPath) != 0 {
            SupervisorLog.warn("keeping the previous config: \(errnoDescription(Glibc.errno))")
        }
        do { try service.savePreviousVersion(previous) } catch { SupervisorLog.warn("\(error)") }
        if Glibc.rename(service.nextConfigPath, service.configPath) != 0 {
            SupervisorLog.warn("installing the new config: \(errnoDescription(Glibc.errno))")
        }
    }

    /// A supervisor that died between a switch's status and its files left service.json and
    /// config.json one version behind: they are brought up to the version status.json names,
    /// before anything reads them.
    static func finishSwitch(_ service: ServiceDirectory, _ definition: ServiceDefinition, _ status: ServiceStatus) throws(BerthError) -> ServiceDefinition {
        guard let active = status.activeVersion, active.id != definition.id else { return definition }
        moveConfigs(service, keeping: definition.version(number: active.number - 1))
        var caughtUp = definition
        caughtUp.adopt(active)
        if let config = try? Files.read(service.configPath) { caughtUp.limits = limits(ofConfig: config) ?? caughtUp.limits }
        try service.save(caughtUp)
        return caughtUp
    }

    /// The limits of a version's config, for ps: a bundle brings its own.
    static func limits(ofConfig bytes: [UInt8]) -> ServiceLimits? {
        (try? decodeJSON(Spec.self, from: bytes))?.linux?.resources.map(ServiceLimits.init(resources:))
    }

    /// Removes the candidate; the active version was never touched.
    func abortRollout(_ reason: String) {
        guard let inFlight = rollout else { return }
        rollout = nil
        inFlight.probe?.close()
        var check = inFlight.check
        check?.cancel()
        if let index = versions.firstIndex(where: { $0.role == .candidate }) {
            removeSide(index, killFirst: true)
        }
        _ = Glibc.unlink(service.nextConfigPath)
        SupervisorLog.warn("rollout to version \(inFlight.request.version.number) rolled back: \(reason)")
        saveStatus()
        if let requester = inFlight.requester {
            try? ControlSocket.send(ControlResponse.failed("rolled back: \(reason)").encoded, on: requester)
            requester.close()
        }
    }

    // MARK: draining

    /// Stops draining versions whose connections have all closed (or whose deadline passed),
    /// and kills the cgroup of a stopping version (or of the active one, being stopped) at the
    /// end of its grace period.
    func tendVersions(now: Int64) {
        for index in versions.indices {
            switch versions[index].role {
            case .candidate:
                break
            case .draining:
                let number = versions[index].version.number
                // With --listen the connections are the app's own: it closes them, then exits.
                let idle = activationSockets.isEmpty && (forwarder?.connectionCount(version: number) ?? 0) == 0
                let overdue = (versions[index].drainDue ?? .max) <= now
                guard idle || overdue else { continue }
                if overdue { forwarder?.resetConnections(version: number) }
                stopSide(index, graceSeconds: overdue && !activationSockets.isEmpty ? 0 : Supervisor.defaultStopTimeout)
            case .active, .stopping:
                if let due = versions[index].killDue, due <= now {
                    versions[index].killDue = nil
                    killCgroup(of: index)
                }
            }
        }
    }

    /// SIGTERM to a side version's init, the cgroup killed after `graceSeconds`.
    func stopSide(_ index: Int, graceSeconds: Int) {
        versions[index].role = .stopping
        if graceSeconds == 0 {
            try? containers.kill(versions[index].id, signal: SIGKILL, all: true)
        } else {
            versions[index].killDue = monotonicNanoseconds() + Int64(graceSeconds) * 1_000_000_000
            do { try containers.kill(versions[index].id, signal: SIGTERM, all: false) } catch {
                SupervisorLog.warn("stopping version \(versions[index].version.number): \(error)")
            }
        }
        saveStatus()
    }

    /// The candidate's init exited before it was ready: the rollout is rolled back.
    func candidateExited(_ index: Int) {
        guard let inFlight = rollout else { return }
        let candidate = versions[index]
        let termination = candidate.reaped ?? (candidate.container.adopted ? nil : try? ProcessControl.wait(candidate.container.pid))
        versions[index].reaped = termination
        let how = termination.map { describe($0) } ?? "exited"
        abortRollout("version \(inFlight.request.version.number) \(how) before it was ready")
    }

    /// A version beside the active one exited.
    func sideExited(_ index: Int) {
        removeSide(index, killFirst: false)
        saveStatus()
        if !hasSides && finishWhenSidesGone { finish() }
    }

    /// Removes a side version's container, reads the rest of its output and forgets it.
    private func removeSide(_ index: Int, killFirst: Bool) {
        let side = versions.remove(at: index)
        if killFirst { try? containers.kill(side.id, signal: SIGKILL, all: true) }
        do { try containers.delete(side.id, force: true) } catch { SupervisorLog.warn("removing version \(side.version.number): \(error)") }
        if side.reaped == nil && !side.container.adopted { _ = try? ProcessControl.wait(side.container.pid) }
        side.container.pidfd.close()
        side.netns?.close()
        closeOutputs(of: side.id)
        let fifos = service.fifoPaths(version: side.version.number, id: side.version.id)
        if side.version.number != (status.version ?? 1) {
            _ = Glibc.unlink(fifos.stdout)
            _ = Glibc.unlink(fifos.stderr)
        }
    }

    /// Reads a removed version's output to its end, or as far as it goes, and closes it.
    private func closeOutputs(of id: String) {
        for index in outputs.indices.reversed() where outputs[index].version == id {
            _ = outputs[index].pump.pump(into: &log, budget: Int.max)
            outputs[index].pump.descriptor.close()
            outputs.remove(at: index)
        }
    }

    /// Stops every side version with the service (a stop, or the end of the active version).
    func stopSides(graceSeconds: Int) {
        if rollout != nil { abortRollout("the service is stopping") }
        for index in versions.indices where versions[index].role == .candidate || versions[index].role == .draining {
            stopSide(index, graceSeconds: graceSeconds)
        }
    }

    /// The status with live connection counts, for `ctr rollout --status`.
    func liveStatus() -> ServiceStatus {
        var live = status
        live.connections = forwarder?.connectionCount(version: status.version ?? 1)
        live.others = versions.compactMap { $0.status(connections: forwarder?.connectionCount(version: $0.version.number)) }
        return live
    }

    private func describe(_ termination: ProcessControl.Termination) -> String {
        switch termination {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "was killed by signal \(signal)"
        }
    }

    private func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
