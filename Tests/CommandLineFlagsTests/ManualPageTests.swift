import BerthCore
@testable import CommandLineFlags
import Testing

/// The man page generator: a help in ctr's layout read into sections, the pages built from a
/// completion model's tables, and the roff they are written in.
@Suite struct ManualPageTests {
    static let help = """
    usage: tool stop [-t SECONDS] [--force]
                     NAME...

    Stops things. A line that starts with a dot:
    .hidden is text, and so is a \\backslash.

      tool stop --now web

    flags:
      -t, --time SECONDS   grace period before the kill
                           --force or not (default 10)
      --cap-add CAP, --cap-drop CAP   change the capability set
      --force              no questions

    commands:
      ignored   the page lists commands from the table

    examples:
      tool stop web
      tool stop -t 2 web \\
          worker

    """

    static let model = CompletionModel(program: "tool", commands: [
        .init(name: "stop", summary: "stop things", flags: [.value("t", "time"), .boolean("force"), .value("cap-add"), .value("cap-drop"),
                                                             .boolean("quiet", summary: "the table's own summary"), .value("undescribed"), Flag.help],
              operands: .names),
        .init(name: "go", summary: "go", flags: [], operands: .none),
    ], globalFlags: [.value("root", placeholder: "DIR", summary: "state"), .boolean("debug")], values: [:], namesCommand: ["ls"],
       namesHeaderLines: 0, nameKind: "thing")

    static var pages: [ManualPage] {
        var commands = model
        commands.commands.append(CompletionModel.helpCommand(for: model.commands))
        return ManualPage.pages(commands, source: "Tool 1.0", overview: "does things",
                                program: ManualPage.Text(synopsis: ["tool COMMAND"], flagLines: ["--debug": .init(placeholder: "", summary: "say more")])) {
            $0.name == "stop" ? ManualPage.Text(help: help) : ManualPage.Text(synopsis: ["tool \($0.name)"])
        }
    }

    @Test func helpTextIsReadIntoSynopsisDescriptionFlagsAndExamples() {
        let text = ManualPage.Text(help: Self.help)
        #expect(text.synopsis == ["tool stop [-t SECONDS] [--force]", "          NAME..."], "continued under the first line")
        #expect(text.description.hasPrefix("Stops things."))
        #expect(text.description.hasSuffix("  tool stop --now web"))
        #expect(!text.description.contains("ignored"), "the commands section is left out")
        #expect(text.examples == ["tool stop web", "tool stop -t 2 web \\", "    worker"])
        #expect(text.flagLines["--time"] == .init(placeholder: "SECONDS", summary: "grace period before the kill --force or not (default 10)"), "a continuation starting with a flag is still one")
        #expect(text.flagLines["-t"] == text.flagLines["--time"], "a short spelling takes the long one's placeholder")
        #expect(text.flagLines["--cap-drop"] == .init(placeholder: "CAP", summary: "change the capability set"))
        #expect(text.flagLines["--cap-add"]?.placeholder == "CAP")
        #expect(text.flagLines["--force"] == .init(placeholder: "", summary: "no questions"))
    }

    @Test func theProgramAndEachCommandButHelpGetAPage() {
        #expect(Self.pages.map(\.name) == ["tool", "tool-stop", "tool-go"])
        let program = Self.pages[0]
        #expect(program.commands.map(\.name) == ["stop", "go"])
        #expect(program.seeAlso == ["tool-stop", "tool-go"])
        #expect(program.globalOptions.map(\.summary) == ["state", "say more"])
        #expect(Self.pages[1].seeAlso == ["tool"])
    }

    @Test func everyFlagOfTheTableIsAnOptionDescribedByItsTableElseByItsHelpLine() {
        let options = Self.pages[1].options
        #expect(options.map(\.name) == ["time", "force", "cap-add", "cap-drop", "quiet", "undescribed", "help"])
        #expect(options[0].placeholder == "SECONDS" && options[0].summary.hasPrefix("grace period"))
        #expect(options[4].summary == "the table's own summary")
        #expect(options[5].summary.isEmpty, "no help line: no summary, and so no entry in the page")
        let roff = Self.pages[1].roff
        #expect(roff.contains(".TP\n\\fB\\-t\\fR, \\fB\\-\\-time\\fR \\fISECONDS\\fR\ngrace period before the kill \\-\\-force or not (default 10)\n"))
        #expect(!roff.contains("undescribed"))
    }

    @Test func roffHasTheSectionsInOrder() {
        let roff = Self.pages[1].roff
        let headings = roff.split(separator: "\n").filter { $0.hasPrefix(".SH ") || $0.hasPrefix(".TH ") }
        #expect(headings == [".TH TOOL\\-STOP 1 \"\" \"Tool 1.0\" \"User Commands\"", ".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION",
                             ".SH OPTIONS", ".SH EXAMPLES", ".SH SEE ALSO"])
        #expect(roff.contains(".SH NAME\ntool\\-stop \\- stop things\n"))
        #expect(roff.hasSuffix(".SH SEE ALSO\n\\fBtool\\fR(1)\n"))
        let program = Self.pages[0].roff
        #expect(program.contains(".SH COMMANDS\n.TP\n\\fBstop\\fR\nstop things\n.TP\n\\fBgo\\fR\ngo\n"))
        #expect(program.contains(".SH GLOBAL OPTIONS\n.TP\n\\fB\\-\\-root\\fR \\fIDIR\\fR\nstate\n"))
        #expect(!program.contains(".SH OPTIONS"))
    }

    @Test func textIsEscapedSoRoffReadsItLiterally() {
        let roff = Self.pages[1].roff
        #expect(roff.contains("\n\\&.hidden is text, and so is a \\ebackslash.\n"), "a leading dot is no request")
        #expect(roff.contains(".RS 4\n.nf\ntool stop \\-\\-now web\n.fi\n.RE"), "indented lines are a literal block")
        #expect(ManualPage.escaped("'quote\tand-dash") == "\\&'quote and\\-dash")
        var literal = false
        for line in roff.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            #expect(!line.isEmpty, "no blank lines: roff would print them")
            if line == ".nf" || line == ".fi" { literal = line == ".nf" }
            #expect(literal || !line.hasPrefix(" "), "no leading spaces in filled text: roff would break there")
        }
    }
}
