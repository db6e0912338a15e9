import TestSupport
import Testing
@testable import OCI

/// Outcome counts, so the tests can check the fuzzer reached the decoder and not only
/// the parser.
private struct Tally {
    var decoded = 0
    var syntax = 0
    var schema = 0
}

/// Parses and decodes `bytes` as a Spec. Crashing is the failure being looked for;
/// otherwise every input must decode or produce a well-formed BerthError.
private func exercise(_ bytes: [UInt8], _ tally: inout Tally) {
    do {
        let spec = try decodeJSON(Spec.self, from: bytes)
        tally.decoded += 1
        // Whatever decodes must also re-encode and decode to the same value.
        if (try? decodeJSON(Spec.self, from: encodeJSONBytes(spec))) != spec {
            Issue.record("decoded spec does not round-trip: \(String(decoding: bytes, as: UTF8.self))")
        }
    } catch {
        switch error.code {
        case .jsonSyntax:
            tally.syntax += 1
            guard error.message.hasPrefix("json: "), let offset = error.offset, (0...bytes.count).contains(offset) else {
                Issue.record("malformed syntax error: \(error)")
                return
            }
        case .jsonSchema:
            tally.schema += 1
            guard !error.message.isEmpty, !error.message.hasPrefix("json"), error.offset == nil else {
                Issue.record("malformed schema error: \(error)")
                return
            }
        default:
            Issue.record("unexpected \(error.code) error while decoding: \(error)")
        }
        if error.description.hasSuffix(".") || error.description.first?.isUppercase == true {
            Issue.record("error message style: \(error)")
        }
    }
}

private let seeds: [[UInt8]] = {
    var documents = [Fixtures.specExample, Fixtures.kitchenSink]
    // Compact forms are smaller (faster to fuzz) and put tokens closer together.
    for text in [Fixtures.specExample, Fixtures.kitchenSink] {
        if let value = try? JSONValue.parse(text) { documents.append(value.serialized()) }
    }
    if let text = try? encodeJSON(Spec.defaultConfig()) { documents.append(text) }
    return documents.map { Array($0.utf8) }
}()

/// Fragments that steer mutations toward the parser's edge cases.
private let interesting: [[UInt8]] = [
    "{", "}", "[", "]", "\"", ",", ":", "\\", "\\u", "\\ud800", "\\udc00", "\\u00e9", "-", "0", "01", ".", "e",
    "1e999", "-1", "1.5", "18446744073709551615", "18446744073709551616", "-9223372036854775809", "null", "true",
    "false", " ", "\n", "\u{0}", "\u{1f}", "é", "😀", "\"pid\"", "\"foo\"", "{}", "[]", "[[[[[[[[", "\"\":",
].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF]]

private func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
    var bytes = input
    for _ in 0...rng.index(3) {
        switch rng.next(below: 8) {
        case 0 where !bytes.isEmpty:
            bytes[rng.index(bytes.count)] ^= UInt8(1) << rng.next(below: 8)
        case 1 where !bytes.isEmpty:
            let fragment = interesting[rng.index(interesting.count)]
            let at = rng.index(bytes.count)
            bytes.replaceSubrange(at..<min(bytes.count, at + fragment.count), with: fragment)
        case 2:
            bytes.insert(contentsOf: interesting[rng.index(interesting.count)], at: rng.index(bytes.count + 1))
        case 3 where !bytes.isEmpty:
            let at = rng.index(bytes.count)
            bytes.removeSubrange(at..<min(bytes.count, at + 1 + rng.index(16)))
        case 4:
            bytes.removeLast(rng.index(bytes.count + 1))
        case 5 where !bytes.isEmpty:
            let start = rng.index(bytes.count)
            let slice = bytes[start..<min(bytes.count, start + 1 + rng.index(64))]
            bytes.insert(contentsOf: slice, at: rng.index(bytes.count + 1))
        case 6, 7:
            swapTokens(&bytes, &rng)
        default:
            bytes.append(UInt8(truncatingIfNeeded: rng.next()))
        }
    }
    return bytes
}

/// Swaps two value-like tokens (strings, numbers, literals). Many results are still JSON
/// but no longer fit the schema, which exercises the decoder's error paths.
private func swapTokens(_ bytes: inout [UInt8], _ rng: inout SplitMix64) {
    var tokens: [Range<Int>] = []
    var i = 0
    while i < bytes.count {
        let start = i
        switch bytes[i] {
        case 0x20, 0x0A, 0x0D, 0x09:
            i += 1
            continue
        case UInt8(ascii: "\""):
            i += 1
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1
            }
            i = min(i + 1, bytes.count)
        case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ","),
             UInt8(ascii: ":"):
            // Punctuation is left in place: swapping it almost always breaks the syntax,
            // and byte-level mutations already cover that.
            i += 1
            continue
        default:
            while i < bytes.count, !"{}[],: \n\"".utf8.contains(bytes[i]) { i += 1 }
        }
        tokens.append(start..<i)
    }
    guard tokens.count >= 2 else { return }
    var a = tokens[rng.index(tokens.count)]
    var b = tokens[rng.index(tokens.count)]
    if a.lowerBound > b.lowerBound { swap(&a, &b) }
    guard a.upperBound <= b.lowerBound else { return }
    let first = Array(bytes[a])
    let second = Array(bytes[b])
    bytes.replaceSubrange(b, with: first)
    bytes.replaceSubrange(a, with: second)
}

@Suite struct FuzzTests {
    @Test(arguments: [0x5EED_0001, 0x5EED_0002] as [UInt64])
    func mutatedConfigsNeverCrashAndFailWithBerthError(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var tally = Tally()
        for _ in 0..<4_000 {
            let input = seeds[rng.index(seeds.count)]
            exercise(mutate(input, &rng), &tally)
        }
        #expect(tally.decoded > 200)
        #expect(tally.syntax > 2_000)
        #expect(tally.schema > 200)
    }

    @Test func mutatedDocumentTreesDecodeOrFailWithSchemaErrors() throws {
        var rng = SplitMix64(seed: 0x7EE5)
        var tally = Tally()
        let documents = try seeds.map { try JSONValue.parse($0) }
        for _ in 0..<2_500 {
            var value = documents[rng.index(documents.count)]
            for _ in 0...rng.index(2) { value = mutateTree(value, &rng) }
            exercise(value.serializedBytes(), &tally)
        }
        #expect(tally.syntax == 0)
        #expect(tally.schema > 1_000)
        #expect(tally.decoded > 100)
    }

    @Test func randomBytesNeverCrash() {
        var rng = SplitMix64(seed: 0xBAD_B17E5)
        var tally = Tally()
        let alphabet = Array("{}[]\",:\\u0123456789-+.eEtruefalsn \n".utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xFF]
        for _ in 0..<3_000 {
            let bytes = (0..<rng.index(64)).map { _ in alphabet[rng.index(alphabet.count)] }
            exercise(bytes, &tally)
        }
        #expect(tally.syntax > 0)
    }

    /// Replaces one randomly chosen node (reached by a random walk) with a random value,
    /// drops a member, or duplicates one with a different value.
    private func mutateTree(_ value: JSONValue, _ rng: inout SplitMix64) -> JSONValue {
        switch value {
        case .object(var members) where !members.isEmpty && rng.next(below: 4) != 0:
            let i = rng.index(members.count)
            switch rng.next(below: 6) {
            case 0: members.remove(at: i)
            case 1: members.append((key: members[i].key, value: randomLeaf(&rng)))
            default: members[i].value = mutateTree(members[i].value, &rng)
            }
            return .object(members)
        case .array(var elements) where !elements.isEmpty && rng.next(below: 4) != 0:
            let i = rng.index(elements.count)
            if rng.next(below: 5) == 0 { elements.remove(at: i) } else { elements[i] = mutateTree(elements[i], &rng) }
            return .array(elements)
        default:
            return randomLeaf(&rng)
        }
    }

    private func randomLeaf(_ rng: inout SplitMix64) -> JSONValue {
        let choices: [JSONValue] = [
            nil, true, false, 0, -1, 1, 4294967296, .number(JSONNumber(UInt64.max)), .number(JSONNumber(Int64.min)),
            .number(JSONNumber(1.5) ?? JSONNumber(Int64(0))), "", "pid", "foo", "SCMP_ACT_ALLOW", "RLIMIT_NOFILE",
            [], [:], ["x"], ["type": "pid"], [[1]],
        ]
        return choices[rng.index(choices.count)]
    }
}
