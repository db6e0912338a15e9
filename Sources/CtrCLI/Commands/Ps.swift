import BerthCore
import CommandLineFlags
import Linux
import OCI
import SupervisorAPI

/// `ctr ps [-a] [--format table|json]`: the services, from their status.json files. No
/// supervisor is asked, so ps stays fast with many services and works when one hangs.
enum PsCommand: CtrCommand {
    static let summary = "list services (running ones; -a for all)"
    static let usage = """
    usage: ctr ps [-a] [--format table|json]

    Lists services from the state on disk, without asking their supervisors. A service whose
    supervisor was killed shows as "running (supervisor gone)"; one with a health check as
    "running (healthy)", "running (unhealthy)" or "running (health: starting)".

    flags:
      -a, --all          include services whose container has ended
      --format FORMAT    table (default) or json

    examples:
      ctr ps
      ctr ps -a --format json

    """

    static let flags: [Flag] = [.boolean("a", "all"), .value("format")]

    static let operands = Operands.none

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        guard parsed.positionals.isEmpty else { throw BerthError(.invalidArgument, "ps: takes no arguments (see ctr ps --help)") }
        let format = parsed.value("format") ?? "table"
        guard format == "table" || format == "json" else {
            throw BerthError(.invalidArgument, "flag --format: \"\(format)\" is not table or json (e.g. --format json)")
        }
        let services = ServiceView.all(in: context).filter { parsed.flag("all") || $0.isActive }
        let now = Timestamp.now()
        if format == "json" {
            let rows: [JSONValue] = services.map { service in
                .object([("name", .string(service.name)), ("id", .string(service.definition.id)),
                         ("status", .string(service.displayStatus)), ("uptimeSeconds", uptime(service, now).map { .number(JSONNumber(Int($0))) } ?? .null),
                         ("pid", .number(JSONNumber(Int(service.status?.pid ?? 0)))), ("restarts", .number(JSONNumber(service.status?.restartCount ?? 0))),
                         ("limits", .string(service.definition.limits.description)),
                         ("health", service.status?.health.map { .string($0.state.rawValue) } ?? .null)])
            }
            try writeOut(JSONValue.array(rows).serialized(pretty: true) + "\n")
            return 0
        }
        var table = [["NAME", "ID", "STATUS", "UPTIME", "PID", "RESTARTS", "LIMITS"]]
        for service in services {
            let pid = service.status?.pid ?? 0
            table.append([service.name, service.definition.id, service.displayStatus, uptime(service, now).map(humanDuration) ?? "-",
                          pid > 0 ? String(pid) : "-", String(service.status?.restartCount ?? 0), service.definition.limits.description])
            // A hand-off under way: the other version on a line of its own, named by its role.
            for other in service.status?.others ?? [] {
                let started = other.startedAt.map { humanDuration(now.seconds(since: $0)) } ?? "-"
                table.append(["\(service.name) (v\(other.version.number))", other.version.id, other.role.rawValue, started,
                              String(other.pid), "-", service.definition.limits.description])
            }
        }
        try writeOut(formatTable(table))
        return 0
    }

    /// Seconds the current container has run; nil when none runs.
    private static func uptime(_ service: ServiceView, _ now: Timestamp) -> Double? {
        guard let status = service.status, status.pid > 0, let started = status.startedAt,
              [.running, .paused, .stopping].contains(status.state) else { return nil }
        return now.seconds(since: started)
    }
}

/// Rows padded into columns two spaces apart; the last column is not padded.
func formatTable(_ rows: [[String]]) -> String {
    guard let columns = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
    var text = ""
    for row in rows {
        for (index, cell) in row.enumerated() {
            text += cell
            if index < row.count - 1 { text += String(repeating: " ", count: widths[index] - cell.count + 2) }
        }
        text += "\n"
    }
    return text
}
