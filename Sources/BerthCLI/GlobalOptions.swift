import BerthCore
import Glibc
import Linux
import OCI
import Runtime

/// The flags that come before the command, as runc takes them.
struct GlobalOptions {
    var root = "/run/berth"
    var logPath: String?
    var logFormat = "text"
    var debug = false

    static let valued = ["root": "root", "log": "log", "log-format": "log-format", "criu": "criu", "rootless": "rootless"]
    static let booleans = ["debug": "debug", "systemd-cgroup": "systemd-cgroup", "help": "help", "h": "help", "version": "version", "v": "version"]

    /// Splits `arguments` into global options, the command and the command's arguments.
    static func parse(_ arguments: [String]) throws(BerthError) -> (GlobalOptions, command: String?, rest: [String], help: Bool, version: Bool) {
        var index = 0
        var globals: [String] = []
        while index < arguments.count, arguments[index].hasPrefix("-") {
            let item = arguments[index]
            globals.append(item)
            index += 1
            let name = item.drop(while: { $0 == "-" }).split(separator: "=", maxSplits: 1)[0]
            if valued[String(name)] != nil && !item.contains("="), index < arguments.count {
                globals.append(arguments[index])
                index += 1
            }
        }
        let parsed = try Arguments(globals, valued: valued, booleans: booleans)
        var options = GlobalOptions()
        if let root = parsed.value("root") {
            guard root.hasPrefix("/") else { throw BerthError(.invalidArgument, "flag --root: \"\(root)\" must be an absolute path") }
            options.root = root
        }
        options.logPath = parsed.value("log")
        if let format = parsed.value("log-format") {
            guard format == "text" || format == "json" else {
                throw BerthError(.invalidArgument, "flag --log-format: \"\(format)\" is not text or json")
            }
            options.logFormat = format
        }
        options.debug = parsed.flag("debug")
        if parsed.flag("systemd-cgroup") {
            throw BerthError(.unsupported, "flag --systemd-cgroup: systemd cgroup management is not supported; berth manages cgroupfs directly")
        }
        let command = index < arguments.count ? arguments[index] : nil
        return (options, command, Array(arguments.dropFirst(index + 1)), parsed.flag("help"), parsed.flag("version"))
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
