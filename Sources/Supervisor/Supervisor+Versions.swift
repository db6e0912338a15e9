import BerthCore
import Glibc
import Linux
import SupervisorAPI

/// The versions beside the active one: draining ones stopped once idle or at their deadline,
/// stopping ones killed at the end of their grace period, and each removed at its exit. The
/// timing is decided by `VersionRun.nextStep`; this carries it out.
extension Supervisor {
    /// Carries out what each version's timers ask for (`VersionRun.nextStep`).
    func tendVersions(now: Int64) {
        for index in versions.indices {
            let number = versions[index].version.number
            let step = versions[index].nextStep(now: now, connections: forwarder?.connectionCount(version: number) ?? 0,
                                                sharesSockets: !activationSockets.isEmpty)
            switch step {
            case nil:
                break
            case .stop(let graceSeconds, let resetConnections):
                if resetConnections { forwarder?.resetConnections(version: number) }
                stopSide(index, graceSeconds: graceSeconds)
            case .kill:
                versions[index].killDue = nil
                killCgroup(of: index)
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

    /// A version beside the active one exited.
    func sideExited(_ index: Int) {
        removeSide(index, killFirst: false)
        saveStatus()
        if !hasSides && finishWhenSidesGone { finish() }
    }

    /// Removes a side version's container, reads the rest of its output and forgets it.
    func removeSide(_ index: Int, killFirst: Bool) {
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
            _ = outputs[index].pump(into: &log, budget: Int.max)
            outputs[index].descriptor.close()
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
}
