import BerthCore
import Glibc
import Linux
import OCI
import Runtime
import Seccomp
import SupervisorAPI

/// A rollout under way: its decisions (`RolloutController`) and what carrying them out holds.
/// The candidate is the version in the `candidate` role.
struct RolloutInFlight {
    var controller: RolloutController
    /// The candidate's config, which becomes the service's at the switch.
    var plan: LaunchPlan
    var configBytes: [UInt8]
    /// The ctr waiting for the outcome; nil once it has gone.
    var requester: FileDescriptor?
    /// A readiness connect still in progress.
    var connect: FileDescriptor?
    /// The candidate's health check under way.
    var check: HealthProbe?
}

/// The hand-off: a new version starts beside the active one, new connections switch to it
/// once it is ready, and the old one drains its connections before it is stopped. A candidate
/// that exits, or is not ready in time, is removed and the old version never stops serving.
/// `RolloutController` decides; this runs the candidate, its probes and the switch.
extension Supervisor {
    /// Starts the candidate. The answer goes to `requester` once it serves or has been removed.
    func beginRollout(_ request: RolloutRequest, requester: FileDescriptor) -> ControlResponse? {
        if let rollout { return .failed("a rollout to version \(rollout.controller.request.version.number) is already under way") }
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
        add(candidate)
        let readiness: RolloutController.Readiness
        if let check = definition.health {
            readiness = .healthCheck(retries: check.retries, startPeriod: check.startPeriodMilliseconds * 1_000_000)
        } else if definition.ports?.first != nil && forwarder != nil {
            readiness = .port
        } else {
            readiness = .survival
        }
        let controller = RolloutController(request: request, readiness: readiness, sharesSockets: !activationSockets.isEmpty,
                                           candidateStarted: candidate.container.startedMonotonic, now: monotonicNanoseconds())
        rollout = RolloutInFlight(controller: controller, plan: plan, configBytes: configBytes, requester: requester)
        saveStatus()
        return nil
    }

    private var candidateIndex: Int? { versions.firstIndex { $0.role == .candidate } }

    /// The rollout's timer: a readiness probe when one is due, the ready deadline.
    func tendRollout(now: Int64) {
        guard var inFlight = rollout, let index = candidateIndex else { return }
        var action = inFlight.controller.tick(now: now)
        if action == .probe {
            let result = probeReadiness(of: versions[index], &inFlight, now: now)
            action = inFlight.controller.probed(result, now: now)
        }
        rollout = inFlight
        carryOut(action, candidate: index)
    }

    private func carryOut(_ action: RolloutController.Action, candidate index: Int) {
        switch action {
        case .wait, .probe: break
        case .promote(let drainDue, let drainSignal): promote(index, drainDue: drainDue, drainSignal: drainSignal)
        case .rollBack(let reason): abortRollout(reason)
        }
    }

    /// The candidate's init exited before it was ready: the rollout is rolled back.
    func candidateExited(_ index: Int) {
        guard let inFlight = rollout else { return }
        let candidate = versions[index]
        let termination = candidate.reaped ?? (candidate.container.adopted ? nil : try? ProcessControl.wait(candidate.container.pid))
        versions[index].reaped = termination
        carryOut(inFlight.controller.candidateExited(termination), candidate: index)
    }

    /// One readiness probe: its health check when it has one; else a connect to its first
    /// published port, made in its network namespace.
    private func probeReadiness(of candidate: VersionRun, _ inFlight: inout RolloutInFlight, now: Int64) -> RolloutController.ProbeResult {
        if let check = definition.health { return probeHealth(check, candidate, &inFlight, now: now) }
        guard let mapping = definition.ports?.first, let forwarder else { return .notReady }
        if let connect = inFlight.connect {
            let outcome = PortForwarder.connectOutcome(connect)
            if outcome == .pending { return .notReady }
            connect.close()
            inFlight.connect = nil
            return outcome == .connected ? .ready : .notReady
        }
        guard let socket = try? forwarder.openUpstream(PortForwarder.Target(version: candidate.version.number, netns: candidate.netns),
                                                      port: mapping.containerPort) else { return .notReady }
        // SO_ERROR is cleared by reading it: a failed connect must not be asked again.
        switch PortForwarder.connectOutcome(socket) {
        case .pending:
            inFlight.connect = socket
            return .notReady
        case .connected:
            socket.close()
            return .ready
        case .failed:
            socket.close()
            return .notReady
        }
    }

    /// One health check of the candidate at a time, each started as soon as the last ended.
    private func probeHealth(_ check: HealthCheck, _ candidate: VersionRun, _ inFlight: inout RolloutInFlight, now: Int64) -> RolloutController.ProbeResult {
        guard var probe = inFlight.check else {
            do { inFlight.check = try HealthProbe.start(check, store: containers.store, containerID: candidate.id) } catch {
                SupervisorLog.warn("health check of version \(candidate.version.number): \(error)")
            }
            return .notReady
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
            return .notReady
        }
        inFlight.check = nil
        return result.exitCode == 0 ? .ready : .checkFailed(output: result.output)
    }

    /// Called by the stray reaper: keeps the exit status of the candidate's health check.
    func candidateCheckReaped(_ pid: pid_t, _ termination: ProcessControl.Termination) {
        if rollout?.check?.pid == pid { rollout?.check?.reaped = termination }
    }

    /// The switch: new connections go to the candidate from now on; the old version keeps its
    /// connections and drains until `drainDue`.
    private func promote(_ index: Int, drainDue: Int64, drainSignal: Int32?) {
        guard var inFlight = rollout else { return }
        let candidateID = versions[index].id
        let now = monotonicNanoseconds()
        let previous = definition.version(number: status.version ?? 1)
        var draining: VersionRun?
        if let oldIndex = activeIndex {
            // Moved to the end: status.json lists the versions beside the active one in the
            // order they took their roles.
            var old = versions.remove(at: oldIndex)
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
        if let drainSignal, let draining {
            // Both versions accept on the same socket until now; the old one is told to stop.
            do { try containers.kill(draining.id, signal: drainSignal, all: false) } catch {
                SupervisorLog.warn("telling version \(draining.version.number) to stop accepting: \(error)")
            }
        }
        restarts.startOver()
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
        inFlight.connect?.close()
        var check = inFlight.check
        check?.cancel()
        if let index = candidateIndex { removeSide(index, killFirst: true) }
        _ = Glibc.unlink(service.nextConfigPath)
        SupervisorLog.warn("rollout to version \(inFlight.controller.request.version.number) rolled back: \(reason)")
        saveStatus()
        if let requester = inFlight.requester {
            try? ControlSocket.send(ControlResponse.failed("rolled back: \(reason)").encoded, on: requester)
            requester.close()
        }
    }
}
