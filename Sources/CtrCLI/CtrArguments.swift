import BerthCore
import Linux

/// A docker-style command line: long flags as `--name value` or `--name=value`, short ones as
/// `-m value`, `-m=value` or `-m64M`, and boolean short flags grouped (`-dt`). Parsing ends at
/// `--`, or after `stopAfter` positionals: `ctr run [flags] ROOTFS CMD ARGS...` and
/// `ctr exec [flags] NAME CMD ARGS...` hand everything after them to the command verbatim.
///
/// It is a trimmed copy of the idea of BerthCLI's `Arguments`, which follows runc instead
/// (`-name value` is a long flag there).
struct CtrArguments {
    /// A flag: its spellings (`["m", "memory"]`, one letter for the short one) and whether it
    /// takes a value. The first long spelling is its canonical name.
    struct Flag: Sendable {
        var spellings: [String]
        var takesValue: Bool
        var name: String { spellings.first(where: { $0.count > 1 }) ?? spellings[0] }

        static func value(_ spellings: String...) -> Flag { Flag(spellings: spellings, takesValue: true) }
        static func boolean(_ spellings: String...) -> Flag { Flag(spellings: spellings, takesValue: false) }
    }

    static let help = Flag.boolean("h", "help")

    private(set) var positionals: [String] = []
    private var values: [String: [String]] = [:]

    init(_ items: [String], flags: [Flag], stopAfter: Int? = nil) throws(BerthError) {
        var table: [String: Flag] = [:]
        for flag in flags + [CtrArguments.help] { for spelling in flag.spellings { table[spelling] = flag } }
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
                break
            }
            guard item.hasPrefix("-"), item.count > 1 else {
                positionals.append(item)
                continue
            }
            if item.hasPrefix("--") {
                let body = item.dropFirst(2)
                let name = String(body.prefix(while: { $0 != "=" }))
                let inline = body.contains("=") ? String(body.drop(while: { $0 != "=" }).dropFirst()) : nil
                guard name.count > 1, let flag = table[name] else { throw BerthError(.invalidArgument, "flag \(item): unknown flag") }
                try take(flag, written: "--" + name, inline: inline, items: items, index: &index)
                continue
            }
            // Short flags: -d, -dt, -m 64M, -m64M, -m=64M.
            var letters = Substring(item.dropFirst())
            while let letter = letters.first {
                letters = letters.dropFirst()
                guard let flag = table[String(letter)] else { throw BerthError(.invalidArgument, "flag -\(letter): unknown flag") }
                if flag.takesValue {
                    let inline = letters.isEmpty ? nil : String(letters.hasPrefix("=") ? letters.dropFirst() : letters)
                    try take(flag, written: "-\(letter)", inline: inline, items: items, index: &index)
                    break
                }
                try take(flag, written: "-\(letter)", inline: nil, items: items, index: &index)
            }
        }
    }

    private mutating func take(_ flag: Flag, written: String, inline: String?, items: [String], index: inout Int) throws(BerthError) {
        guard flag.takesValue else {
            if let inline, inline != "true" && inline != "false" {
                throw BerthError(.invalidArgument, "flag \(written): takes no value (or true/false), not \"\(inline)\"")
            }
            values[flag.name, default: []].append(inline ?? "true")
            return
        }
        if let inline {
            values[flag.name, default: []].append(inline)
            return
        }
        guard index < items.count else { throw BerthError(.invalidArgument, "flag \(written): needs a value") }
        values[flag.name, default: []].append(items[index])
        index += 1
    }

    /// The last value of a flag given by its canonical name.
    func value(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }
    func flag(_ name: String) -> Bool { values[name]?.last == "true" }
    var wantsHelp: Bool { flag("help") }

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
