import BerthCore
import Glibc
import Linux
import OCI
import Runtime
import Seccomp

/// The `berth` command: global options, then one of the verbs below.
public enum Berth {
    static let commands: [String: @Sendable ([String], GlobalOptions) throws(BerthError) -> Int32] = [
        "spec": SpecCommand.run, "create": CreateCommand.run, "start": StartCommand.run, "state": StateCommand.run,
        "kill": KillCommand.run, "delete": DeleteCommand.run, "run": RunCommand.run, "exec": ExecCommand.run,
        "list": ListCommand.run, "features": FeaturesCommand.run, "pause": PauseCommand.pause,
        "resume": PauseCommand.resume, "update": UpdateCommand.run, "events": EventsCommand.run, "ps": PsCommand.run,
    ]

    /// Each verb's synopsis and what it does, for `--help`, `help` and `COMMAND --help`.
    static let verbs: [(name: String, synopsis: String, summary: String)] = [
        ("spec", "[--bundle DIR]", "write a default config.json"),
        ("create", "[--bundle DIR] [--pid-file F] [--console-socket S] ID", "create a container, waiting to start"),
        ("start", "ID", "run the created container's process"),
        ("run", "[--bundle DIR] [--detach] [--keep] ID", "create, start and wait (a terminal is proxied)"),
        ("exec", "[--process F] [-e K=V] [-t] ID CMD...", "run another process in a container"),
        ("state", "ID", "print the OCI state"),
        ("kill", "[--all] ID [SIGNAL]", "signal the container (default TERM)"),
        ("delete", "[--force] ID", "remove a stopped or created container"),
        ("list", "[--format table|json] [--quiet]", "list containers"),
        ("pause", "ID", "freeze every process of a container"),
        ("resume", "ID", "thaw a paused container"),
        ("update", "[--memory N] [--cpu-quota N] ... ID", "change limits of a running container"),
        ("events", "[--stats] [--interval 5s] ID", "stats and OOM events as JSON lines"),
        ("ps", "[--format table|json] ID [PS-ARGS...]", "the container's processes"),
        ("features", "", "what this build supports, as JSON"),
    ]

    static var usage: String {
        let width = verbs.map { $0.name.count + 1 + $0.synopsis.count }.max() ?? 0
        let lines = verbs.map { verb in
            let left = verb.name + " " + verb.synopsis
            return "  " + left + String(repeating: " ", count: width - left.count + 2) + verb.summary
        }
        return """
        usage: berth [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [ARGS...]

        An OCI container runtime with runc's command line.

        commands:
        \(lines.joined(separator: "\n"))
          help [COMMAND]

        """
    }

    /// The help of one verb.
    static func usage(of name: String) -> String? {
        verbs.first { $0.name == name }.map { "usage: berth \($0.name) \($0.synopsis)\n\n\($0.summary)\n" }
    }

    /// `berth --version`: runc's first lines (go-runc reads the version, then `commit:` on the
    /// second line and `spec:` on the third), then crun's rundir and feature tokens. A token
    /// names only what berth enforces: +EBPF is the device program of linux.resources.devices;
    /// +SYSTEMD waits for sd-notify.
    static func version(_ globals: GlobalOptions) -> String {
        """
        berth version \(berthVersion)
        commit: unknown
        spec: \(Spec.version)
        libseccomp: \(libseccompVersion)
        rundir: \(globals.root)
        +CAP +SECCOMP +EBPF

        """
    }

    static let berthVersion = "0.1.0"

    /// True when `--help` or `-h` comes among a verb's flags, before its first argument (after
    /// it, `exec ID CMD -h` is the command's).
    static func asksForHelp(_ arguments: [String]) -> Bool {
        for argument in arguments {
            if argument == "--help" || argument == "-h" { return true }
            if !argument.hasPrefix("-") || argument == "--" { return false }
        }
        return false
    }

    /// Runs the command line and returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        var globals = GlobalOptions()
        do throws(BerthError) {
            let parsed = try GlobalOptions.parse(arguments)
            globals = parsed.0
            if parsed.version {
                try FileDescriptor.standardOutput.writeAll(version(globals))
                return 0
            }
            // As runc: no command, `help` and `h` print the usage and succeed.
            guard let command = parsed.command, !parsed.help, command != "help", command != "h" else {
                if let topic = parsed.rest.first, parsed.command == "help" || parsed.command == "h" {
                    guard let text = usage(of: topic) else { throw BerthError(.invalidArgument, "help: unknown command \"\(topic)\"") }
                    try FileDescriptor.standardOutput.writeAll(text)
                    return 0
                }
                try FileDescriptor.standardOutput.writeAll(usage)
                return 0
            }
            guard let handler = commands[command] else {
                throw BerthError(.invalidArgument, "unknown command \"\(command)\"; see berth --help")
            }
            if asksForHelp(parsed.rest), let text = usage(of: command) {
                try FileDescriptor.standardOutput.writeAll(text)
                return 0
            }
            let logged = globals
            warningHandler = { message in
                logged.log(level: "warning", message)
                _ = try? FileDescriptor.standardError.writeAll("berth: warning: \(terminalSafe(message))\n")
            }
            return try handler(parsed.rest, globals)
        } catch {
            globals.log(level: "error", error.description)
            let text = globals.debug ? error.chain.split(separator: "\n").map { terminalSafe(String($0)) }.joined(separator: "\n")
                                     : terminalSafe(error.description)
            _ = try? FileDescriptor.standardError.writeAll("berth: \(text)\n")
            return 1
        }
    }
}

/// Messages quote paths and names from config.json, which may hold any byte: control characters
/// are escaped, so an error stays one line and cannot send escape sequences to the terminal of
/// whoever reads it.
func terminalSafe(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        switch scalar.value {
        case 0x0A: result += "\\n"
        case 0x09: result += "\\t"
        case 0x00..<0x20, 0x7F, 0x80..<0xA0:
            let hex = String(scalar.value, radix: 16)
            result += "\\x" + (hex.count < 2 ? "0" : "") + hex
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result
}
