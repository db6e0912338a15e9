import BerthCore
import CommandLineFlags
import Glibc
import Linux
import OCI
import Runtime

/// `berth list [--format table|json] [--quiet]`.
enum ListCommand {
    static let flags: [Flag] = [
        .value("f", "format", placeholder: "FORMAT", choices: ["table", "json"], summary: "table (default) or json"),
        .boolean("q", "quiet", summary: "only the ids"),
    ]

    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        guard parsed.positionals.isEmpty else { throw BerthError(.invalidArgument, "list: takes no arguments") }
        let format = parsed.value("format") ?? "table"
        // As runc 1.5: a missing default root means no containers yet, a missing --root a mistake.
        if globals.rootIsSet {
            let directory = Glibc.opendir(globals.root)
            guard let directory else { throw BerthError(.notFound, "open \(globals.root)", errno: Glibc.errno) }
            Glibc.closedir(directory)
        }
        let containers = Containers(store: globals.store).list()
        var output = ""
        if parsed.flag("quiet") {
            output = containers.map { $0.id + "\n" }.joined()
        } else if format == "json" {
            let entries: [JSONValue] = containers.map { entry in
                .object([("ociVersion", .string(Spec.version)), ("id", .string(entry.id)),
                         ("pid", .number(JSONNumber(Int64(entry.status == .stopped ? 0 : entry.record?.pid ?? 0)))),
                         ("status", .string(entry.status.rawValue)), ("bundle", .string(entry.record?.bundle ?? "")),
                         ("rootfs", .string(entry.record?.rootfs ?? "")), ("created", .string(entry.record?.created ?? "")),
                         ("owner", .string("root"))])
            }
            // Go encodes runc's empty list as null.
            output = entries.isEmpty ? "null\n" : JSONValue.array(entries).serialized() + "\n"
        } else {
            var rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
            for entry in containers {
                rows.append([entry.id, String(entry.status == .stopped ? 0 : entry.record?.pid ?? 0), entry.status.rawValue,
                             entry.record?.bundle ?? "", entry.record?.created ?? "", "root"])
            }
            // runc's tabwriter: columns at least 12 wide, 3 spaces of padding, the last unpadded.
            let widths = (0..<6).map { column in max(12, (rows.map { $0[column].count }.max() ?? 0) + 3) }
            for row in rows {
                output += row.enumerated().map { column, cell in
                    column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
                }.joined() + "\n"
            }
        }
        try FileDescriptor.standardOutput.writeAll(output)
        return 0
    }
}
