import BerthCore
import CommandLineFlags
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
    static let flags: [Flag] = []
    static let shells = CompletionScripts.shells
    static let operands = Operands.words(shells)

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        guard parsed.positionals.count == 1, let shell = parsed.positionals.first, shells.contains(shell) else {
            throw BerthError(.invalidArgument, "completion: expects one of bash, zsh or fish (e.g. ctr completion bash)")
        }
        try writeOut(script(for: shell))
        return 0
    }

    static func script(for shell: String) -> String {
        CompletionScripts.script(for: shell, model) ?? ""
    }

    /// ctr's commands with their flag tables, service names from `ctr ps -a`, and what some
    /// flags' values are. A key of `values` that names no flag of any table fails a test.
    static var model: CompletionModel {
        var commands = Ctr.commands.map {
            CompletionModel.Command(name: $0.name, summary: $0.command.summary, flags: $0.command.flags + [Flag.help], operands: $0.command.operands)
        }
        commands.append(CompletionModel.helpCommand(for: commands))
        return CompletionModel(program: "ctr", commands: commands, globalFlags: Ctr.globalFlags, values: [
            "root": .directories,
            "env-file": .files,
            "volume": .files,
            "security-opt": .words(["seccomp=unconfined", "no-new-privileges"]),
            "restart": .words(["no", "on-failure", "always", "unless-stopped"]),
            "network": .words(["none", "host"]),
            "ps.format": .words(["table", "json"]),
            "stats.format": .words(["table", "json", "csv"]),
            "signal": .words(Signal.names.map(\.name).sorted()),
        ], namesCommand: ["ps", "-a"], namesHeaderLines: 1, nameKind: "service")
    }
}
