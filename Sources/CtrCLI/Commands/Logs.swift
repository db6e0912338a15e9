import BerthCore
import CommandLineFlags
import CShim
import Glibc
import Linux
import SupervisorAPI

/// `ctr logs [-f] [--tail N] [--timestamps] NAME`: what the container wrote, across restarts.
enum LogsCommand: CtrCommand {
    static let summary = "show what a service's container wrote to stdout and stderr"
    static let usage = """
    usage: ctr logs [-f] [--tail N] [--timestamps] NAME

    Prints the service's log (the rotated file, then the current one): stdout lines to stdout,
    stderr lines to stderr, exactly as written, across restarts.

    flags:
      -f, --follow       keep printing new output until the service ends
      -n, --tail N       only the last N lines
      -t, --timestamps   start each line with the time the supervisor read it

    examples:
      ctr logs web
      ctr logs -f --tail 20 web

    """

    static let flags: [Flag] = [.boolean("f", "follow"), .value("n", "tail"), .boolean("t", "timestamps")]

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let tail = try parsed.value("tail").map { (text) throws(BerthError) in
            guard let count = Int(text), count >= 0 else {
                throw BerthError(.invalidArgument, "flag --tail: \"\(text)\" is not a number of lines (e.g. --tail 20)")
            }
            return count
        }
        let view = try ServiceView.loadAdopting(try parsed.name(command: "logs"), in: context)
        let printer = LogPrinter(timestamps: parsed.flag("timestamps"))
        var reader = LogReader(service: view.directory)
        defer { reader.close() }
        let lines = reader.readLines()
        printer.print(tail.map { lines.suffix($0) } ?? lines[...])
        guard parsed.flag("follow") else { return 0 }
        // Followed for as long as the supervisor that writes the log lives.
        guard let status = view.status, status.supervisorIsAlive,
              let supervisor = try? ProcessControl.openPidfd(status.supervisorPid) else {
            if view.supervisorIsGone { warn(view.supervisorGoneWarning + "; nothing is writing its log") }
            return 0
        }
        defer { supervisor.close() }
        let signals = try sys("signalfd") { berth_forwarding_signalfd() }
        defer { Glibc.close(signals) }
        while true {
            var entries = [pollfd(fd: supervisor.rawValue, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: signals, events: Int16(POLLIN), revents: 0)]
            _ = try sys("poll") { Glibc.poll(&entries, 2, 100) }
            printer.print(reader.readLines())
            if entries[0].revents != 0 { return 0 }
            if entries[1].revents != 0 {
                // Ctrl-C, SIGTERM, a closed terminal: stop following, quietly.
                while case let signal = berth_read_signalfd(signals), signal != 0 {
                    if signal != SIGCHLD && signal != SIGWINCH && signal != SIGURG { return 0 }
                }
            }
        }
    }
}
