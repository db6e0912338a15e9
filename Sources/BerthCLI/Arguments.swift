import BerthCore
import Linux

/// A runc-style command line: long flags as `--name value`, `--name=value` or `-name value`
/// (engines pass all three), short flags as `-b value`, and boolean flags without a value.
/// Parsing stops at `--` or at the first positional argument after which the command takes
/// its own arguments verbatim (`exec ID CMD ARGS...`).
struct Arguments {
    private var items: [String]
    private(set) var positionals: [String] = []
    private var values: [String: [String]] = [:]

    /// `valued` maps every spelling of a flag that takes a value to its canonical name;
    /// `booleans` likewise for flags without a value. With `stopAfter` positionals, everything
    /// after them is taken verbatim.
    init(_ items: [String], valued: [String: String], booleans: [String: String], stopAfter: Int? = nil) throws(BerthError) {
        self.items = items
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
            let stripped = item.hasPrefix("--") ? String(item.dropFirst(2)) : String(item.dropFirst())
            let name: String
            var inline: String?
            if let equals = stripped.firstIndex(of: "=") {
                name = String(stripped[..<equals])
                inline = String(stripped[stripped.index(after: equals)...])
            } else {
                name = stripped
            }
            if let canonical = valued[name] {
                let value: String
                if let inline {
                    value = inline
                } else {
                    guard index < items.count else { throw BerthError(.invalidArgument, "flag \(item): needs a value") }
                    value = items[index]
                    index += 1
                }
                values[canonical, default: []].append(value)
            } else if let canonical = booleans[name] {
                if let inline, inline != "true" && inline != "false" {
                    throw BerthError(.invalidArgument, "flag \(item): takes true or false, not \"\(inline)\"")
                }
                values[canonical, default: []].append(inline ?? "true")
            } else {
                throw BerthError(.invalidArgument, "flag \(item): unknown flag")
            }
        }
    }

    func value(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }
    func flag(_ name: String) -> Bool { values[name]?.last == "true" }

    func integer(_ name: String, flag: String) throws(BerthError) -> Int32? {
        guard let text = value(name) else { return nil }
        guard let number = Int32(text), number >= 0 else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not a non-negative integer")
        }
        return number
    }

    /// The single container ID a command takes.
    func containerID(command: String) throws(BerthError) -> String {
        guard positionals.count == 1 else {
            throw BerthError(.invalidArgument, "\(command): expects exactly one container id, got \(positionals.count)")
        }
        return positionals[0]
    }
}
