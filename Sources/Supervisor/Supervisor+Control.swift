import BerthCore
import Glibc
import Linux
import Runtime
import SupervisorAPI

/// The control socket: one request per connection. Nothing a client sends or fails to send can
/// stop the loop: a bad packet gets a `failed` answer, an oversized one is dropped by the kernel
/// (MSG_TRUNC) and answered, a silent client is closed at its deadline, a vanished one is
/// forgotten, and answers go out with MSG_NOSIGNAL.
extension Supervisor {
    func acceptClients() {
        while true {
            let accepted: FileDescriptor?
            do { accepted = try ControlSocket.accept(listener) } catch {
                SupervisorLog.warn("\(error)")
                return
            }
            guard let fd = accepted else { return }
            // The socket is 0600 in a 0700 directory; the credential check holds even if those
            // modes were loosened by hand.
            guard ControlSocket.peerUID(fd) == Glibc.geteuid(), clients.count < Supervisor.maximumClients else {
                fd.close()
                continue
            }
            clients.append((fd, monotonicNanoseconds() + Supervisor.clientDeadlineNanoseconds))
        }
    }

    /// Reads and answers a client's request. Returns true when the client is done with (closed,
    /// or parked as a waiter).
    func serveClient(_ fd: FileDescriptor) -> Bool {
        let received: ControlSocket.Received
        do { received = try ControlSocket.receive(on: fd) } catch {
            fd.close()
            return true
        }
        switch received {
        case .wouldBlock:
            return false
        case .closed:
            fd.close()
            return true
        case .oversized(let length):
            answer(fd, .failed("request of \(length) bytes is over the \(ControlProtocol.maximumMessageSize)-byte limit"))
            return true
        case .message(let bytes):
            // Its client gave up (it timed out while we were stopped or busy, and may have acted
            // on the container itself): acting on it now would do what nobody waits for.
            if ControlSocket.peerHasGone(fd) {
                fd.close()
                return true
            }
            let request: ControlRequest
            do { request = try ControlRequest(decoding: bytes) } catch {
                answer(fd, .failed(error.description))
                return true
            }
            if case .rollout = request, definition.hasTerminal || definition.hasStdin {
                // The terminal and stdin belong to one container; two versions cannot share them.
                answer(fd, .failed("service \"\(definition.name)\" has a terminal or stdin (-t/-i), which only one version can hold; run it without -t and -i to roll it out"))
            } else if case .rollout(let rolloutRequest) = request {
                // Answered by the rollout itself, once the new version serves or is gone.
                if let refusal = beginRollout(rolloutRequest, requester: fd) { answer(fd, refusal) }
            } else if let response = perform(request) {
                answer(fd, response)
            } else {
                waiters.append(fd)
            }
            return true
        }
    }

    private func answer(_ fd: FileDescriptor, _ response: ControlResponse) {
        try? ControlSocket.send(response.encoded, on: fd)
        fd.close()
    }

    /// Carries out `request`; nil when the answer comes later, once the service has ended.
    private func perform(_ request: ControlRequest) -> ControlResponse? {
        switch request {
        case .status:
            return .status(liveStatus())
        case .rollout:
            return .failed("rollout: answered by beginRollout")
        case .wait:
            return status.state == .exited ? .ended(status) : nil
        case .stop(let timeout):
            // A stop asked for (not a SIGTERM, which is how a shutdown ends us): `ctr system
            // boot` leaves the service stopped.
            do { try service.markStoppedByUser() } catch { SupervisorLog.warn("\(error)") }
            if status.state == .exited { return .ended(status) }
            beginStop(timeoutSeconds: timeout)
            return status.state == .exited ? .ended(status) : nil
        case .kill(let signal):
            guard active != nil else { return .failed("container is \(status.state.rawValue), not running") }
            do { try containers.kill(plan.id, signal: signal, all: false) } catch { return .failed(error.description) }
            return .done
        case .pause:
            guard status.state == .running else { return .failed("container is \(status.state.rawValue), not running") }
            do { try containers.pause(plan.id) } catch { return .failed(error.description) }
            status.state = .paused
            saveStatus()
            return .done
        case .update(let resources):
            guard active != nil else { return .failed("container is \(status.state.rawValue), not running") }
            do { try update(resources) } catch { return .failed(error.description) }
            return .done
        case .resize(let rows, let columns):
            return resizeTerminal(rows: rows, columns: columns)
        case .resume:
            guard status.state == .paused else { return .failed("container is \(status.state.rawValue), not paused") }
            do { try containers.resume(plan.id) } catch { return .failed(error.description) }
            status.state = .running
            saveStatus()
            return .done
        }
    }
}
