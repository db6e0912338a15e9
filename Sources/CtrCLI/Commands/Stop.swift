import BerthCore
import CommandLineFlags
import Glibc
import Linux
import SupervisorAPI

/// `ctr stop [-t SECONDS] NAME...`: through the supervisor, SIGTERM, then after the grace period
/// SIGKILL to the whole cgroup. Returns once the containers are gone; the restart policy does
/// not bring them back.
enum StopCommand: CtrCommand {
    static let defaultTimeout = 10

    static let summary = "stop services: SIGTERM, then after the grace period kill the whole container"
    static let usage = """
    usage: ctr stop [-t SECONDS] NAME...

    Sends SIGTERM to each container's init and, if it has not exited after the grace period,
    kills every process of the container. The services are stopped side by side. Returns once
    the containers are gone, with their exits recorded; the restart policy does not restart
    them. Prints each name stopped.

    flags:
      -t, --time SECONDS   grace period before the kill (default 10; 0 kills at once)

    examples:
      ctr stop web
      ctr stop -t 2 web worker

    """

    static let flags: [Flag] = [.value("t", "time")]

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let timeout = try parsed.value("time").map { (text) throws(BerthError) in try FlagValues.seconds(text, flag: "--time") } ?? defaultTimeout
        let names = try parsed.names(command: "stop")
        var outcomes: [String: BerthError?] = [:]
        var views: [ServiceView] = []
        for name in names {
            do { views.append(try ServiceView.loadAdopting(name, in: context)) } catch { outcomes[name] = error }
        }
        for (name, error) in stop(views, timeoutSeconds: timeout) { outcomes[name] = error }
        return try report(names, outcomes, context)
    }

    /// Stops the services side by side: every stop request goes out before any answer is
    /// awaited, so N services take one grace period, not N. Returns each service's error, nil
    /// for stopped, once every supervisor involved has exited.
    static func stop(_ views: [ServiceView], timeoutSeconds: Int) -> [(String, BerthError?)] {
        var results: [(String, BerthError?)] = []
        var pending: [(view: ServiceView, connection: FileDescriptor)] = []
        for view in views {
            do throws(BerthError) {
                if let connection = try requestStop(view, timeoutSeconds: timeoutSeconds) {
                    pending.append((view, connection))
                } else {
                    results.append((view.name, nil))
                }
            } catch {
                results.append((view.name, error))
            }
        }
        // The answers come when the containers are gone: the grace period plus the kill, which a
        // working supervisor finishes well within the margin.
        let deadline = monotonicNanoseconds() + Int64(timeoutSeconds + answerMarginSeconds) * 1_000_000_000
        while !pending.isEmpty {
            var entries = pending.map { pollfd(fd: $0.connection.rawValue, events: Int16(POLLIN), revents: 0) }
            let remaining = Int32(max(0, min((deadline - monotonicNanoseconds()) / 1_000_000, Int64(Int32.max))))
            let ready = (try? sys("poll") { Glibc.poll(&entries, nfds_t(entries.count), remaining) }) ?? 0
            if ready <= 0 {
                for (view, connection) in pending {
                    // Closed first: should the supervisor wake up, it drops the request.
                    connection.close()
                    results.append((view.name, stopWithoutSupervisor(view, waitedSeconds: timeoutSeconds + answerMarginSeconds)))
                }
                break
            }
            for index in entries.indices.reversed() where entries[index].revents != 0 {
                let (view, connection) = pending.remove(at: index)
                results.append((view.name, answer(view, connection)))
                connection.close()
            }
        }
        for view in views { waitForSupervisorExit(view) }
        return results
    }

    /// How long after the grace period a supervisor has to answer a stop before ctr takes it for
    /// stuck (stopped by SIGSTOP, hung) and ends the service itself.
    static let answerMarginSeconds = 10

    /// A supervisor that did not answer a stop: it is killed (the pid checked against its start
    /// time), and the container is stopped as after a supervisor's SIGKILL: its cgroup killed,
    /// the container removed, the exit recorded with the stop.
    static func stopWithoutSupervisor(_ view: ServiceView, waitedSeconds: Int) -> BerthError? {
        let pid = view.status?.supervisorPid ?? 0
        warn("service \"\(view.name)\": its supervisor (pid \(pid)) did not answer the stop in \(waitedSeconds) s; killing it and stopping the container directly")
        if let status = view.status, pid > 0, let pidfd = try? ProcessControl.openPidfd(pid) {
            defer { pidfd.close() }
            if ProcessControl.startTime(pid) == status.supervisorStartTime {
                try? ProcessControl.signal(pidfd: pidfd, SIGKILL)
                _ = try? ProcessControl.waitReadable(pidfd, milliseconds: 5_000)
            }
        }
        do {
            try OrphanedService(view: view).stop(timeoutSeconds: 0)
            _ = Glibc.unlink(view.directory.socketPath)
            return nil
        } catch {
            return error
        }
    }

    /// Sends the stop; nil when there is nothing to wait for (already ended, or stopped here
    /// directly because its supervisor is gone).
    private static func requestStop(_ view: ServiceView, timeoutSeconds: Int) throws(BerthError) -> FileDescriptor? {
        guard view.isActive else { return nil }
        if view.supervisorIsGone {
            // Adoption failed: stop the container directly.
            warn(view.supervisorGoneWarning + "; stopping it directly")
            try OrphanedService(view: view).stop(timeoutSeconds: timeoutSeconds)
            return nil
        }
        do {
            return try ControlClient.post(.stop(timeoutSeconds: timeoutSeconds), to: view.directory)
        } catch where error.code == .invalidState {
            // The supervisor finished between our look at the status and the request.
            let again = try ServiceView(view.directory)
            if again.supervisorIsGone { try OrphanedService(view: again).stop(timeoutSeconds: timeoutSeconds) }
            if again.isActive && !again.supervisorIsGone { throw error }
            return nil
        }
    }

    private static func answer(_ view: ServiceView, _ connection: FileDescriptor) -> BerthError? {
        switch try? ControlSocket.receive(on: connection) {
        case .message(let bytes)?:
            switch try? ControlResponse(decoding: bytes) {
            case .ended?: return nil
            case .failed(let message)?: return BerthError(.invalidState, "service \"\(view.name)\": \(message)")
            default: return BerthError(.system, "service \"\(view.name)\": unexpected answer to stop")
            }
        default:
            // Closed without an answer: the supervisor died during the stop.
            return (try? ServiceView(view.directory)).map { $0.isActive ? BerthError(.system, "service \"\(view.name)\": the supervisor exited during the stop") : nil } ?? nil
        }
    }

    /// The supervisor answers, then removes its socket and exits: wait for that last step, so
    /// that `ctr stop web && ctr rm web` never races it.
    static func waitForSupervisorExit(_ view: ServiceView) {
        guard let status = view.status, status.supervisorPid > 0,
              let pidfd = try? ProcessControl.openPidfd(status.supervisorPid) else { return }
        defer { pidfd.close() }
        guard ProcessControl.startTime(status.supervisorPid) == status.supervisorStartTime else { return }
        _ = try? ProcessControl.waitReadable(pidfd, milliseconds: 10_000)
    }
}

/// Runs `body` for each named service (adopted first if its supervisor is gone), going on after
/// a failure as docker does; prints each name that succeeded. Exit status 1 when any failed.
func forEach(_ names: [String], _ context: CtrContext, _ body: (ServiceView) throws(BerthError) -> Void) throws(BerthError) -> Int32 {
    var outcomes: [String: BerthError?] = [:]
    for name in names {
        do {
            try body(try ServiceView.loadAdopting(name, in: context))
            outcomes[name] = .some(nil)
        } catch {
            outcomes[name] = error
        }
    }
    return try report(names, outcomes, context)
}

/// Prints the names that succeeded, in the order given, and the errors of the others. A single
/// name's error is thrown, so that it reads like any other command's.
func report(_ names: [String], _ outcomes: [String: BerthError?], _ context: CtrContext) throws(BerthError) -> Int32 {
    if names.count == 1, let name = names.first, case let error?? = outcomes[name] { throw error }
    var failed = false
    for name in names {
        if case let error?? = outcomes[name] {
            failed = true
            _ = try? FileDescriptor.standardError.writeAll("ctr: \(context.debug ? error.chain : error.description)\n")
        } else {
            try writeOut(name + "\n")
        }
    }
    return failed ? 1 : 0
}
