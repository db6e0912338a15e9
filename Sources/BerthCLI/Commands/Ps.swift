import BerthCore
import CommandLineFlags
import CShim
import Glibc
import Linux
import OCI
import Runtime

/// `berth ps [--format table|json] ID [PS-ARGS...]`: the container's processes, from its cgroup.
/// As runc: json is the bare list of pids; the table is the host's `ps PS-ARGS` (default `-ef`)
/// with its header and the lines of the container's processes only.
enum PsCommand {
    static let flags: [Flag] = [.value("f", "format", placeholder: "FORMAT", choices: ["table", "json"], summary: "table (default) or json")]

    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        guard let id = parsed.positionals.first else { throw BerthError(.invalidArgument, "ps: expects a container id") }
        let format = parsed.value("format") ?? "table"
        let pids = try Containers(store: globals.store).processes(id).sorted()
        if format == "json" {
            // Go encodes the empty list of a stopped container as null.
            try FileDescriptor.standardOutput.writeAll(pids.isEmpty ? "null\n" : JSONValue.array(pids.map { .number(JSONNumber(Int64($0))) }).serialized() + "\n")
            return 0
        }
        // `ps ID -- -o pid,comm`: the `--` that keeps a shell's or a user's habit from reading
        // ps's options as berth's is not ps's (procps calls it a garbage option).
        var psArguments = Array(parsed.positionals.dropFirst())
        if psArguments.first == "--" { psArguments.removeFirst() }
        if psArguments.isEmpty { psArguments = ["-ef"] }
        let lines = try hostPs(psArguments).split(separator: "\n", omittingEmptySubsequences: true)
        guard let header = lines.first, let pidColumn = header.split(separator: " ").firstIndex(of: "PID") else {
            throw BerthError(.system, "ps \(psArguments.joined(separator: " ")): no PID column in its output")
        }
        let wanted = Set(pids)
        var output = String(header) + "\n"
        for line in lines.dropFirst() {
            let fields = line.split(separator: " ")
            guard pidColumn < fields.count, let pid = pid_t(fields[pidColumn]) else {
                throw BerthError(.system, "ps \(psArguments.joined(separator: " ")): no pid in \"\(line)\"")
            }
            if wanted.contains(pid) { output += line + "\n" }
        }
        try FileDescriptor.standardOutput.writeAll(output)
        return 0
    }

    /// The output of the host's `ps` with `arguments`, found on PATH.
    static func hostPs(_ arguments: [String]) throws(BerthError) -> String {
        let searched = getenv("PATH").map { String(cString: $0) } ?? ""
        let path = (searched.split(separator: ":").map(String.init) + ["/usr/bin", "/bin"])
            .map { $0 + "/ps" }.first { Glibc.access($0, X_OK) == 0 }
        guard let path else { throw BerthError(.notFound, "ps: no ps on PATH") }
        let pipe = try makePipe()
        // berth is single-threaded: its stdout is the pipe only while the child is made.
        let saved = FileDescriptor(rawValue: try sys("fcntl", "stdout") { berth_fcntl_int(1, F_DUPFD_CLOEXEC, 3) })
        defer { saved.close() }
        let child: (pid: pid_t, pidfd: FileDescriptor?)
        do {
            defer { _ = berth_dup3(saved.rawValue, 1, 0) }
            try pipe.write.duplicate(as: 1)
            child = try ProcessControl.spawn(path: path, arguments: ["ps"] + arguments,
                                             environment: ["PATH=/usr/bin:/bin", "LC_ALL=C"])
        } catch {
            pipe.read.close()
            pipe.write.close()
            throw error
        }
        child.pidfd?.close()
        pipe.write.close()
        defer { pipe.read.close() }
        let bytes = try pipe.read.readAll()
        let end = try ProcessControl.wait(child.pid)
        guard end == .exited(0) else {
            throw BerthError(.system, "ps \(arguments.joined(separator: " ")): exited with status \(end.shellStatus)")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
