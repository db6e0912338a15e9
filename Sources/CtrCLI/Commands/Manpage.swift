import BerthCore
import CommandLineFlags
import Linux

/// `ctr manpage [PAGE]`: ctr's manual pages in roff, built from the completion model (the
/// command and flag tables) and each command's help; `make install` writes them to man1.
enum ManpageCommand: CtrCommand {
    static let summary = "print a manual page in roff (make install puts them in man1)"
    static let usage = """
    usage: ctr manpage [--list] [PAGE]

    Prints the manual page PAGE (ctr, the default, or ctr-COMMAND) in roff, generated from the
    same flag tables as the parser and the completion scripts. make install writes every page
    to $(PREFIX)/share/man/man1.

    flags:
      --list   print the names of the pages, one a line

    examples:
      ctr manpage ctr-run | man -l -
      ctr manpage --list

    """
    static let flags: [Flag] = [.boolean("list")]
    static var operands: Operands { .words(["ctr"] + Ctr.commands.map { "ctr-" + $0.name }) }

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let pages = pages
        if parsed.flag("list") {
            try writeOut(pages.map { $0.name + "\n" }.joined())
            return 0
        }
        guard parsed.positionals.count <= 1 else { throw BerthError(.invalidArgument, "manpage: expects at most one page name (see ctr manpage --list)") }
        let name = parsed.positionals.first ?? "ctr"
        guard let page = pages.first(where: { $0.name == name }) else {
            throw BerthError(.invalidArgument, "manpage: no page \"\(name)\" (see ctr manpage --list)")
        }
        try writeOut(page.roff)
        return 0
    }

    /// ctr(1), then ctr-COMMAND(1) for each command. A flag that a command's help leaves out
    /// (update's limits, rollback's timing) takes the line another command's help gives it.
    static var pages: [ManualPage] {
        let program = ManualPage.Text(help: Ctr.usage)
        let texts = Dictionary(Ctr.commands.map { ($0.name, ManualPage.Text(help: $0.command.usage)) }, uniquingKeysWith: { first, _ in first })
        var everyLine: [String: ManualPage.FlagLine] = [:]
        for (name, _) in Ctr.commands { everyLine.merge(texts[name]?.flagLines ?? [:]) { first, _ in first } }
        return ManualPage.pages(CompletionCommand.model, source: "Berth \(Release.version)", overview: "run containers as services, each watched by a small supervisor",
                                program: program) { command in
            var text = texts[command.name] ?? ManualPage.Text(synopsis: ["ctr \(command.name)"])
            text.flagLines.merge(everyLine) { own, _ in own }
            return text
        }
    }
}
