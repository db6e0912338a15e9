import CShim
import Glibc
import Linux
import Runtime
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
    /// -t: the container has a terminal, whose size follows ctr's (SIGWINCH → resize).
    var terminal = false
    /// -i: ctr's stdin copied into stdin.fifo; its end of file is the fifo's close (with -t, a
    /// Ctrl-D typed first).
    var input: InputCopy?

    /// The supervisor says when the log grew (`output`); a read now and then all the same, in
    /// case a report could not be sent (the channel was full).
    static let logPollMilliseconds: Int32 = 1000

    init(service: ServiceDirectory, log: LogReader, channel: SupervisorReportChannel, signals: Int32) {
        self.service = service
        self.log = log
        self.channel = channel
        self.signals = signals
    }

    func run() -> Int32 {
        var log = self.log
        var input = self.input
        let printer = LogPrinter()
        var interrupts = 0
        var requests: [FileDescriptor] = []
        // With -it on a terminal every key goes to the container as typed; without -i ctr's
        // terminal stays as it is, and Ctrl-C is a stop.
        var raw = input != nil && terminal ? (try? RawMode.enter()) ?? RawMode() : RawMode()
        defer {
            raw.restore()
            input?.target.close()
            for request in requests { request.close() }
            log.close()
            channel.close()
            Glibc.close(signals)
        }
        while true {
            // Fixed slots first (poll skips negative descriptors), then the forwarded requests.
            var entries = [pollfd(fd: channel.rawValue, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                           input?.entry ?? pollfd(fd: -1, events: 0, revents: 0)]
            entries += requests.map { pollfd(fd: $0.rawValue, events: Int16(POLLIN), revents: 0) }
            _ = try? sys("poll") { Glibc.poll(&entries, nfds_t(entries.count), Attachment.logPollMilliseconds) }
            var report: SupervisorReport?
            if entries[0].revents != 0 {
                report = channel.next()
                // Several turns' worth may be queued: one read of the log covers them all.
                while report == .output, channel.hasReport { report = channel.next() }
            }
            // After `ended` this reads everything: the supervisor logs the last output first.
            printer.print(log.readLines())
            if entries[0].revents != 0 && report != .output {
                raw.restore()
                guard case .ended(let status)? = report else {
                    warn("service \"\(service.name)\": the supervisor went away; the container may still be running (see ctr ps)")
                    return 125
                }
                return status.lastExit?.shellStatus ?? 125
            }
            if entries[1].revents != 0 {
                while case let signal = berth_read_signalfd(signals), signal != 0 {
                    guard let request = request(for: signal, interrupts: &interrupts) else { continue }
                    if interrupts == 1 && signal == SIGINT {
                        warn("stopping \(service.name); press Ctrl-C again to kill it")
                    }
                    do { requests.append(try ControlClient.post(request, to: service)) } catch { warn("\(error)") }
                }
            }
            if entries[2].revents != 0, var copy = input {
                copy.step()
                input = copy
                if copy.finished {
                    // The container's end of file (the supervisor's, with a terminal).
                    copy.target.close()
                    input = nil
                }
            }
            // Answers to forwarded signals are not needed; a readable connection is done.
            for (index, entry) in entries.enumerated().dropFirst(3).reversed() where entry.revents != 0 {
                requests[index - 3].close()
                requests.remove(at: index - 3)
            }
        }
    }

    /// A window size change of ctr's terminal becomes a resize of the container's; every other
    /// signal is handled as without a terminal.
    private func request(for signal: Int32, interrupts: inout Int) -> ControlRequest? {
        if signal == SIGWINCH {
            guard terminal, let size = Terminal.size() else { return nil }
            return .resize(rows: size.rows, columns: size.columns)
        }
        return Attachment.request(for: signal, interrupts: &interrupts)
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
