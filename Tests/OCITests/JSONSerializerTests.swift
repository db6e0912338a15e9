import TestSupport
import Testing
@testable import OCI

@Suite struct JSONSerializerTests {
    @Test func compactOutputHasNoWhitespace() {
        let value: JSONValue = ["a": [1, "x", nil, true, false], "b": [:], "c": []]
        #expect(value.serialized() == #"{"a":[1,"x",null,true,false],"b":{},"c":[]}"#)
    }

    @Test func prettyOutputMatchesGoMarshalIndent() {
        let value: JSONValue = ["a": [1, 2], "b": [:], "c": [], "d": ["e": "f"]]
        let expected = """
            {
              "a": [
                1,
                2
              ],
              "b": {},
              "c": [],
              "d": {
                "e": "f"
              }
            }
            """
        #expect(value.serialized(pretty: true) == expected)
    }

    @Test func escapesQuotesBackslashesAndControlCharacters() {
        let value = JSONValue.string("q\" b\\ n\n r\r t\t b\u{8} f\u{c} nul\u{0} esc\u{1b} del\u{7f} é 😀 /")
        #expect(value.serialized() == #""q\" b\\ n\n r\r t\t b\b f\f nul\u0000 esc\u001b del\#u{7f} é 😀 /""#)
    }

    @Test(arguments: ["18446744073709551615", "-9223372036854775808", "0", "-1", "1.5", "1e+100", "5e-324",
                      "0.1", "-0.0", "1.0"])
    func numbersSerializeToTheirCanonicalText(text: String) throws {
        #expect(try JSONValue.parse(text).serialized() == text)
    }

    @Test(arguments: ["specExample", "kitchenSink"])
    func parseSerializeParseIsIdentity(fixture: String) throws {
        let parsed = try JSONValue.parse(Fixtures.named(fixture))
        #expect(try JSONValue.parse(parsed.serialized()) == parsed)
        #expect(try JSONValue.parse(parsed.serialized(pretty: true)) == parsed)
        // Serialization is a fixed point after one round.
        #expect(try JSONValue.parse(parsed.serialized()).serialized() == parsed.serialized())
    }

    @Test func randomValuesRoundTrip() throws {
        var rng = SplitMix64(seed: 0xB3A7)
        for _ in 0..<500 {
            let value = randomJSONValue(&rng, depth: 0)
            #expect(try JSONValue.parse(value.serialized()) == value)
            #expect(try JSONValue.parse(value.serializedBytes(pretty: true)) == value)
        }
    }

    private func randomJSONValue(_ rng: inout SplitMix64, depth: Int) -> JSONValue {
        switch rng.next(below: depth > 3 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(rng.next(below: 2) == 0)
        case 2:
            switch rng.next(below: 3) {
            case 0: return .number(JSONNumber(Int64(bitPattern: rng.next())))
            case 1: return .number(JSONNumber(rng.next()))
            default:
                let d = Double(bitPattern: rng.next())
                return JSONNumber(d).map(JSONValue.number) ?? .number(JSONNumber(Int64(0)))
            }
        case 3, 4: return .string(randomString(&rng))
        case 5: return .array((0..<rng.next(below: 5)).map { _ in randomJSONValue(&rng, depth: depth + 1) })
        default:
            return .object((0..<rng.next(below: 5)).map { _ in
                (key: randomString(&rng), value: randomJSONValue(&rng, depth: depth + 1))
            })
        }
    }

    private func randomString(_ rng: inout SplitMix64) -> String {
        let alphabet: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\u{0}", "\u{1f}", "\u{7f}",
                                          "é", "\u{2028}", "中", "😀", "\u{FFFF}", "\u{10FFFF}"]
        var s = String.UnicodeScalarView()
        for _ in 0..<rng.next(below: 8) {
            s.append(alphabet[Int(rng.next(below: UInt64(alphabet.count)))])
        }
        return String(s)
    }
}
