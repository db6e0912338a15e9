import BerthCore
import CommandLineFlags
import Glibc
import Linux
import Runtime
import SupervisorAPI

/// What every command gets: the state root and the global flags.
struct CtrContext {
    var root = StateRoot.defaultPath(program: "ctr")
    /// Where definitions and logs live (DataRoot): /var/lib/ctr by default.
    var dataRoot = DataRoot.defaultPath()
    var debug = false

    /// The service called `name` (which may not exist).
    func service(_ name: String) -> ServiceDirectory { ServiceDirectory(root: root, dataRoot: dataRoot, name: name) }
}

/// One verb of ctr; each lives in its own file under Commands/.
protocol CtrCommand {
    /// One line for `ctr --help`.
    static var summary: String { get }
    /// `ctr VERB --help`: usage, flags and examples.
    static var usage: String { get }
    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32
    /// The flags its parser takes; `ctr completion` is generated from the same table.
    static var flags: [Flag] { get }
    /// What its arguments after the flags are, for `ctr completion`.
    static var operands: Operands { get }
}

extension CtrCommand {
    static var operands: Operands { .names }
}

/// The `ctr` command: global flags, then a verb.
public enum Ctr {
    static let commands: [(name: String, command: any CtrCommand.Type)] = [
        ("run", RunCommand.self), ("ps", PsCommand.self), ("logs", LogsCommand.self), ("exec", ExecCommand.self),
        ("stop", StopCommand.self), ("kill", KillCommand.self), ("rm", RmCommand.self), ("inspect", InspectCommand.self),
        ("pause", PauseCommand.self), ("unpause", UnpauseCommand.self), ("update", UpdateCommand.self), ("stats", StatsCommand.self),
        ("rollout", RolloutCommand.self), ("rollback", RollbackCommand.self), ("completion", CompletionCommand.self),
        ("start", StartCommand.self), ("restart", RestartCommand.self), ("wait", WaitCommand.self), ("rename", RenameCommand.self),
        ("system", SystemCommand.self), ("manpage", ManpageCommand.self), ("version", VersionCommand.self),
    ]

    /// The flags before the command, as `main` parses them (for `ctr completion`).
    static let globalFlags: [Flag] = [.value("root", placeholder: "DIR"), .value("data-root", placeholder: "DIR"), .boolean("debug"), .boolean("h", "help"), .boolean("v", "version")]

    static var usage: String {
        var text = """
        usage: ctr [--root DIR] [--data-root DIR] [--debug] COMMAND [ARGS...]

        Run containers as services, each watched by a small supervisor.

        commands:

        """
        for (name, command) in commands {
            text += "  " + name + String(repeating: " ", count: max(1, 12 - name.count)) + command.summary + "\n"
        }
        text += """

        global flags:
          --root DIR        runtime state (default /run/ctr; $XDG_RUNTIME_DIR/ctr for a user)
          --data-root DIR   definitions and logs, which survive a reboot (default /var/lib/ctr;
                            $XDG_DATA_HOME/ctr or ~/.local/share/ctr for a user; $CTR_DATA_ROOT;
                            with --root alone: that directory holds both)
          --debug           show the cause of an error
          -h, --help        this text; ctr COMMAND --help shows a command's flags and examples
          -v, --version     print ctr's version (ctr version says more)

        examples:
          ctr run -d --name web --memory 64M --restart on-failure:3 ./rootfs -- httpd -f -p 8080
          ctr ps -a
          ctr logs -f web
          ctr exec web ps
          ctr stop web && ctr rm web
          source <(ctr completion bash)     # shell completion; also zsh and fish

        """
        return text
    }

    /// Runs the command line and returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        var context = CtrContext()
        var command: String?
        do throws(BerthError) {
            let parsed = try Arguments(arguments, flags: globalFlags, stopAfter: 1)
            if parsed.wantsHelp { return printUsage(usage) }
            if parsed.flag("version") { return printUsage("ctr version \(Release.version)\n") }
            context.debug = parsed.flag("debug")
            context.root = parsed.value("root") ?? context.root
            guard context.root.hasPrefix("/") else { throw BerthError(.invalidArgument, "flag --root: \"\(context.root)\" must be an absolute path") }
            try RootCheck.check(context.root, label: parsed.value("root") == nil ? "state root" : "flag --root")
            context.dataRoot = try DataRoot.resolve(flag: parsed.value("data-root"), rootFlag: parsed.value("root"))
            if context.dataRoot != context.root {
                try RootCheck.check(context.dataRoot, label: parsed.value("data-root") == nil ? "data root" : "flag --data-root")
            }
            guard let first = parsed.positionals.first else {
                _ = try? FileDescriptor.standardError.writeAll(usage)
                return 2
            }
            command = first
            var rest = Array(parsed.positionals.dropFirst())
            if command == "help" {
                guard let topic = rest.first else { return printUsage(usage) }
                command = topic
                rest = ["--help"]
            }
            guard let handler = commands.first(where: { $0.name == command })?.command else {
                throw BerthError(.invalidArgument, "unknown command \"\(command ?? "")\"; see ctr --help" + containerdHint(command ?? ""))
            }
            return try handler.run(rest, context)
        } catch {
            _ = try? FileDescriptor.standardError.writeAll("ctr: \(context.debug ? error.chain : error.description)\n")
            // As docker does: 125 when ctr itself failed, so that it differs from a container's status.
            return command == "run" || command == "exec" ? 125 : 1
        }
    }

    /// `ctr run --root X`: a global flag after the command is unknown to the command's table;
    /// the refusal says where it goes.
    static func misplacedGlobalFlag(_ error: BerthError, commandFlags: [Flag]) -> BerthError? {
        guard let written = Arguments.unknownFlag(in: error) else { return nil }
        let spelling = String(written.drop(while: { $0 == "-" }))
        guard let global = globalFlags.first(where: { $0.spellings.contains(spelling) }),
              !commandFlags.contains(where: { $0.spellings.contains(spelling) }) else { return nil }
        let example = global.takesValue ? "\(written) \(global.placeholder)" : written
        return BerthError(.invalidArgument, "flag \(written): a global flag, which goes before the command (ctr \(example) COMMAND ...)")
    }

    /// containerd's ctr (/usr/bin/ctr, from its Debian package) has commands of its own: a user
    /// who typed one of them is told which program that is.
    static func containerdHint(_ command: String) -> String {
        let containerdCommands: Set = ["containers", "container", "c", "images", "image", "i", "tasks", "task", "t", "namespaces",
                                       "namespace", "ns", "snapshots", "snapshot", "content", "leases", "plugins", "plugin", "oci",
                                       "install", "shim", "pprof", "deprecations", "info", "sandboxes", "sandbox"]
        guard containerdCommands.contains(command) else { return "" }
        return " (\"ctr \(command)\" is containerd's ctr: /usr/bin/ctr \(command))"
    }

    @discardableResult
    static func printUsage(_ text: String) -> Int32 {
        _ = try? FileDescriptor.standardOutput.writeAll(text)
        return 0
    }
}

extension Arguments {
    /// ctr's command lines follow docker's.
    init(_ items: [String], flags: [Flag], stopAfter: Int? = nil) throws(BerthError) {
        do {
            try self.init(items, flags: flags, dialect: .docker, stopAfter: stopAfter)
        } catch {
            throw Ctr.misplacedGlobalFlag(error, commandFlags: flags) ?? error
        }
    }

    /// The names a command takes (`stop NAME...`): at least one.
    func names(command: String) throws(BerthError) -> [String] {
        guard !positionals.isEmpty else { throw BerthError(.invalidArgument, "\(command): expects at least one service name (see ctr \(command) --help)") }
        return positionals
    }

    /// The single name a command takes (`logs NAME`).
    func name(command: String) throws(BerthError) -> String {
        guard positionals.count == 1 else {
            throw BerthError(.invalidArgument, "\(command): expects one service name, got \(positionals.count) (see ctr \(command) --help)")
        }
        return positionals[0]
    }
}
