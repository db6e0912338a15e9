import Glibc
import Linux
import Runtime

/// The `berth` command: global options, then one of the verbs below.
public enum Berth {
    static let commands: [String: @Sendable ([String], GlobalOptions) throws(BerthError) -> Int32] = [
        "spec": SpecCommand.run, "create": CreateCommand.run, "start": StartCommand.run, "state": StateCommand.run,
        "kill": KillCommand.run, "delete": DeleteCommand.run, "run": RunCommand.run, "exec": ExecCommand.run,
        "list": ListCommand.run, "features": FeaturesCommand.run, "pause": PauseCommand.pause,
        "resume": PauseCommand.resume, "update": UpdateCommand.run, "events": EventsCommand.run, "ps": PsCommand.run,
    ]

    static let usage = """
    usage: berth [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [ARGS...]

    An OCI container runtime with runc's command line.

    commands:
      spec     [--bundle DIR]                         write a default config.json
      create   [--bundle DIR] [--pid-file F] ID       create a container, waiting to start
      start    ID                                     run the created container's process
      run      [--bundle DIR] [--detach] [--keep] ID  create, start and wait
      exec     [--process F] [-e K=V] ID CMD...       run another process in a container
      state    ID                                     print the OCI state
      kill     [--all] ID [SIGNAL]                    signal the container (default TERM)
      delete   [--force] ID                           remove a stopped container
      list     [--format table|json]                  list containers
      pause    ID / resume ID                         freeze and thaw every process of a container
      update   [--memory N] [--cpu-quota N] ... ID    change limits of a running container
      events   [--stats] [--interval 5s] ID           stats and OOM events as JSON lines
      ps       [--format table|json] ID               the container's processes
      features                                        what this build supports, as JSON

    """

    /// Runs the command line and returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        var globals = GlobalOptions()
        do throws(BerthError) {
            let parsed = try GlobalOptions.parse(arguments)
            globals = parsed.0
            if parsed.version {
                try FileDescriptor.standardOutput.writeAll("berth version 0.1.0\nspec: 1.2.0\n")
                return 0
            }
            guard let command = parsed.command, !parsed.help else {
                try FileDescriptor.standardOutput.writeAll(usage)
                return parsed.help ? 0 : 2
            }
            guard let handler = commands[command] else {
                throw BerthError(.invalidArgument, "unknown command \"\(command)\"; see berth --help")
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
