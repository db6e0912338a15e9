extension JSONValue {
    /// The value as JSON text.
    ///
    /// - Parameter pretty: `false` for compact output with no whitespace; `true` for one
    ///   member or element per line with 2-space indentation and `"key": value`, the
    ///   layout of `runc spec` (Go's `json.MarshalIndent`). Empty arrays and objects are
    ///   written `[]` and `{}` in both modes. No trailing newline.
    public func serialized(pretty: Bool = false) -> String {
        String(decoding: serializedBytes(pretty: pretty), as: UTF8.self)
    }

    /// The value as UTF-8 JSON text; see ``serialized(pretty:)``.
    public func serializedBytes(pretty: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        JSONSerializer(pretty: pretty).write(self, into: &out, indent: 0)
        return out
    }
}

struct JSONSerializer {
    let pretty: Bool

    func write(_ value: JSONValue, into out: inout [UInt8], indent: Int) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.description.utf8)
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let elements):
            guard !elements.isEmpty else {
                out.append(contentsOf: "[]".utf8)
                return
            }
            out.append(Byte.openBracket)
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(Byte.comma) }
                newline(&out, indent: indent + 1)
                write(element, into: &out, indent: indent + 1)
            }
            newline(&out, indent: indent)
            out.append(Byte.closeBracket)
        case .object(let members):
            guard !members.isEmpty else {
                out.append(contentsOf: "{}".utf8)
                return
            }
            out.append(Byte.openBrace)
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(Byte.comma) }
                newline(&out, indent: indent + 1)
                Self.writeString(member.key, into: &out)
                out.append(Byte.colon)
                if pretty { out.append(0x20) }
                write(member.value, into: &out, indent: indent + 1)
            }
            newline(&out, indent: indent)
            out.append(Byte.closeBrace)
        }
    }

    private func newline(_ out: inout [UInt8], indent: Int) {
        guard pretty else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: indent * 2))
    }

    /// Writes `s` as a JSON string literal. Only what RFC 8259 requires is escaped
    /// (quote, backslash, C0 controls); everything else is copied as UTF-8, which Swift
    /// strings guarantee to be valid.
    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(Byte.quote)
        for b in s.utf8 {
            switch b {
            case Byte.quote: out.append(Byte.backslash); out.append(Byte.quote)
            case Byte.backslash: out.append(Byte.backslash); out.append(Byte.backslash)
            case 0x0A: out.append(Byte.backslash); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(Byte.backslash); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(Byte.backslash); out.append(UInt8(ascii: "t"))
            case 0x08: out.append(Byte.backslash); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(Byte.backslash); out.append(UInt8(ascii: "f"))
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigit(b >> 4))
                out.append(hexDigit(b & 0xF))
            default: out.append(b)
            }
        }
        out.append(Byte.quote)
    }

    private static func hexDigit(_ v: UInt8) -> UInt8 {
        v < 10 ? Byte.zero + v : UInt8(ascii: "a") + v - 10
    }
}

/// ASCII bytes the parser and serializer dispatch on.
enum Byte {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let minus = UInt8(ascii: "-")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
}
