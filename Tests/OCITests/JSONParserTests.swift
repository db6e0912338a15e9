import BerthCore
import Testing
@testable import OCI

@Suite struct JSONParserTests {
    @Test(arguments: [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("0", 0),
        ("-0", 0),
        ("42", 42),
        ("-42", -42),
        ("\"\"", ""),
        ("\"abc\"", "abc"),
        ("[]", []),
        ("{}", [:]),
        (" \t\r\n[ 1 , \"a\" , null , true ]\n", [1, "a", nil, true]),
        ("{\"a\":{\"b\":[{}, []]}}", ["a": ["b": [[:], []]]]),
        ("[[[[]]]]", [[[[]]]]),
    ] as [(String, JSONValue)])
    func parsesValidDocuments(text: String, expected: JSONValue) throws {
        #expect(try JSONValue.parse(text) == expected)
    }

    @Test func objectsKeepMemberOrderAndDuplicates() throws {
        let value = try JSONValue.parse(#"{"z":1,"a":2,"z":3}"#)
        guard case .object(let members) = value else {
            Issue.record("expected object, got \(value)")
            return
        }
        #expect(members.map(\.key) == ["z", "a", "z"])
        // Lookups take the last duplicate, like Go's encoding/json.
        #expect(value["z"] == 3)
    }

    @Test(arguments: [
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{c}\n\r\t"),
        (#""\u0041\u00e9\u00E9""#, "Aéé"),
        (#""\u0000x""#, "\u{0}x"),
        (#""\ud83d\ude00""#, "😀"),
        (#""\uD83D\uDE00 and raw 😀""#, "😀 and raw 😀"),
        (#""\uffff\u10FF""#, "\u{FFFF}\u{10FF}"),
        ("\"caf\u{e9} \u{4e2d}\u{6587} \u{1F600}\"", "café 中文 😀"),
        (#""prefix\nmiddle\u0009suffix""#, "prefix\nmiddle\tsuffix"),
    ] as [(String, String)])
    func decodesStringEscapesAndUnicode(text: String, expected: String) throws {
        #expect(try JSONValue.parse(text) == .string(expected))
    }

    @Test func keepsLargeAndNegativeIntegersExact() throws {
        let max = try #require(try JSONValue.parse("18446744073709551615").numberValue)
        #expect(max.uint64Value == UInt64.max)
        #expect(max.int64Value == nil)
        #expect(max.description == "18446744073709551615")

        let min = try #require(try JSONValue.parse("-9223372036854775808").numberValue)
        #expect(min.int64Value == Int64.min)
        #expect(min.description == "-9223372036854775808")

        let justAboveInt64 = try #require(try JSONValue.parse("9223372036854775808").numberValue)
        #expect(justAboveInt64.uint64Value == UInt64(Int64.max) + 1)

        let minusOne = try #require(try JSONValue.parse("-1").numberValue)
        #expect(minusOne.int64Value == -1)
        #expect(minusOne.uint64Value == nil)
    }

    @Test(arguments: [
        ("1.5", 1.5),
        ("-1.5e-3", -0.0015),
        ("1E+2", 100),
        ("1e2", 100),
        ("0.1", 0.1),
        ("2.5E-324", .leastNonzeroMagnitude),
        ("1e-400", 0),
    ] as [(String, Double)])
    func parsesFractionsAndExponentsAsDoubles(text: String, expected: Double) throws {
        let number = try #require(try JSONValue.parse(text).numberValue)
        #expect(!number.isInteger)
        #expect(number.doubleValue == expected)
    }

    @Test(arguments: ["18446744073709551616", "-9223372036854775809", "123456789012345678901234567890"])
    func keepsIntegersBeyond64BitsAsWritten(text: String) throws {
        let number = try #require(try JSONValue.parse(text).numberValue)
        #expect(number.isInteger)
        #expect(number.int64Value == nil && number.uint64Value == nil)
        #expect(number.description == text)
        #expect(number.doubleValue == Double(text))
        #expect(try JSONValue.parse("[\(text)]").serialized() == "[\(text)]")
    }

    @Test(arguments: [
        ("", "json: unexpected end of input at offset 0"),
        ("   ", "json: unexpected end of input at offset 3"),
        ("[", "json: unexpected end of input at offset 1"),
        ("[1,2", "json: unexpected end of input at offset 4"),
        ("[1,]", "json: unexpected character ']' at offset 3"),
        (#"{"a":1,}"#, "json: unexpected character '}' at offset 7"),
        ("{a:1}", "json: unexpected character 'a' at offset 1"),
        (#"{"a" 1}"#, "json: unexpected character '1' at offset 5"),
        (#"{"a":}"#, "json: unexpected character '}' at offset 5"),
        (#"{"a":1 "b":2}"#, "json: unexpected character '\"' at offset 7"),
        (#"["a" "b"]"#, "json: unexpected character '\"' at offset 5"),
        ("[1]]", "json: trailing data after top-level value at offset 3"),
        ("1 2", "json: trailing data after top-level value at offset 2"),
        ("0x10", "json: trailing data after top-level value at offset 1"),
        ("{}x", "json: trailing data after top-level value at offset 2"),
        ("01", "json: leading zero in number at offset 0"),
        ("-01", "json: leading zero in number at offset 0"),
        ("[00]", "json: leading zero in number at offset 1"),
        ("1.", "json: invalid number at offset 0"),
        ("1.e5", "json: invalid number at offset 0"),
        ("1e", "json: invalid number at offset 0"),
        ("[1e+]", "json: invalid number at offset 1"),
        ("-", "json: invalid number at offset 0"),
        ("-a", "json: invalid number at offset 0"),
        (".5", "json: unexpected character '.' at offset 0"),
        ("+1", "json: unexpected character '+' at offset 0"),
        ("1e400", "json: number out of range at offset 0"),
        ("-1e400", "json: number out of range at offset 0"),
        ("tru", "json: unexpected end of input at offset 3"),
        ("trUe", "json: unexpected character 'U' at offset 2"),
        ("nul", "json: unexpected end of input at offset 3"),
        ("NaN", "json: unexpected character 'N' at offset 0"),
        ("Infinity", "json: unexpected character 'I' at offset 0"),
        ("-Infinity", "json: invalid number at offset 0"),
        ("'a'", "json: unexpected character ''' at offset 0"),
        ("/* comment */ {}", "json: unexpected character '/' at offset 0"),
        ("\u{0}", "json: unexpected byte 0x00 at offset 0"),
        ("\"abc", "json: unterminated string at offset 0"),
        ("[\"abc\\", "json: unterminated string at offset 1"),
        ("\"a\nb\"", "json: unescaped control character byte 0x0a in string at offset 2"),
        ("\"a\tb\"", "json: unescaped control character byte 0x09 in string at offset 2"),
        (#""\x""#, "json: invalid escape '\\x' in string at offset 1"),
        (#""\U0041""#, "json: invalid escape '\\U' in string at offset 1"),
        (#""\u12""#, "json: invalid \\u escape in string at offset 1"),
        (#""\uZZZZ""#, "json: invalid \\u escape in string at offset 1"),
        (#""\ud800""#, "json: unpaired surrogate \\uD800 in string at offset 1"),
        (#""\ud800\u0041""#, "json: unpaired surrogate \\uD800 in string at offset 1"),
        (#""\ud800\ud800""#, "json: unpaired surrogate \\uD800 in string at offset 1"),
        (#""\udc00""#, "json: unpaired surrogate \\uDC00 in string at offset 1"),
        (#""x\ud83d\u""#, "json: invalid \\u escape in string at offset 8"),
    ] as [(String, String)])
    func rejectsInvalidDocumentsWithOffset(text: String, message: String) {
        #expect(throws: BerthError(.jsonSyntax, message, offset: message.offsetSuffix)) {
            try JSONValue.parse(text)
        }
    }

    @Test(arguments: [
        ([0x22, 0xFF, 0x22], "json: invalid UTF-8 in string at offset 1"),
        ([0x22, 0x61, 0xC3, 0x22], "json: invalid UTF-8 in string at offset 2"),
        ([0x22, 0xC0, 0xAF, 0x22], "json: invalid UTF-8 in string at offset 1"),
        ([0x22, 0xED, 0xA0, 0x80, 0x22], "json: invalid UTF-8 in string at offset 1"),
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "json: invalid UTF-8 in string at offset 1"),
        ([0x22, 0x5C, 0x6E, 0xE2, 0x82, 0x22], "json: invalid UTF-8 in string at offset 3"),
        ([0xEF, 0xBB, 0xBF, 0x7B, 0x7D], "json: unexpected byte 0xef at offset 0"),
        ([0x5B, 0x80, 0x5D], "json: unexpected byte 0x80 at offset 1"),
    ] as [([UInt8], String)])
    func rejectsInvalidUTF8(bytes: [UInt8], message: String) {
        #expect(throws: BerthError(.jsonSyntax, message, offset: message.offsetSuffix)) {
            try JSONValue.parse(bytes)
        }
    }

    @Test func acceptsNestingUpToTheLimit() throws {
        let depth = JSONParser.maxDepth
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        _ = try JSONValue.parse(text)
    }

    @Test func rejectsNestingBeyondTheLimit() {
        let depth = JSONParser.maxDepth + 1
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(throws: BerthError(.jsonSyntax, "json: nesting deeper than 512 levels at offset 512",
                                   offset: 512)) {
            try JSONValue.parse(text)
        }
    }

    @Test func hundredThousandOpenBracketsErrorInsteadOfOverflowingTheStack() {
        let arrays = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        #expect(throws: BerthError.self) { try JSONValue.parse(arrays) }

        let objects = [UInt8](String(repeating: #"{"a":"#, count: 100_000).utf8)
        #expect(throws: BerthError.self) { try JSONValue.parse(objects) }

        // The same depth inside a config must fail in the parser, before the decoder
        // (which also recurses) ever sees it.
        let config = #"{"ociVersion":"1","annotations":"# + String(repeating: "[", count: 100_000)
        #expect(throws: BerthError.self) { try decodeJSON(Spec.self, from: config) }
    }
}

extension String {
    /// The number after the last "offset " in a syntax error message.
    var offsetSuffix: Int? {
        guard let range = ranges(of: "offset ").last else { return nil }
        return Int(self[range.upperBound...])
    }
}
