import BerthCore
import CommandLineFlags
import Glibc
import Linux
import OCI
import Runtime

/// The flags that come before the command, as runc takes them.
struct GlobalOptions {
    var root = StateRoot.defaultPath(program: "berth")
    /// --root was given: `list` then fails when it is missing, as in runc 1.5.
    var rootIsSet = false
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
            options.rootIsSet = true
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

    /// Creates --log as runc does at start-up, before the command runs, so that an engine finds
    /// the file even when the command succeeds (runc opens it with O_APPEND, mode 0644).
    func createLog() throws(BerthError) {
        guard let logPath else { return }
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(logPath, O_WRONLY | O_CREAT | O_APPEND, mode: 0o644) } catch {
            throw BerthError(.invalidArgument, "flag --log: \(error.description)")
        }
        fd.close()
    }

    /// Writes a line to --log in logrus's shape, as runc does: containerd's shim and podman's
    /// conmon take the last `error` line as the reason a command failed. Debug lines are written
    /// only with --debug.
    func log(level: String, _ message: String) {
        guard let logPath, level != "debug" || debug else { return }
        guard let fd = try? FileDescriptor.open(logPath, O_WRONLY | O_CREAT | O_APPEND, mode: 0o644) else { return }
        try? fd.writeAll(Self.logLine(level: level, message, time: Self.logTime(Timestamp.now().description), json: logFormat == "json"))
        fd.close()
    }

    /// One line as logrus formats it: `{"level":…,"msg":…,"time":…}` (keys sorted) or
    /// `time="…" level=… msg="…"`.
    static func logLine(level: String, _ message: String, time: String, json: Bool) -> String {
        if json {
            return JSONValue.object([("level", .string(level)), ("msg", .string(message)), ("time", .string(time))]).serialized() + "\n"
        }
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
        return "time=\"\(time)\" level=\(level) msg=\"\(quoted)\"\n"
    }

    /// logrus's default time format, RFC 3339 to the second (`2026-12-05T12:00:00Z`), from
    /// Timestamp's, which has nanoseconds.
    static func logTime(_ full: String) -> String {
        guard let dot = full.firstIndex(of: ".") else { return full }
        return String(full[..<dot]) + "Z"
    }
}
