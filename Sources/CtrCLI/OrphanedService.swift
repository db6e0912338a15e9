import BerthCore
import CShim
import Glibc
import Linux
import Runtime
import Supervisor
import SupervisorAPI

/// A service whose supervisor was killed: its container may still run, reparented to pid 1.
/// stop, kill and rm then act on the container through the runtime directly, and record what
/// they could observe (not the exit status: only the dead supervisor could have waited for it).
struct OrphanedService {
    let view: ServiceView

    var containers: Containers { Containers(store: StateStore(root: view.directory.runtimeRoot)) }
    var id: String { view.definition.id }

    /// SIGTERM to the init, SIGKILL to the whole cgroup after `timeoutSeconds`, then the
    /// container is removed and the service recorded as exited.
    func stop(timeoutSeconds: Int) throws(BerthError) {
        try view.directory.markStoppedByUser()
        if let status = view.status, status.containerIsAlive {
            let pidfd = try? ProcessControl.openPidfd(status.pid)
            defer { pidfd?.close() }
            // The pidfd was opened before this check, so it cannot name a recycled pid.
            if timeoutSeconds > 0, ProcessControl.startTime(status.pid) == status.pidStartTime {
                try? containers.kill(id, signal: SIGTERM, all: false)
                if let pidfd { _ = try? ProcessControl.waitReadable(pidfd, milliseconds: Int32(timeoutSeconds * 1000)) }
            }
        }
        try removeContainer()
        var status = view.status ?? ServiceStatus(state: .exited)
        status.record(ExitRecord(startedAt: status.startedAt, finishedAt: .now(),
                                 error: "stopped by ctr after its supervisor (pid \(status.supervisorPid)) was gone; the exit status is unknown"))
        status.state = .exited
        status.pid = 0
        status.pidStartTime = 0
        status.nextRestartAt = nil
        status.stopRequested = true
        try view.directory.save(status)
    }

    /// Kills and removes whatever is left of the container (its cgroup included).
    func removeContainer() throws(BerthError) {
        let store = StateStore(root: view.directory.runtimeRoot)
        for container in store.list() { try containers.delete(container, force: true) }
    }

    func kill(signal: Int32) throws(BerthError) {
        try containers.kill(id, signal: signal, all: false)
    }
}

extension ServiceView {
    /// When this service's supervisor is gone, starts a new one that adopts the container (or
    /// records that it ended and applies the restart policy), and returns the service as it is
    /// then. Returns `self` when nothing is to be done or adoption fails; the caller then acts
    /// on the container directly.
    func adoptingIfOrphaned() -> ServiceView {
        guard supervisorIsGone, let status else { return self }
        warn(supervisorGoneWarning + "; starting a new supervisor to adopt it")
        do {
            // Two ctr commands noticing at once must not start two supervisors: the second one
            // waits here, then finds the first one's supervisor alive.
            let lock = try FileDescriptor.open(directory.path, O_RDONLY | O_DIRECTORY)
            defer { lock.close() }
            try sys("flock", directory.path) { berth_flock(lock.rawValue, LOCK_EX) }
            let current = try ServiceView(directory)
            guard current.supervisorIsGone else { return current }
            let adopted = try SupervisorProcess.adopt(service: directory, definition: definition, previous: current.status ?? status)
            adopted.channel.close()
            return try ServiceView(directory)
        } catch {
            warn("service \"\(name)\": adopting the container failed: \(error)")
            return self
        }
    }
}
