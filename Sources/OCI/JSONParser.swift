import BerthCore

extension JSONValue {
    /// Parses one JSON document (RFC 8259), rejecting anything the RFC does not allow:
    /// trailing data, leading zeros, unescaped control characters, invalid UTF-8, lone
    /// surrogates. Nesting is limited to ``JSONParser/maxDepth`` levels.
    ///
    /// - Throws: `BerthError` with code `.jsonSyntax`, e.g. `json: unexpected character 'x' at offset 12`.
    public static func parse(_ bytes: [UInt8]) throws(BerthError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(BerthError) -> JSONValue in
            try parse(buffer)
        }
    }

    /// Parses one JSON document from the UTF-8 of `text`; see ``parse(_:)-([UInt8])``.
    public static func parse(_ text: String) throws(BerthError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { buffer in
            Result { () throws(BerthError) -> JSONValue in try parse(buffer) }
        }
        return try result.get()
    }

    /// Parses one JSON document from raw bytes without copying them.
    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(BerthError) -> JSONValue {
        var parser = JSONParser(input: buffer)
        return try parser.parseDocument()
    }
}

/// Recursive-descent parser over a byte buffer.
///
/// Every read is preceded by an explicit `pos < input.count` check: release builds drop
/// `UnsafeBufferPointer`'s own bounds checks, and this code must be safe on hostile input.
struct JSONParser {
    /// Deepest allowed nesting of arrays and objects. Real configs nest about 6 deep; the
    /// limit keeps recursion (here and in the decoder) far from the stack's end.
    static let maxDepth = 512

    private let input: UnsafeBufferPointer<UInt8>
    private var pos = 0
    private var depth = 0

    init(input: UnsafeBufferPointer<UInt8>) {
        self.input = input
    }

    mutating func parseDocument() throws(BerthError) -> JSONValue {
        let value = try parseValue()
        skipWhitespace()
        if pos < input.count {
            throw fail("trailing data after top-level value", at: pos)
        }
        return value
    }

    // MARK: - Values

    private mutating func parseValue() throws(BerthError) -> JSONValue {
        skipWhitespace()
        guard pos < input.count else { throw unexpected(at: pos) }
        switch input[pos] {
        case Byte.openBrace: return try parseObject()
        case Byte.openBracket: return try parseArray()
        case Byte.quote: return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case Byte.minus, Byte.zero...Byte.nine: return .number(try parseNumber())
        default: throw unexpected(at: pos)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(BerthError) {
        let text = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for expected in text {
            guard pos < input.count, input[pos] == expected else { throw unexpected(at: pos) }
            pos += 1
        }
    }

    private mutating func enterContainer() throws(BerthError) {
        depth += 1
        if depth > Self.maxDepth {
            throw fail("nesting deeper than \(Self.maxDepth) levels", at: pos)
        }
        pos += 1
    }

    private mutating func parseArray() throws(BerthError) -> JSONValue {
        try enterContainer()
        var elements: [JSONValue] = []
        skipWhitespace()
        if pos < input.count, input[pos] == Byte.closeBracket {
            pos += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue())
            skipWhitespace()
            guard pos < input.count else { throw unexpected(at: pos) }
            let b = input[pos]
            pos += 1
            if b == Byte.comma { continue }
            if b == Byte.closeBracket { break }
            throw unexpected(at: pos - 1)
        }
        depth -= 1
        return .array(elements)
    }

    private mutating func parseObject() throws(BerthError) -> JSONValue {
        try enterContainer()
        var members: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if pos < input.count, input[pos] == Byte.closeBrace {
            pos += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard pos < input.count, input[pos] == Byte.quote else { throw unexpected(at: pos) }
            let key = try parseString()
            skipWhitespace()
            guard pos < input.count, input[pos] == Byte.colon else { throw unexpected(at: pos) }
            pos += 1
            let value = try parseValue()
            members.append((key: key, value: value))
            skipWhitespace()
            guard pos < input.count else { throw unexpected(at: pos) }
            let b = input[pos]
            pos += 1
            if b == Byte.comma { continue }
            if b == Byte.closeBrace { break }
            throw unexpected(at: pos - 1)
        }
        depth -= 1
        return .object(members)
    }

    // MARK: - Strings

    /// Parses a string starting at the opening quote. Strings without escapes (nearly
    /// all of them in a config) are copied straight from the input.
    private mutating func parseString() throws(BerthError) -> String {
        let open = pos
        pos += 1
        let start = pos
        var sawNonASCII = false
        while pos < input.count {
            let b = input[pos]
            if b == Byte.quote {
                let raw = UnsafeBufferPointer(rebasing: input[start..<pos])
                if sawNonASCII { try validateUTF8(start..<pos) }
                pos += 1
                return String(decoding: raw, as: UTF8.self)
            }
            if b == Byte.backslash {
                return try parseEscapedString(open: open, start: start)
            }
            if b < 0x20 { throw controlCharacter(at: pos) }
            if b >= 0x80 { sawNonASCII = true }
            pos += 1
        }
        throw fail("unterminated string", at: open)
    }

    private mutating func parseEscapedString(open: Int, start: Int) throws(BerthError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(pos - start + 16)
        out.append(contentsOf: UnsafeBufferPointer(rebasing: input[start..<pos]))
        var sawNonASCII = false
        while pos < input.count {
            let b = input[pos]
            if b == Byte.quote {
                // Escapes are ASCII, so validating the raw span also catches a multi-byte
                // sequence cut short by a backslash.
                if sawNonASCII { try validateUTF8(start..<pos) }
                pos += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw controlCharacter(at: pos) }
            if b != Byte.backslash {
                if b >= 0x80 { sawNonASCII = true }
                out.append(b)
                pos += 1
                continue
            }
            let escape = pos
            pos += 1
            guard pos < input.count else { break }
            let e = input[pos]
            pos += 1
            switch e {
            case Byte.quote, Byte.backslash, UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                let scalar = try parseUnicodeEscape(escape: escape)
                UTF8.encode(scalar) { out.append($0) }
            default:
                throw fail("invalid escape \(describe(e, escaped: true)) in string", at: escape)
            }
        }
        throw fail("unterminated string", at: open)
    }

    /// Reads the 4 hex digits after `\u` (and a second `\uXXXX` for a surrogate pair).
    private mutating func parseUnicodeEscape(escape: Int) throws(BerthError) -> Unicode.Scalar {
        let first = try readHex4(escape: escape)
        var value = UInt32(first)
        if (0xDC00...0xDFFF).contains(first) {
            throw fail("unpaired surrogate \\u\(hex4(first)) in string", at: escape)
        }
        if (0xD800...0xDBFF).contains(first) {
            let second = pos
            guard pos + 1 < input.count, input[pos] == Byte.backslash, input[pos + 1] == UInt8(ascii: "u") else {
                throw fail("unpaired surrogate \\u\(hex4(first)) in string", at: escape)
            }
            pos += 2
            let low = try readHex4(escape: second)
            guard (0xDC00...0xDFFF).contains(low) else {
                throw fail("unpaired surrogate \\u\(hex4(first)) in string", at: escape)
            }
            value = 0x10000 + ((UInt32(first) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw fail("invalid \\u escape in string", at: escape)
        }
        return scalar
    }

    private mutating func readHex4(escape: Int) throws(BerthError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard pos < input.count, let digit = hexValue(input[pos]) else {
                throw fail("invalid \\u escape in string", at: escape)
            }
            value = value << 4 | UInt16(digit)
            pos += 1
        }
        return value
    }

    /// Checks `range` against the well-formed UTF-8 table (Unicode 15, table 3-7), which
    /// excludes overlong forms, surrogates and values above U+10FFFF.
    private func validateUTF8(_ range: Range<Int>) throws(BerthError) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let lead = input[i]
            if lead < 0x80 { i += 1; continue }
            var trailing = 0
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: trailing = 1
            case 0xE0: trailing = 2; low = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: trailing = 2
            case 0xED: trailing = 2; high = 0x9F
            case 0xF0: trailing = 3; low = 0x90
            case 0xF1...0xF3: trailing = 3
            case 0xF4: trailing = 3; high = 0x8F
            default: throw fail("invalid UTF-8 in string", at: i)
            }
            guard i + trailing < end else { throw fail("invalid UTF-8 in string", at: i) }
            guard (low...high).contains(input[i + 1]) else { throw fail("invalid UTF-8 in string", at: i) }
            var k = 2
            while k <= trailing {
                guard (0x80...0xBF).contains(input[i + k]) else { throw fail("invalid UTF-8 in string", at: i) }
                k += 1
            }
            i += trailing + 1
        }
    }

    // MARK: - Numbers

    private mutating func parseNumber() throws(BerthError) -> JSONNumber {
        let start = pos
        let negative = input[pos] == Byte.minus
        if negative { pos += 1 }
        guard pos < input.count, isDigit(input[pos]) else { throw fail("invalid number", at: start) }

        var magnitude: UInt64 = 0
        var overflow = false
        if input[pos] == Byte.zero {
            pos += 1
            if pos < input.count, isDigit(input[pos]) { throw fail("leading zero in number", at: start) }
        } else {
            while pos < input.count, isDigit(input[pos]) {
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(input[pos] &- Byte.zero))
                if o1 || o2 { overflow = true } else { magnitude = sum }
                pos += 1
            }
        }

        var isInteger = true
        if pos < input.count, input[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            try skipDigits(numberStart: start)
        }
        if pos < input.count, input[pos] == UInt8(ascii: "e") || input[pos] == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            if pos < input.count, input[pos] == UInt8(ascii: "+") || input[pos] == Byte.minus { pos += 1 }
            try skipDigits(numberStart: start)
        }

        if isInteger && !overflow {
            if !negative { return JSONNumber(magnitude) }
            if magnitude <= UInt64(Int64.max) { return JSONNumber(-Int64(magnitude)) }
            if magnitude == UInt64(Int64.max) + 1 { return JSONNumber(Int64.min) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: input[start..<pos]), as: UTF8.self)
        if isInteger {
            // Kept as text so a too-large value is reported (and re-serialized) exactly.
            return JSONNumber(bigInteger: text)
        }
        // Let the standard library do the correctly rounded conversion of the (already
        // validated) literal.
        guard let double = Double(text), let number = JSONNumber(double) else {
            throw fail("number out of range", at: start)
        }
        return number
    }

    /// Consumes one or more digits, as required after `.` and after an exponent marker.
    private mutating func skipDigits(numberStart: Int) throws(BerthError) {
        guard pos < input.count, isDigit(input[pos]) else { throw fail("invalid number", at: numberStart) }
        while pos < input.count, isDigit(input[pos]) { pos += 1 }
    }

    // MARK: - Helpers

    private mutating func skipWhitespace() {
        while pos < input.count {
            switch input[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    private func isDigit(_ b: UInt8) -> Bool { b >= Byte.zero && b <= Byte.nine }

    private func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case Byte.zero...Byte.nine: return b - Byte.zero
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private func hex4(_ value: UInt16) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    private func fail(_ what: String, at offset: Int) -> BerthError {
        BerthError(.jsonSyntax, "json: \(what) at offset \(offset)", offset: offset)
    }

    private func unexpected(at offset: Int) -> BerthError {
        guard offset < input.count else { return fail("unexpected end of input", at: offset) }
        return fail("unexpected \(describe(input[offset], escaped: false))", at: offset)
    }

    private func controlCharacter(at offset: Int) -> BerthError {
        fail("unescaped control character \(describe(input[offset], escaped: false)) in string", at: offset)
    }

    /// `character 'x'` for printable ASCII, `byte 0x0a` otherwise, so messages never
    /// contain raw control or partial UTF-8 bytes.
    private func describe(_ b: UInt8, escaped: Bool) -> String {
        if b >= 0x20 && b < 0x7F {
            let c = String(UnicodeScalar(b))
            return escaped ? "'\\\(c)'" : "character '\(c)'"
        }
        let digits = String(b, radix: 16)
        return (escaped ? "\\ followed by byte 0x" : "byte 0x") + (b < 0x10 ? "0" : "") + digits
    }
}
