import BerthCore
import CommandLineFlags
import Glibc
import Linux
import OCI
import Runtime

/// The flags that come before the command, as runc takes them.
struct GlobalOptions {
    var root = StateRoot.defaultPath(program: "berth")
    var logPath: String?
    var logFormat = "text"
    var debug = false

    /// runc's global flags; --criu and --rootless are taken and ignored, as engines may pass them.
    static let flags: [Flag] = [
        .value("root", placeholder: "DIR", summary: "where containers' state lives (default /run/berth; $XDG_RUNTIME_DIR/berth for a user)"),
        .value("log", placeholder: "FILE", summary: "append warnings and errors to FILE"),
        .value("log-format", placeholder: "FORMAT", choices: ["text", "json"], summary: "text (default) or json"),
        .boolean("debug", summary: "show the cause of an error too"),
        .boolean("systemd-cgroup", summary: "refused: berth manages cgroupfs directly"),
        .value("criu", placeholder: "PATH"),
        .value("rootless", placeholder: "VALUE"),
        .boolean("v", "version", summary: "print the version and the features"),
    ]

    /// Splits the command line into global options, the command and the command's arguments:
    /// the first argument that is not a global flag is the command.
    static func parse(_ arguments: [String]) throws(BerthError) -> (GlobalOptions, command: String?, rest: [String], help: Bool, version: Bool) {
        let parsed = try Arguments(arguments, flags: flags, stopAfter: 1)
        var options = GlobalOptions()
        if let root = parsed.value("root") {
            guard root.hasPrefix("/") else { throw BerthError(.invalidArgument, "flag --root: \"\(root)\" must be an absolute path") }
            options.root = root
        }
        try StateRoot.checkOwner(options.root, label: parsed.value("root") == nil ? "state root" : "flag --root")
        options.logPath = parsed.value("log")
        options.logFormat = parsed.value("log-format") ?? options.logFormat
        options.debug = parsed.flag("debug")
        if parsed.flag("systemd-cgroup") {
            throw BerthError(.unsupported, "flag --systemd-cgroup: systemd cgroup management is not supported; berth manages cgroupfs directly")
        }
        return (options, parsed.positionals.first, Array(parsed.positionals.dropFirst()), parsed.wantsHelp, parsed.flag("version"))
    }

    var store: StateStore { StateStore(root: root) }

    /// Writes a line to --log as runc does: engines such as containerd read the last error from it.
    func log(level: String, _ message: String) {
        guard let logPath else { return }
        let line: String
        if logFormat == "json" {
            line = JSONValue.object([("level", .string(level)), ("msg", .string(message)), ("time", .string(Timestamp.now().description))]).serialized() + "\n"
        } else {
            // Quoted as logfmt quotes: a `"` or newline in the message must not end the value.
            var quoted = ""
            for character in message {
                switch character {
                case "\"": quoted += "\\\""
                case "\\": quoted += "\\\\"
                case "\n": quoted += "\\n"
                default: quoted.append(character)
                }
            }
            line = "time=\"\(Timestamp.now().description)\" level=\(level) msg=\"\(quoted)\"\n"
        }
        guard let fd = try? FileDescriptor.open(logPath, O_WRONLY | O_CREAT | O_APPEND, mode: 0o644) else { return }
        try? fd.writeAll(line)
        fd.close()
    }
}
