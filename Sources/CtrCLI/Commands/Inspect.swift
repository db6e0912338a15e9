import BerthCore
import CommandLineFlags
import Linux
import OCI
import SupervisorAPI

/// `ctr inspect NAME...`: everything ctr knows about a service, as JSON.
enum InspectCommand: CtrCommand {
    static let summary = "show a service's definition, status, exits and config as JSON"
    static let usage = """
    usage: ctr inspect NAME...

    Prints a JSON array with, for each service: its definition (command, restart policy,
    limits, health check), its status (state, pid, restarts, the recent exits with their times,
    codes, signals and OOM kills, and with a health check its health: starting, healthy or
    unhealthy, the failing streak and the last checks with their output), whether its
    supervisor is alive, and the container's config.json.

    example:
      ctr inspect web

    """

    static let flags: [Flag] = []

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        var documents: [JSONValue] = []
        for name in try parsed.names(command: "inspect") {
            documents.append(try document(try ServiceView.load(name, in: context)))
        }
        try writeOut(JSONValue.array(documents).serialized(pretty: true) + "\n")
        return 0
    }

    static func document(_ view: ServiceView) throws(BerthError) -> JSONValue {
        do {
            let config = try JSONValue.parse(try Files.read(view.directory.configPath))
            return .object([
                ("name", .string(view.name)),
                ("id", .string(view.definition.id)),
                ("status", .string(view.displayStatus)),
                ("supervisorAlive", .bool(view.status?.supervisorIsAlive ?? false)),
                ("definition", try encodeJSONValue(view.definition)),
                ("state", try view.status.map { (status) throws(BerthError) in try encodeJSONValue(status) } ?? .null),
                ("config", config),
            ])
        } catch {
            throw BerthError(.system, "service \"\(view.name)\": \(error)")
        }
    }
}
