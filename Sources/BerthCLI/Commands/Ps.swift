import Glibc
import Linux
import OCI
import Runtime

/// `berth ps [--format table|json] ID`: the container's processes, from its cgroup.
enum PsCommand {
    static func run(_ arguments: [String], _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, valued: ["format": "format", "f": "format"], booleans: [:])
        let id = try parsed.containerID(command: "ps")
        let format = parsed.value("format") ?? "table"
        guard format == "table" || format == "json" else { throw BerthError(.invalidArgument, "flag --format: \"\(format)\" is not table or json") }
        let pids = try Containers(store: globals.store).processes(id).sorted()
        if format == "json" {
            // runc prints the bare list of pids.
            try FileDescriptor.standardOutput.writeAll(JSONValue.array(pids.map { .number(JSONNumber(Int64($0))) }).serialized() + "\n")
            return 0
        }
        var output = "PID      CMD\n"
        for pid in pids {
            let cmdline = (try? Files.read("/proc/\(pid)/cmdline")) ?? []
            let command = String(decoding: cmdline.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            let column = String(pid)
            output += column + String(repeating: " ", count: max(1, 9 - column.count)) + command + "\n"
        }
        try FileDescriptor.standardOutput.writeAll(output)
        return 0
    }
}
