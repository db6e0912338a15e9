/// One flag of a command's table: its spellings, whether it takes a value, and the words that
/// `--help` and the completion scripts show for it. The parser, the help text and the shell
/// completion all read the same table, so they cannot drift apart.
public struct Flag: Sendable, Equatable {
    /// One letter for the short spelling, longer names for the long ones (`["m", "memory"]`).
    public var spellings: [String]
    public var takesValue: Bool
    /// What `--help` shows for the value (`DIR`, `SIZE`).
    public var placeholder: String
    /// The only values accepted, when the table fixes them; the completion scripts offer them.
    public var choices: [String]?
    /// One line for `--help`; empty leaves the flag out of the help (accepted for compatibility).
    public var summary: String

    public init(spellings: [String], takesValue: Bool, placeholder: String = "", choices: [String]? = nil, summary: String = "") {
        self.spellings = spellings
        self.takesValue = takesValue
        self.placeholder = placeholder
        self.choices = choices
        self.summary = summary
    }

    /// The first long spelling: values are looked up by it.
    public var name: String { spellings.first(where: { $0.count > 1 }) ?? spellings[0] }

    /// As typed in the docker dialect and shown in help: `-m`, `--memory`.
    public var spelled: [String] { spellings.map { $0.count == 1 ? "-" + $0 : "--" + $0 } }

    public static func value(_ spellings: String..., placeholder: String = "VALUE", choices: [String]? = nil,
                             summary: String = "") -> Flag {
        Flag(spellings: spellings, takesValue: true, placeholder: placeholder, choices: choices, summary: summary)
    }

    public static func boolean(_ spellings: String..., summary: String = "") -> Flag {
        Flag(spellings: spellings, takesValue: false, summary: summary)
    }

    /// Every command takes it; the parser adds it to each table.
    public static let help = Flag.boolean("h", "help", summary: "show this help")
}

/// How a command line spells its flags.
public enum Dialect: Sendable {
    /// runc's, which is Go's flag package: a long flag takes one dash or two (`-bundle DIR`,
    /// `--bundle=DIR`, as engines pass them); one-letter flags are not grouped.
    case runc
    /// docker's: long flags take two dashes; one-letter flags take one and may be grouped
    /// (`-dt`), with a value right after the letter (`-m64M`, `-m=64M`) or as the next item.
    case docker
}

extension [Flag] {
    /// The table as `--help` lists it: one line per flag with a summary, summaries aligned.
    public var helpText: String {
        let shown = filter { !$0.summary.isEmpty }
        let lefts = shown.map { flag in
            flag.spelled.joined(separator: ", ") + (flag.takesValue ? " " + flag.placeholder : "")
        }
        let width = lefts.map(\.count).max() ?? 0
        var text = ""
        for (flag, left) in zip(shown, lefts) {
            text += "  " + left + String(repeating: " ", count: width - left.count + 3) + flag.summary + "\n"
        }
        return text
    }
}
