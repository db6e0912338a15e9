import BerthCore
import Glibc
import Linux

/// What every command gets: the state root and the global flags.
struct CtrContext {
    var root = "/run/ctr"
    var debug = false
}

/// One verb of ctr; each lives in its own file under Commands/.
protocol CtrCommand {
    /// One line for `ctr --help`.
    static var summary: String { get }
    /// `ctr VERB --help`: usage, flags and examples.
    static var usage: String { get }
    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32
    /// The flags its parser takes; `ctr completion` is generated from the same table.
    static var flags: [CtrArguments.Flag] { get }
    /// What its arguments after the flags are, for `ctr completion`.
    static var operands: CommandOperands { get }
}

/// What a command's positional arguments are, for completion.
enum CommandOperands: Equatable {
    case none
    /// NAME...
    case services
    /// ROOTFS|BUNDLE, then the container's command.
    case sourceThenCommand
    /// NAME, then the command to run in it.
    case serviceThenCommand
    /// One of these words.
    case words([String])
}

extension CtrCommand {
    static var operands: CommandOperands { .services }
}

/// The `ctr` command: global flags, then a verb.
public enum Ctr {
    static let commands: [(name: String, command: any CtrCommand.Type)] = [
        ("run", RunCommand.self), ("ps", PsCommand.self), ("logs", LogsCommand.self), ("exec", ExecCommand.self),
        ("stop", StopCommand.self), ("kill", KillCommand.self), ("rm", RmCommand.self), ("inspect", InspectCommand.self),
        ("pause", PauseCommand.self), ("unpause", UnpauseCommand.self), ("update", UpdateCommand.self), ("stats", StatsCommand.self),
        ("rollout", RolloutCommand.self), ("rollback", RollbackCommand.self), ("completion", CompletionCommand.self),
    ]

    /// The flags before the command, as `main` parses them (for `ctr completion`).
    static let globalFlags: [CtrArguments.Flag] = [.value("root"), .boolean("debug"), .boolean("h", "help"), .boolean("v", "version")]

    static var usage: String {
        var text = """
        usage: ctr [--root DIR] [--debug] COMMAND [ARGS...]

        Run containers as services, each watched by a small supervisor.

        commands:

        """
        for (name, command) in commands {
            text += "  " + name + String(repeating: " ", count: max(1, 12 - name.count)) + command.summary + "\n"
        }
        text += """

        global flags:
          --root DIR   state directory (default /run/ctr)
          --debug      show the cause of an error
          -h, --help   this text; ctr COMMAND --help shows a command's flags and examples

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
        var index = 0
        var command: String?
        do throws(BerthError) {
            while index < arguments.count, arguments[index].hasPrefix("-") {
                let item = arguments[index]
                index += 1
                switch item {
                case "--debug": context.debug = true
                case "-h", "--help": return printUsage(usage)
                case "-v", "--version": return printUsage("ctr version 0.1.0\n")
                case "--root":
                    guard index < arguments.count else { throw BerthError(.invalidArgument, "flag --root: needs a directory") }
                    context.root = arguments[index]
                    index += 1
                default:
                    guard item.hasPrefix("--root=") else { throw BerthError(.invalidArgument, "flag \(item): unknown global flag; see ctr --help") }
                    context.root = String(item.dropFirst("--root=".count))
                }
            }
            guard context.root.hasPrefix("/") else { throw BerthError(.invalidArgument, "flag --root: \"\(context.root)\" must be an absolute path") }
            guard index < arguments.count else {
                _ = try? FileDescriptor.standardError.writeAll(usage)
                return 2
            }
            command = arguments[index]
            var rest = Array(arguments[(index + 1)...])
            if command == "help" {
                guard let topic = rest.first else { return printUsage(usage) }
                command = topic
                rest = ["--help"]
            }
            guard let handler = commands.first(where: { $0.name == command })?.command else {
                throw BerthError(.invalidArgument, "unknown command \"\(command ?? "")\"; see ctr --help")
            }
            return try handler.run(rest, context)
        } catch {
            _ = try? FileDescriptor.standardError.writeAll("ctr: \(context.debug ? error.chain : error.description)\n")
            // As docker does: 125 when ctr itself failed, so that it differs from a container's status.
            return command == "run" || command == "exec" ? 125 : 1
        }
    }

    @discardableResult
    static func printUsage(_ text: String) -> Int32 {
        _ = try? FileDescriptor.standardOutput.writeAll(text)
        return 0
    }
}
