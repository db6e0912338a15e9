import BerthCore
import CommandLineFlags
import Linux

/// `berth completion bash|zsh|fish`: a completion script generated from the verb table and each
/// verb's flag table, the ones the parser reads. runc has no such verb; engines never call it,
/// and every runc verb keeps its meaning.
enum CompletionVerb {
    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        guard parsed.positionals.count == 1, let shell = parsed.positionals.first,
              let script = CompletionScripts.script(for: shell, model) else {
            throw BerthError(.invalidArgument, "completion: expects one of bash, zsh or fish (e.g. berth completion bash)")
        }
        try FileDescriptor.standardOutput.writeAll(script)
        return 0
    }

    /// berth's verbs with their flag tables, container IDs from `berth list -q`, and what the
    /// path flags' values are.
    static var model: CompletionModel {
        // Flags without a summary are taken only because engines may pass them: not offered.
        let offered: ([Flag]) -> [Flag] = { $0.filter { !$0.summary.isEmpty } + [Flag.help] }
        var commands = Berth.verbs.map {
            CompletionModel.Command(name: $0.name, summary: $0.summary, flags: offered($0.flags), operands: $0.operands)
        }
        commands.append(CompletionModel.helpCommand(for: commands))
        return CompletionModel(program: "berth", commands: commands, globalFlags: offered(GlobalOptions.flags), values: [
            "root": .directories, "log": .files, "criu": .files, "bundle": .directories, "pid-file": .files,
            "console-socket": .files, "pidfd-socket": .files, "process": .files, "resources": .files,
        ], namesCommand: ["list", "-q"], namesHeaderLines: 0, nameKind: "container")
    }
}
