/// A manual page (man(7) macros, rendered by `man -l`), written out from a command's flag table:
/// `berth manpage` and `ctr manpage` build theirs from the completion model, so the pages, the
/// completion scripts and the parser read the same tables.
public struct ManualPage: Sendable {
    /// What a page says beyond its flag table: the synopsis lines, the description (paragraphs
    /// separated by blank lines; indented lines are shown as they are) and example command lines.
    public struct Text: Sendable {
        public var synopsis: [String]
        public var description: String
        public var examples: [String]
        /// For flags whose table entry has no summary: the placeholder and the summary, by the
        /// flag's spelling as typed (`--time`), as the command's help lists them.
        public var flagLines: [String: FlagLine]

        public init(synopsis: [String], description: String = "", examples: [String] = [], flagLines: [String: FlagLine] = [:]) {
            self.synopsis = synopsis
            self.description = description
            self.examples = examples
            self.flagLines = flagLines
        }
    }

    public struct FlagLine: Sendable, Equatable {
        public var placeholder: String
        public var summary: String

        public init(placeholder: String, summary: String) {
            self.placeholder = placeholder
            self.summary = summary
        }
    }

    /// `ctr-run`: the file is NAME.1.
    public var name: String
    public var summary: String
    public var text: Text
    public var options: [Flag]
    /// The program's page lists its commands and its global flags.
    public var commands: [(name: String, summary: String)]
    public var globalOptions: [Flag]
    public var seeAlso: [String]
    /// The footer's source, `Berth 0.1.0`.
    public var source: String

    public init(name: String, summary: String, text: Text, options: [Flag], commands: [(name: String, summary: String)] = [],
                globalOptions: [Flag] = [], seeAlso: [String], source: String) {
        self.name = name
        self.summary = summary
        self.text = text
        self.options = options
        self.commands = commands
        self.globalOptions = globalOptions
        self.seeAlso = seeAlso
        self.source = source
    }

    /// The program's page (`ctr`), then one page per command (`ctr-run`); the `help` command the
    /// completion model adds gets none. A flag's summary is its table's, else its help line's.
    public static func pages(_ model: CompletionModel, source: String, overview: String, program: Text,
                             commands: (CompletionModel.Command) -> Text) -> [ManualPage] {
        let p = model.program
        let described = model.commands.filter { $0.name != "help" }
        let names = [p] + described.map { p + "-" + $0.name }
        var pages = [ManualPage(name: p, summary: overview, text: program, options: [],
                                commands: described.map { ($0.name, $0.summary) },
                                globalOptions: model.globalFlags.map { $0.described(by: program.flagLines) },
                                seeAlso: Array(names.dropFirst()), source: source)]
        for command in described {
            let text = commands(command)
            pages.append(ManualPage(name: p + "-" + command.name, summary: command.summary, text: text,
                                    options: command.flags.map { $0.described(by: text.flagLines) }, seeAlso: [p], source: source))
        }
        return pages
    }

    /// The page in roff: NAME, SYNOPSIS, DESCRIPTION, COMMANDS, OPTIONS, GLOBAL OPTIONS,
    /// EXAMPLES, SEE ALSO, each only when it has something.
    public var roff: String {
        var lines = [
            #".\" Generated from the flag tables by `\#(name.split(separator: "-").first ?? "") manpage \#(name)`; do not edit."#,
            ".TH \(Self.escaped(name.uppercased())) 1 \"\" \"\(Self.escaped(source))\" \"User Commands\"",
            ".SH NAME",
            Self.escaped(name) + " \\- " + Self.escaped(summary),
            ".SH SYNOPSIS",
        ]
        lines += Self.literal(text.synopsis)
        if !text.description.isEmpty {
            lines.append(".SH DESCRIPTION")
            lines += Self.paragraphs(text.description)
        }
        if !commands.isEmpty {
            lines.append(".SH COMMANDS")
            for command in commands {
                lines += [".TP", "\\fB\(Self.escaped(command.name))\\fR", Self.escaped(command.summary)]
            }
        }
        lines += Self.section("OPTIONS", options)
        lines += Self.section("GLOBAL OPTIONS", globalOptions)
        if !text.examples.isEmpty {
            lines.append(".SH EXAMPLES")
            lines += Self.literal(text.examples)
        }
        if !seeAlso.isEmpty {
            lines.append(".SH SEE ALSO")
            lines.append(seeAlso.map { "\\fB\(Self.escaped($0))\\fR(1)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func section(_ title: String, _ flags: [Flag]) -> [String] {
        let shown = flags.filter { !$0.summary.isEmpty }
        guard !shown.isEmpty else { return [] }
        var lines = [".SH " + title]
        for flag in shown {
            let value = flag.takesValue && !flag.placeholder.isEmpty ? " \\fI" + escaped(flag.placeholder) + "\\fR" : ""
            lines += [".TP", flag.spelled.map { "\\fB" + escaped($0) + "\\fR" }.joined(separator: ", ") + value, escaped(flag.summary)]
        }
        return lines
    }

    /// Lines shown as they are, indented, without filling.
    private static func literal(_ lines: [String]) -> [String] {
        [".RS 4", ".nf"] + lines.map(escaped) + [".fi", ".RE"]
    }

    /// Filled paragraphs; a run of indented lines is a literal block.
    private static func paragraphs(_ text: String) -> [String] {
        var lines: [String] = []
        var block: [String] = []
        var inParagraph = false
        func flushBlock() {
            guard !block.isEmpty else { return }
            lines += literal(block.map { String($0.drop(while: { $0 == " " })) })
            block = []
            inParagraph = false
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.allSatisfy({ $0 == " " }) {
                flushBlock()
                inParagraph = false
            } else if line.hasPrefix(" ") {
                block.append(line)
            } else {
                flushBlock()
                if !inParagraph { lines.append(".PP") }
                inParagraph = true
                lines.append(escaped(line))
            }
        }
        flushBlock()
        return lines
    }

    /// Text as roff reads it literally: backslashes and minus signs escaped (a flag's dashes
    /// stay ASCII when copied), and a line starting with a control character made plain.
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "\\": result += "\\e"
            case "-": result += "\\-"
            case "\t": result += " "
            default: result.append(character)
            }
        }
        if result.hasPrefix(".") || result.hasPrefix("'") { result = "\\&" + result }
        return result
    }
}

extension Flag {
    /// The flag with the placeholder and summary its help line gives, when its table has no summary.
    func described(by lines: [String: ManualPage.FlagLine]) -> Flag {
        guard summary.isEmpty, let line = spelled.lazy.compactMap({ lines[$0] }).first else { return self }
        var flag = self
        flag.summary = line.summary
        if !line.placeholder.isEmpty { flag.placeholder = line.placeholder }
        return flag
    }
}

extension ManualPage.Text {
    /// A page's text from a help in ctr's layout: `usage: SYNOPSIS` (continued on indented
    /// lines), paragraphs, then sections headed `flags:`, `global flags:`, `example(s):` or
    /// another word and a colon; `commands:` is left out (the page lists them from the table).
    /// A flag line is `  -t, --time SECONDS   summary`, continued on lines indented deeper.
    public init(help: String) {
        self.init(synopsis: [])
        var section = "", description: [String] = [], current: [String] = [], flagIndent = 0
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func closeFlag() {
            guard let first = current.first else { return }
            let parts = Self.splitAtGap(first.drop(while: { $0 == " " }))
            let summary = ([parts.right] + current.dropFirst().map { String($0.drop(while: { $0 == " " })) }).filter { !$0.isEmpty }
            var placeholder = ""
            // `-t, --time SECONDS`: each spelling, then its placeholder; `-t` takes the next one's.
            for item in parts.left.split(separator: ",").map({ $0.drop(while: { $0 == " " }) }).reversed() {
                let words = item.split(separator: " ", maxSplits: 1)
                guard let spelling = words.first, spelling.hasPrefix("-") else { continue }
                if words.count > 1 { placeholder = String(words[1]) }
                flagLines[String(spelling)] = ManualPage.FlagLine(placeholder: placeholder, summary: summary.joined(separator: " "))
            }
            current = []
        }
        for line in lines {
            if section.isEmpty && synopsis.isEmpty && line.hasPrefix("usage: ") {
                section = "usage"
                synopsis.append(String(line.dropFirst("usage: ".count)))
            } else if section == "usage" {
                if line.hasPrefix(" ") { synopsis.append(String(line.dropFirst("usage: ".count))) } else { section = "description" }
            } else if line.hasSuffix(":"), let first = line.first, first.isLetter, !line.contains(" ") || line == "global flags:" {
                closeFlag()
                section = String(line.dropLast())
                continue
            }
            switch section {
            case "usage": break
            case "flags", "global flags":
                // A continuation may start with a flag too (`--restart on-failure ...`): it is
                // indented deeper than the flag lines.
                let indent = line.prefix(while: { $0 == " " }).count
                if line.dropFirst(indent).hasPrefix("-"), current.isEmpty || indent <= flagIndent {
                    closeFlag()
                    flagIndent = indent
                }
                if !line.isEmpty { current.append(line) }
            case "example", "examples":
                if !line.isEmpty { examples.append(String(line.hasPrefix("  ") ? line.dropFirst(2) : line[...])) }
            case "commands": break
            default: description.append(line)
            }
        }
        closeFlag()
        self.description = description.joined(separator: "\n").trimmingBlankLines
    }

    /// `left   right` at the first run of two or more spaces.
    private static func splitAtGap(_ line: Substring) -> (left: String, right: String) {
        var index = line.startIndex
        while index < line.endIndex {
            let next = line.index(after: index)
            if line[index] == " ", next < line.endIndex, line[next] == " " {
                return (String(line[..<index]), String(line[index...].drop(while: { $0 == " " })))
            }
            index = next
        }
        return (String(line), "")
    }
}

extension String {
    /// Without the blank lines at either end.
    var trimmingBlankLines: String {
        var lines = split(separator: "\n", omittingEmptySubsequences: false)
        while let first = lines.first, first.allSatisfy({ $0 == " " }) { lines.removeFirst() }
        while let last = lines.last, last.allSatisfy({ $0 == " " }) { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}
