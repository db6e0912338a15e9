import CShim
import Glibc
import Linux
import Supervisor
import SupervisorAPI

/// A foreground `ctr run`: shows the service's log as it grows, forwards signals to the
/// supervisor, and returns the container's exit status once the service has ended for good
/// (after any restarts its policy asks for).
///
/// The container's output comes through the log rather than straight from the container: the
/// service is the same whether ctr stays attached or not, so ps, logs, stop and the restart
/// policy all work on a foreground run, and ctr can be killed without touching the container.
struct Attachment {
    let service: ServiceDirectory
    var log: LogReader
    let channel: SupervisorReportChannel
    /// A signalfd for every signal ctr forwards (held since before the supervisor started).
    let signals: Int32

    /// How often the log is read while nothing else happens.
    static let logPollMilliseconds: Int32 = 50

    func run() -> Int32 {
        var log = self.log
        let printer = LogPrinter()
        var interrupts = 0
        var requests: [FileDescriptor] = []
        defer {
            for request in requests { request.close() }
            log.close()
            channel.close()
            Glibc.close(signals)
        }
        while true {
            var entries = [pollfd(fd: channel.rawValue, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: signals, events: Int16(POLLIN), revents: 0)]
            entries += requests.map { pollfd(fd: $0.rawValue, events: Int16(POLLIN), revents: 0) }
            _ = try? sys("poll") { Glibc.poll(&entries, nfds_t(entries.count), Attachment.logPollMilliseconds) }
            printer.print(log.readLines())
            if entries[0].revents != 0 {
                let report = channel.next()
                // Whatever the container wrote before it ended is in the log by now.
                printer.print(log.readLines())
                guard case .ended(let status)? = report else {
                    warn("service \"\(service.name)\": the supervisor went away; the container may still be running (see ctr ps)")
                    return 125
                }
                return status.lastExit?.shellStatus ?? 125
            }
            if entries[1].revents != 0 {
                while case let signal = berth_read_signalfd(signals), signal != 0 {
                    guard let request = Attachment.request(for: signal, interrupts: &interrupts) else { continue }
                    if interrupts == 1 && signal == SIGINT {
                        warn("stopping \(service.name); press Ctrl-C again to kill it")
                    }
                    do { requests.append(try ControlClient.post(request, to: service)) } catch { warn("\(error)") }
                }
            }
            // Answers to forwarded signals are not needed; a readable connection is done.
            for (index, entry) in entries.enumerated().dropFirst(2).reversed() where entry.revents != 0 {
                requests[index - 2].close()
                requests.remove(at: index - 2)
            }
        }
    }

    /// What a signal to the attached ctr becomes: the first Ctrl-C a stop with the usual grace
    /// period, the next an immediate kill; signals that concern only ctr are dropped; the rest
    /// go to the container's init as they are.
    static func request(for signal: Int32, interrupts: inout Int) -> ControlRequest? {
        switch signal {
        case SIGINT:
            interrupts += 1
            return .stop(timeoutSeconds: interrupts == 1 ? StopCommand.defaultTimeout : 0)
        case SIGCHLD, SIGWINCH, SIGPIPE, SIGURG, SIGTTIN, SIGTTOU, SIGTSTP, SIGCONT:
            return nil
        default:
            return .kill(signal: signal)
        }
    }
}
