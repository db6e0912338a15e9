import BerthCore
import CommandLineFlags
import Glibc
import Linux
import OCI
import Runtime
import Seccomp

/// One verb of berth: its help, its flag table (which the parser, `--help` and `berth completion`
/// read) and its handler.
struct Verb: Sendable {
    var name: String
    var synopsis: String
    var summary: String
    var flags: [Flag] = []
    /// After this many arguments, the rest is the verb's verbatim (`exec ID CMD...`).
    var stopAfter: Int?
    /// What its arguments are, for completion.
    var operands = Operands.names
    var run: @Sendable (Arguments, GlobalOptions) throws(BerthError) -> Int32
    /// More text for `COMMAND --help`, after the summary.
    var details: String?
}

/// The `berth` command: global options, then one of the verbs below.
public enum Berth {
    static let verbs: [Verb] = [
        Verb(name: "spec", synopsis: "[--bundle DIR] [--rootless]", summary: "write a default config.json", flags: SpecCommand.flags, operands: .none,
             run: SpecCommand.run, details: SpecCommand.details),
        Verb(name: "create", synopsis: "[--bundle DIR] [--pid-file F] [--console-socket S] ID", summary: "create a container, waiting to start",
             flags: CreateCommand.flags, operands: .none, run: CreateCommand.run),
        Verb(name: "start", synopsis: "ID", summary: "run the created container's process", run: StartCommand.run),
        Verb(name: "run", synopsis: "[--bundle DIR] [--detach] [--keep] ID", summary: "create, start and wait (a terminal is proxied)",
             flags: RunCommand.flags, operands: .none, run: RunCommand.run),
        Verb(name: "exec", synopsis: "[--process F] [-e K=V] [-t] ID CMD...", summary: "run another process in a container",
             flags: ExecCommand.flags, stopAfter: 1, operands: .nameThenCommand, run: ExecCommand.run),
        Verb(name: "state", synopsis: "ID", summary: "print the OCI state", run: StateCommand.run),
        Verb(name: "kill", synopsis: "[--all] ID [SIGNAL]", summary: "signal the container (default TERM)", flags: KillCommand.flags,
             run: KillCommand.run),
        Verb(name: "delete", synopsis: "[--force] ID", summary: "remove a stopped or created container", flags: DeleteCommand.flags,
             run: DeleteCommand.run),
        Verb(name: "list", synopsis: "[--format table|json] [--quiet]", summary: "list containers", flags: ListCommand.flags, operands: .none,
             run: ListCommand.run),
        Verb(name: "pause", synopsis: "ID", summary: "freeze every process of a container", run: PauseCommand.pause),
        Verb(name: "resume", synopsis: "ID", summary: "thaw a paused container", run: PauseCommand.resume),
        Verb(name: "update", synopsis: "[--memory N] [--cpu-quota N] ... ID", summary: "change limits of a running container",
             flags: UpdateCommand.flags, run: UpdateCommand.run),
        Verb(name: "events", synopsis: "[--stats] [--interval 5s] ID", summary: "stats and OOM events as JSON lines", flags: EventsCommand.flags,
             run: EventsCommand.run),
        Verb(name: "ps", synopsis: "[--format table|json] ID [PS-ARGS...]", summary: "the container's processes", flags: PsCommand.flags,
             stopAfter: 1, operands: .nameThenCommand, run: PsCommand.run),
        Verb(name: "features", synopsis: "", summary: "what this build supports, as JSON", operands: .none, run: FeaturesCommand.run),
        Verb(name: "completion", synopsis: "bash|zsh|fish", summary: "a shell completion script (not in runc)",
             operands: .words(CompletionScripts.shells), run: CompletionVerb.run),
        Verb(name: "manpage", synopsis: "[--list] [PAGE]", summary: "a manual page in roff (not in runc; make install puts them in man1)",
             flags: ManpageVerb.flags, operands: .none, run: ManpageVerb.run),
    ]

    /// `berth --help` in the sections of runc's (urfave/cli's): NAME, USAGE, VERSION, COMMANDS,
    /// GLOBAL OPTIONS, entries indented by three spaces.
    static var usage: String {
        let entries = verbs.map { ($0.name, $0.summary) } + [("help, h", "Shows a list of commands or help for one command")]
        let width = entries.map(\.0.count).max() ?? 0
        let commands = entries.map { "   " + $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }
        return """
        NAME:
           berth - an OCI container runtime with runc's command line

        USAGE:
           berth [global options] command [command options] [arguments...]

        VERSION:
           \(berthVersion)

        COMMANDS:
        \(commands.joined(separator: "\n"))

        GLOBAL OPTIONS:
        \(indented((GlobalOptions.flags + [Flag.help]).helpText))
        """
    }

    /// The help of one verb, as runc's: NAME, USAGE and OPTIONS, listed from its flag table.
    static func usage(of name: String) -> String? {
        guard let verb = verbs.first(where: { $0.name == name }) else { return nil }
        // runc's DESCRIPTION section, for the verbs that have more to say.
        let details = verb.details.map { text in
            "DESCRIPTION:\n" + text.split(separator: "\n", omittingEmptySubsequences: false).map { "   " + $0 }.joined(separator: "\n") + "\n\n"
        } ?? ""
        return """
        NAME:
           berth \(verb.name) - \(verb.summary)

        USAGE:
           berth \(verb.name) \(verb.synopsis)

        \(details)OPTIONS:
        \(indented((verb.flags + [Flag.help]).helpText))
        """
    }

    /// The flag table's two-space indent as urfave/cli's three.
    static func indented(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : " " + $0 }.joined(separator: "\n")
    }

    /// `berth --version`: runc's first lines (go-runc reads the version, then `commit:` on the
    /// second line and `spec:` on the third), then crun's rundir and feature tokens. A token
    /// names only what berth enforces: +EBPF is the device program of linux.resources.devices.
    /// No +SYSTEMD: crun prints it when linked with libsystemd, which also means the systemd
    /// cgroup driver, which berth lacks (`features` says systemd: false); sd-notify needs none.
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

    static let berthVersion = Release.version

    /// Runs the command line and returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        var globals = GlobalOptions()
        do throws(BerthError) {
            let parsed = try GlobalOptions.parse(arguments)
            globals = parsed.0
            try globals.createLog()
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
            guard let verb = verbs.first(where: { $0.name == command }) else {
                throw BerthError(.invalidArgument, "unknown command \"\(command)\"; see berth --help")
            }
            let arguments = try Arguments(parsed.rest, flags: verb.flags, stopAfter: verb.stopAfter)
            if arguments.wantsHelp, let text = usage(of: command) {
                try FileDescriptor.standardOutput.writeAll(text)
                return 0
            }
            let logged = globals
            warningHandler = { message in
                logged.log(level: "warning", message)
                _ = try? FileDescriptor.standardError.writeAll("berth: warning: \(terminalSafe(message))\n")
            }
            return try verb.run(arguments, globals)
        } catch {
            report(error, globals)
            return 1
        }
    }

    /// Tells of a failed command as runc does: the error line in --log, where engines read it,
    /// and on stderr. With --debug the chain of causes goes to both.
    static func report(_ error: BerthError, _ globals: GlobalOptions) {
        globals.log(level: "debug", error.chain)
        globals.log(level: "error", error.description)
        let text = globals.debug ? error.chain.split(separator: "\n").map { terminalSafe(String($0)) }.joined(separator: "\n")
                                 : terminalSafe(error.description)
        _ = try? FileDescriptor.standardError.writeAll("berth: \(text)\n")
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

extension Arguments {
    /// berth's command lines follow runc's.
    init(_ items: [String], flags: [Flag], stopAfter: Int? = nil) throws(BerthError) {
        try self.init(items, flags: flags, dialect: .runc, stopAfter: stopAfter)
    }

    /// A flag's value as a count (`--preserve-fds 2`).
    func integer(_ name: String, flag: String) throws(BerthError) -> Int32? {
        guard let text = value(name) else { return nil }
        guard let number = Int32(text), number >= 0 else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not a non-negative integer")
        }
        return number
    }

    /// The single container ID a command takes.
    func containerID(command: String) throws(BerthError) -> String {
        guard positionals.count == 1 else {
            throw BerthError(.invalidArgument, "\(command): expects exactly one container id, got \(positionals.count)")
        }
        return positionals[0]
    }
}
