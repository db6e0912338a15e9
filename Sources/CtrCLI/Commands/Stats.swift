import BerthCore
import CommandLineFlags
import CShim
import Glibc
import Linux
import OCI
import SupervisorAPI

/// `ctr stats [--no-stream] [--format table|json|csv] [NAME...]`: CPU, memory, I/O, pids and
/// pressure of running services, read from their cgroups each second.
enum StatsCommand: CtrCommand {
    static let summary = "live CPU, memory, I/O, pids and pressure of running services"
    static let usage = """
    usage: ctr stats [--no-stream] [--format table|json|csv] [--interval SECONDS] [NAME...]

    Reads each running service's cgroup every interval (default 1 s): CPU % (of one CPU, so 200%
    is two CPUs busy), memory use against the limit (or the machine's memory), bytes read and
    written, processes, and PSI pressure (some avg10: % of the last 10 s in which a task waited
    for CPU, memory or I/O). Without names, every running service.

    The table is redrawn each interval. json and csv print one record per service per interval
    (JSON lines; csv with a header first): the record for experiments. With --no-stream, one
    sample (taken over one interval, for the CPU %) and exit.

    flags:
      --no-stream            print one sample and exit
      --format FORMAT        table (default), json or csv
      --interval SECONDS     time between samples (default 1)

    examples:
      ctr stats
      ctr stats --no-stream --format csv web worker >> samples.csv

    """

    static let flags: [Flag] = [.boolean("no-stream"), .value("format"), .value("interval")]

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let format = parsed.value("format") ?? "table"
        guard ["table", "json", "csv"].contains(format) else {
            throw BerthError(.invalidArgument, "flag --format: \"\(format)\" is not table, json or csv (e.g. --format csv)")
        }
        let interval = try parsed.value("interval").map { (text) throws(BerthError) in
            guard let seconds = Int(text), seconds >= 1, seconds <= 3600 else {
                throw BerthError(.invalidArgument, "flag --interval: \"\(text)\" is not a whole number of seconds from 1 to 3600 (e.g. --interval 5)")
            }
            return seconds
        } ?? 1
        let named = parsed.positionals
        let views = try named.map { (name) throws(BerthError) in try ServiceView.load(name, in: context) }
        for view in views where view.status?.state != .running && view.status?.state != .paused {
            throw BerthError(.invalidState, "service \"\(view.name)\" is \(view.displayStatus): no statistics")
        }
        func current() -> [ServiceView] {
            named.isEmpty ? ServiceView.all(in: context).filter { [.running, .paused].contains($0.status?.state) }
                : named.compactMap { try? ServiceView.load($0, in: context) }
        }
        let signals = try sys("signalfd") { berth_forwarding_signalfd() }
        defer { Glibc.close(signals) }
        let clear = format == "table" && !parsed.flag("no-stream") && Glibc.isatty(1) == 1
        var previous: [String: StatsSample] = [:]
        for view in current() { previous[view.name] = StatsSample.read(view) }
        if format == "csv" { try writeOut(StatsSample.csvHeader + "\n") }
        while true {
            // Waiting on the signalfd, not sleeping: Ctrl-C ends the stream at once.
            var entry = pollfd(fd: signals, events: Int16(POLLIN), revents: 0)
            let interrupted = try sys("poll") { Glibc.poll(&entry, 1, Int32(interval * 1000)) }
            if interrupted > 0 { return 0 }
            var samples: [(StatsSample, StatsSample?)] = []
            for view in current() {
                guard let sample = StatsSample.read(view) else { continue }
                samples.append((sample, previous[view.name]))
                previous[view.name] = sample
            }
            let text: String
            switch format {
            case "json": text = samples.map { $0.0.json(since: $0.1).serialized() + "\n" }.joined()
            case "csv": text = samples.map { $0.0.csvLine(since: $0.1) + "\n" }.joined()
            default: text = (clear ? "\u{1b}[H\u{1b}[2J" : "") + formatTable([StatsSample.tableHeader] + samples.map { $0.0.tableRow(since: $0.1) })
            }
            do {
                try writeOut(text)
            } catch where error.errno == EPIPE {
                // The reader is gone (`ctr stats | head`): the stream is over.
                return 0
            }
            if parsed.flag("no-stream") { return 0 }
        }
    }
}
