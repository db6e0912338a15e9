import BerthCore
import CommandLineFlags
import Glibc
import Linux
import OCI
import Runtime

/// `berth events [--stats] [--interval D] ID`: JSON lines about a container. `--stats` prints one
/// statistics sample and exits; otherwise berth prints a `stats` event every interval (default
/// 5s) and an `oom` event whenever the kernel OOM-kills a process of the container, until the
/// container stops.
enum EventsCommand {
    static let flags: [Flag] = [
        .value("interval", placeholder: "DURATION", summary: "time between stats events (default 5s)"),
        .boolean("stats", summary: "print one stats event and exit"),
    ]

    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let id = try parsed.containerID(command: "events")
        let interval = try duration(parsed.value("interval") ?? "5s")
        let containers = Containers(store: globals.store)
        if parsed.flag("stats") {
            try emit("stats", id: id, data: try statsData(containers, id))
            return 0
        }
        var oomKills = containers.oomKills(id)
        var sinceStats = interval
        // OOM kills are noticed within a tenth of a second; stats come at the interval.
        let tick = min(100_000, interval)
        while containers.isAlive(id) {
            let kills = containers.oomKills(id)
            if kills > oomKills { try emit("oom", id: id, data: nil) }
            oomKills = kills
            if sinceStats >= interval {
                if let data = try? statsData(containers, id) { try emit("stats", id: id, data: data) }
                sinceStats = 0
            }
            usleep(useconds_t(tick))
            sinceStats += tick
        }
        return 0
    }

    /// One event line as runc writes them: `{"type":...,"id":...,"data":...}`.
    static func emit(_ type: String, id: String, data: JSONValue?) throws(BerthError) {
        var members: [(key: String, value: JSONValue)] = [("type", .string(type)), ("id", .string(id))]
        if let data { members.append(("data", data)) }
        try FileDescriptor.standardOutput.writeAll(JSONValue.object(members).serialized() + "\n")
    }

    /// One statistics sample in runc's layout (`RuncStats`).
    static func statsData(_ containers: Containers, _ id: String) throws(BerthError) -> JSONValue {
        let stats = try containers.stats(id)
        let count = stats.pids?.current == nil ? ((try? containers.processes(id))?.count ?? 0) : 0
        return try RuncStats.data(stats, processCount: count)
    }

    /// A duration such as 5s, 500ms or 1m, in microseconds.
    static func duration(_ text: String) throws(BerthError) -> UInt32 {
        let units: [(String, Double)] = [("ms", 1_000), ("s", 1_000_000), ("m", 60_000_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)), value > 0, value * scale <= Double(UInt32.max) {
                return UInt32(value * scale)
            }
        }
        throw BerthError(.invalidArgument, "flag --interval: \"\(text)\" is not a duration such as 5s or 500ms")
    }
}
