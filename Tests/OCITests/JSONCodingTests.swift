import BerthCore
import Testing
@testable import OCI

private struct Numbers: Codable, Equatable {
    var u8: UInt8?
    var u32: UInt32?
    var u64: UInt64?
    var i: Int?
    var i64: Int64?
    var d: Double?
}

private struct Required: Codable, Equatable {
    var name: String
    var flag: Bool
    var tags: [String]?
}

private struct Nested: Codable, Equatable {
    var items: [Required]
    var byName: [String: Required]?
    var matrix: [[Int?]]?
}

/// The message a decode of `json` as `T` fails with.
private func decodeError<T: Decodable>(_ type: T.Type, _ json: String) -> String? {
    do {
        _ = try decodeJSON(type, from: json)
        return nil
    } catch {
        return error.description
    }
}

@Suite struct JSONDecoderTests {
    @Test func decodesIntegersAtTheirLimits() throws {
        let json = #"{"u8":255,"u32":4294967295,"u64":18446744073709551615,"i":-9223372036854775808,"i64":-1,"d":1}"#
        let n = try decodeJSON(Numbers.self, from: json)
        #expect(n == Numbers(u8: 255, u32: .max, u64: .max, i: .min, i64: -1, d: 1))
    }

    @Test(arguments: [
        (#"{"u32":-1}"#, "u32: value -1 out of range for uint32"),
        (#"{"u8":256}"#, "u8: value 256 out of range for uint8"),
        (#"{"u32":4294967296}"#, "u32: value 4294967296 out of range for uint32"),
        (#"{"i64":18446744073709551615}"#, "i64: value 18446744073709551615 out of range for int64"),
        (#"{"u64":18446744073709551616}"#, "u64: value 18446744073709551616 out of range for uint64"),
        (#"{"i":-99999999999999999999}"#, "i: value -99999999999999999999 out of range for int"),
        (#"{"u64":1e19}"#, "u64: expected unsigned integer, found 1e+19"),
        (#"{"d":1"# + String(repeating: "0", count: 400) + "}", "d: value 1" + String(repeating: "0", count: 29)
            + "..." + String(repeating: "0", count: 30) + " out of range for double"),
        (#"{"u64":-1}"#, "u64: value -1 out of range for uint64"),
        (#"{"i":1.5}"#, "i: expected integer, found 1.5"),
        (#"{"i":1.0}"#, "i: expected integer, found 1.0"),
        (#"{"u32":1e3}"#, "u32: expected unsigned integer, found 1000.0"),
        (#"{"i":"1"}"#, "i: expected integer, found string"),
        (#"{"u32":true}"#, "u32: expected unsigned integer, found boolean"),
        (#"{"d":"1.5"}"#, "d: expected number, found string"),
        ("[]", "expected object, found array"),
        ("null", "expected object, found null"),
    ] as [(String, String)])
    func rejectsOutOfRangeAndMistypedNumbers(json: String, message: String) {
        #expect(decodeError(Numbers.self, json) == message)
    }

    @Test func absentAndNullOptionalsDecodeAsNil() throws {
        #expect(try decodeJSON(Numbers.self, from: "{}") == Numbers())
        #expect(try decodeJSON(Numbers.self, from: #"{"u8":null,"d":null}"#) == Numbers())
    }

    @Test func unknownKeysAreIgnored() throws {
        let value = try decodeJSON(Required.self, from: #"{"extra":{"deep":[1,2]},"name":"n","flag":false,"x":null}"#)
        #expect(value == Required(name: "n", flag: false))
    }

    /// Go's decoder (runc) would take these as the field; berth refuses them by path, naming
    /// the field (a name that matches no field in any case is still ignored, as above).
    @Test(arguments: [
        (#"{"Name":"n","flag":true}"#, #"Name: unknown field, did you mean "name"?"#),
        (#"{"name":"n","flag":true,"FLAG":false}"#, #"FLAG: unknown field, did you mean "flag"?"#),
        (#"{"items":[{"name":"a","flag":true,"Tags":[]}]}"#, #"items[0].Tags: unknown field, did you mean "tags"?"#),
    ] as [(String, String)])
    func aNameThatMatchesAFieldOnlyWithoutCaseIsRefused(json: String, message: String) {
        let error = json.hasPrefix(#"{"items""#) ? decodeError(Nested.self, json) : decodeError(Required.self, json)
        #expect(error?.hasPrefix(message) == true, "\(error ?? "decoded")")
    }

    @Test func theLettersGoFoldOntoASCIIAreFoldedToo() {
        #expect(JSONFieldName.foldsEqual("\u{017F}eccomp", "seccomp"))
        #expect(JSONFieldName.foldsEqual("ta\u{212A}s", "taks"))
        #expect(JSONFieldName.foldsEqual("PAGESIZE", "pageSize"))
        #expect(!JSONFieldName.foldsEqual("pagesizes", "pageSize") && !JSONFieldName.foldsEqual("page_size", "pageSize"))
        #expect(decodeError(Required.self, "{\"name\":\"n\",\"flag\":true,\"tag\u{017F}\":[]}")?.contains("did you mean \"tags\"") == true)
    }

    /// A map's keys are data, not field names: `a` and `A` are two keys.
    @Test func mapKeysThatDifferOnlyInCaseAreTwoKeys() throws {
        let value = try decodeJSON(Nested.self, from: #"{"items":[],"byName":{"a":{"name":"1","flag":true},"A":{"name":"2","flag":false}}}"#)
        #expect(value.byName?.count == 2)
        let rdma = try decodeJSON(LinuxResources.self, from: #"{"rdma":{"mlx5_0":{"hcaHandles":1},"MLX5_0":{"hcaHandles":2}}}"#)
        #expect(rdma.rdma?.count == 2)
    }

    @Test func duplicateKeysTakeTheLastValue() throws {
        let value = try decodeJSON(Required.self, from: #"{"name":"first","flag":true,"name":"second"}"#)
        #expect(value.name == "second")
    }

    @Test(arguments: [
        (#"{"flag":true}"#, #"missing required field "name""#),
        (#"{"name":null,"flag":true}"#, "name: expected string, found null"),
        (#"{"name":"n","flag":1}"#, "flag: expected boolean, found 1"),
        (#"{"name":"n","flag":"true"}"#, "flag: expected boolean, found string"),
        (#"{"name":"n","flag":true,"tags":"a"}"#, "tags: expected array, found string"),
        (#"{"name":"n","flag":true,"tags":["a",7]}"#, "tags[1]: expected string, found 7"),
    ] as [(String, String)])
    func reportsMissingAndMistypedFieldsWithPath(json: String, message: String) {
        #expect(decodeError(Required.self, json) == message)
    }

    @Test(arguments: [
        (#"{"items":[{"name":"a","flag":true},{"name":"b"}]}"#, #"items[1]: missing required field "flag""#),
        (#"{"items":[],"byName":{"x.y":{"name":1,"flag":true}}}"#, #"byName["x.y"].name: expected string, found 1"#),
        (#"{"items":[],"byName":{"ok":{"name":"a","flag":[]}}}"#, "byName.ok.flag: expected boolean, found array"),
        (#"{"items":[],"matrix":[[1,null],[2,"3"]]}"#, "matrix[1][1]: expected integer, found string"),
        (#"{"items":{}}"#, "items: expected array, found object"),
    ] as [(String, String)])
    func rendersNestedPathsWithDotsAndIndexes(json: String, message: String) {
        #expect(decodeError(Nested.self, json) == message)
    }

    @Test func nullElementsDecodeIntoOptionalArrayElements() throws {
        let value = try decodeJSON(Nested.self, from: #"{"items":[],"matrix":[[1,null],[]]}"#)
        #expect(value.matrix == [[1, nil], []])
    }

    @Test func largeObjectsUseLastDuplicateToo() throws {
        // More than 16 members switches the keyed container to a hash index.
        var members = (0..<40).map { #""k\#($0)":"v\#($0)""# }
        members.append(#""k3":"override""#)
        let map = try decodeJSON([String: String].self, from: "{" + members.joined(separator: ",") + "}")
        #expect(map.count == 40)
        #expect(map["k3"] == "override")

        let annotated = "{\"ociVersion\":\"1\",\"annotations\":{" + members.joined(separator: ",") + "}}"
        #expect(try decodeJSON(Spec.self, from: annotated).annotations?["k3"] == "override")
    }

    @Test func syntaxErrorsComeThroughDecodeJSONUnchanged() {
        #expect(throws: BerthError(.jsonSyntax, "json: unexpected character 'x' at offset 12", offset: 12)) {
            try decodeJSON(Required.self, from: #"{"name":"n",x}"#)
        }
    }

    @Test func schemaErrorsCarryKindAndPath() throws {
        let error = try #require(throws: BerthError.self) {
            try decodeJSON(Nested.self, from: #"{"items":[{"name":"a","flag":0}]}"#)
        }
        #expect(error.code == .jsonSchema)
        #expect(error.path == "items[0].flag")
        #expect(error.message == "expected boolean, found 0")
        #expect(error.offset == nil)
    }
}

@Suite struct JSONEncoderTests {
    @Test func nilOptionalsAreOmitted() throws {
        #expect(try encodeJSON(Numbers(u32: 7)) == #"{"u32":7}"#)
        #expect(try encodeJSON(Root(path: "rootfs")) == #"{"path":"rootfs"}"#)
    }

    @Test func fieldsFollowDeclarationOrderAndDictionariesAreSorted() throws {
        let nested = Nested(items: [Required(name: "a", flag: true, tags: [])],
                            byName: ["b": Required(name: "b", flag: false), "a": Required(name: "a", flag: true)],
                            matrix: [[1, nil]])
        let expected = #"{"items":[{"name":"a","flag":true,"tags":[]}],"#
            + #""byName":{"a":{"name":"a","flag":true},"b":{"name":"b","flag":false}},"matrix":[[1,null]]}"#
        #expect(try encodeJSON(nested) == expected)
        #expect(try decodeJSON(Nested.self, from: encodeJSON(nested)) == nested)
    }

    @Test func extremeIntegersEncodeExactly() throws {
        let n = Numbers(u64: .max, i: .min, i64: .max)
        #expect(try encodeJSON(n) == #"{"u64":18446744073709551615,"i":-9223372036854775808,"i64":9223372036854775807}"#)
    }

    @Test func nonFiniteNumbersAreEncodingErrors() throws {
        let error = try #require(throws: BerthError.self) { try encodeJSON(Numbers(d: .infinity)) }
        #expect(error.code == .jsonEncoding)
        #expect(error.description == "d: cannot encode non-finite number inf")
    }

    @Test func topLevelCollectionsEncode() throws {
        #expect(try encodeJSON(["b": 1, "a": 2, "c": 3]) == #"{"a":2,"b":1,"c":3}"#)
        #expect(try encodeJSON(["x", "y"]) == #"["x","y"]"#)
        #expect(try encodeJSON(Optional<Int>.none) == "null")
    }
}
