import BerthCore
import Linux

/// `ctr completion bash|zsh|fish`: a completion script generated from the command table and
/// each command's flag table, the ones the parser uses, so the two cannot drift apart.
enum CompletionCommand: CtrCommand {
    static let summary = "print a shell completion script (bash, zsh or fish)"
    static let usage = """
    usage: ctr completion bash|zsh|fish

    Prints a script that completes ctr's commands, their flags, service names (from ctr ps -a,
    under the --root given on the line) and the ROOTFS directory of ctr run.

    examples:
      source <(ctr completion bash)                 # in ~/.bashrc
      ctr completion zsh > "${fpath[1]}/_ctr"       # or: source <(ctr completion zsh)
      ctr completion fish > ~/.config/fish/completions/ctr.fish

    """
    static let flags: [CtrArguments.Flag] = []
    static let shells = ["bash", "zsh", "fish"]
    static let operands = CommandOperands.words(shells)

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try CtrArguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        guard parsed.positionals.count == 1, let shell = parsed.positionals.first, shells.contains(shell) else {
            throw BerthError(.invalidArgument, "completion: expects one of bash, zsh or fish (e.g. ctr completion bash)")
        }
        try writeOut(script(for: shell))
        return 0
    }

    static func script(for shell: String) -> String {
        let model = CompletionModel.current
        switch shell {
        case "zsh": return CompletionScripts.zsh(model)
        case "fish": return CompletionScripts.fish(model)
        default: return CompletionScripts.bash(model)
        }
    }
}

/// What the scripts complete: ctr's commands with their flag tables, and what some flags' values are.
struct CompletionModel {
    struct Command {
        var name: String
        var summary: String
        var flags: [CtrArguments.Flag]
        var operands: CommandOperands
    }

    /// What a flag's value is, when the shell can offer something.
    enum Value: Equatable {
        case files
        case directories
        case words([String])
    }

    var commands: [Command]
    var globalFlags: [CtrArguments.Flag]

    static var current: CompletionModel {
        var commands = Ctr.commands.map { Command(name: $0.name, summary: $0.command.summary, flags: $0.command.flags + [CtrArguments.help],
                                                  operands: $0.command.operands) }
        commands.append(Command(name: "help", summary: "show a command's usage", flags: [], operands: .words(Ctr.commands.map(\.name))))
        return CompletionModel(commands: commands, globalFlags: Ctr.globalFlags)
    }

    /// Values by flag, as `command.flag` (for that command only) or `flag` (for every command
    /// that has it). A key that names no flag of any table fails a test.
    static let values: [String: Value] = [
        "root": .directories,
        "env-file": .files,
        "volume": .files,
        "security-opt": .words(["seccomp=unconfined", "no-new-privileges"]),
        "restart": .words(["no", "on-failure", "always"]),
        "network": .words(["none", "host"]),
        "ps.format": .words(["table", "json"]),
        "stats.format": .words(["table", "json", "csv"]),
        "signal": .words(FlagValues.signalNames.keys.sorted()),
    ]

    static func value(of flag: CtrArguments.Flag, in command: String?) -> Value? {
        if let command, let value = values[command + "." + flag.name] { return value }
        return values[flag.name]
    }
}
