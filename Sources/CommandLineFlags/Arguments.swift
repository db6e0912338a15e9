import BerthCore

/// A command line parsed against a flag table. Flags may come before and between positional
/// arguments; parsing ends at `--`, or after `stopAfter` positionals, after which every item is
/// taken verbatim (`exec ID CMD ARGS...`, `run ROOTFS CMD ARGS...`). Every refusal is one line
/// that names the flag as it was written.
public struct Arguments: Sendable {
    public private(set) var positionals: [String] = []
    private var values: [String: [String]] = [:]

    public init(_ items: [String], flags: [Flag], dialect: Dialect, stopAfter: Int? = nil) throws(BerthError) {
        var table: [String: Flag] = [:]
        for flag in flags + [Flag.help] { for spelling in flag.spellings { table[spelling] = flag } }
        do {
            try parse(items, table: table, dialect: dialect, stopAfter: stopAfter)
        } catch {
            // `COMMAND --bogus --help` shows the help rather than the error, when the help comes
            // among the flags before the first argument.
            guard items.prefix(while: { $0.hasPrefix("-") && $0 != "--" }).contains(where: { Self.isHelp($0, dialect) }) else { throw error }
            values = ["help": ["true"]]
            positionals = []
        }
    }

    /// The last value of a flag, by its canonical name.
    public func value(_ name: String) -> String? { values[name]?.last }
    /// Every value of a repeatable flag (`-e A=1 -e B=2`), in order.
    public func all(_ name: String) -> [String] { values[name] ?? [] }
    public func flag(_ name: String) -> Bool { values[name]?.last == "true" }
    public var wantsHelp: Bool { flag("help") }

    private static let unknownFlagSuffix = ": unknown flag"

    /// The flag, as written, that `error` refuses as unknown to the table; nil for another error.
    public static func unknownFlag(in error: BerthError) -> String? {
        guard error.message.hasPrefix("flag "), error.message.hasSuffix(unknownFlagSuffix) else { return nil }
        return String(error.message.dropFirst("flag ".count).dropLast(unknownFlagSuffix.count))
    }

    private static func isHelp(_ item: String, _ dialect: Dialect) -> Bool {
        item == "-h" || item == "--help" || (dialect == .runc && item == "-help")
    }

    private mutating func parse(_ items: [String], table: [String: Flag], dialect: Dialect, stopAfter: Int?) throws(BerthError) {
        var index = 0
        while index < items.count {
            let item = items[index]
            index += 1
            if let stopAfter, positionals.count >= stopAfter {
                positionals.append(item)
                continue
            }
            if item == "--" {
                positionals.append(contentsOf: items[index...])
                return
            }
            // A lone `-` is an argument (stdin, by convention).
            guard item.hasPrefix("-"), item.count > 1 else {
                positionals.append(item)
                continue
            }
            if dialect == .runc || item.hasPrefix("--") {
                let dashes = item.hasPrefix("--") ? 2 : 1
                let body = item.dropFirst(dashes)
                let name = String(body.prefix(while: { $0 != "=" }))
                let inline = body.contains("=") ? String(body.drop(while: { $0 != "=" }).dropFirst()) : nil
                let written = String(item.prefix(dashes)) + name
                // docker spells one letter with one dash only: `--m` is no flag.
                guard let flag = table[name], dialect == .runc || name.count > 1 else {
                    throw BerthError(.invalidArgument, "flag \(written)" + Self.unknownFlagSuffix)
                }
                try take(flag, written: written, inline: inline, items: items, index: &index)
                continue
            }
            // docker's short flags: -d, -dt, -m 64M, -m64M, -m=64M.
            var letters = Substring(item.dropFirst())
            while let letter = letters.first {
                letters = letters.dropFirst()
                guard let flag = table[String(letter)] else { throw BerthError(.invalidArgument, "flag -\(letter)" + Self.unknownFlagSuffix) }
                guard flag.takesValue else {
                    try take(flag, written: "-\(letter)", inline: nil, items: items, index: &index)
                    continue
                }
                let inline = letters.isEmpty ? nil : String(letters.hasPrefix("=") ? letters.dropFirst() : letters)
                try take(flag, written: "-\(letter)", inline: inline, items: items, index: &index)
                break
            }
        }
    }

    private mutating func take(_ flag: Flag, written: String, inline: String?, items: [String], index: inout Int) throws(BerthError) {
        guard flag.takesValue else {
            if let inline, inline != "true" && inline != "false" {
                throw BerthError(.invalidArgument, "flag \(written): takes true or false, not \"\(inline)\"")
            }
            values[flag.name, default: []].append(inline ?? "true")
            return
        }
        let value: String
        if let inline {
            value = inline
        } else {
            guard index < items.count else { throw BerthError(.invalidArgument, "flag \(written): needs a value") }
            value = items[index]
            index += 1
        }
        if let choices = flag.choices, !choices.contains(value) {
            let listed = choices.count > 1 ? choices.dropLast().joined(separator: ", ") + " or " + (choices.last ?? "") : choices.joined()
            throw BerthError(.invalidArgument, "flag --\(flag.name): \"\(value)\" is not \(listed)")
        }
        values[flag.name, default: []].append(value)
    }
}
