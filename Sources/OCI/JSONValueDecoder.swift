/// Coding key for an array position; error paths render it as `[i]`.
public struct JSONIndexKey: CodingKey, Sendable, Equatable {
    /// Zero-based position in the array.
    public let index: Int

    /// A key for position `index`.
    public init(index: Int) { self.index = index }
    public init?(intValue: Int) { self.index = intValue }
    public init?(stringValue: String) { return nil }
    public var intValue: Int? { index }
    public var stringValue: String { "Index \(index)" }
}

/// Coding key for an object member whose name is only known at run time.
struct JSONStringKey: CodingKey {
    let stringValue: String
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
    var intValue: Int? { nil }
}

/// Codable `Decoder` over a parsed `JSONValue`.
///
/// Strict where Foundation's JSONDecoder is lenient: no string/number coercion, integers
/// must be integer literals in range of the target type. Unknown object members are
/// ignored, as the runtime-spec requires.
///
/// Errors are `DecodingError`s whose `debugDescription` is already the final lower-case
/// message (`expected array, found string`), so `BerthError.from` only adds the path.
/// The path is a parent chain rather than an array so that decoding a value that turns
/// out fine never builds one.
final class JSONValueDecoder: Decoder, SingleValueDecodingContainer {
    let value: JSONValue
    private let parent: JSONValueDecoder?
    private let key: (any CodingKey)?

    init(value: JSONValue, parent: JSONValueDecoder? = nil, key: (any CodingKey)? = nil) {
        self.value = value
        self.parent = parent
        self.key = key
    }

    var codingPath: [any CodingKey] {
        var keys: [any CodingKey] = []
        var node: JSONValueDecoder? = self
        while let current = node, let key = current.key {
            keys.append(key)
            node = current.parent
        }
        return keys.reversed()
    }

    func path(appending key: any CodingKey) -> [any CodingKey] { codingPath + [key] }

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else {
            throw Unbox.mismatch([String: JSONValue].self, expected: "object", found: value, path: codingPath)
        }
        return KeyedDecodingContainer(JSONKeyedDecodingContainer<Key>(decoder: self, members: members))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else {
            throw Unbox.mismatch([JSONValue].self, expected: "array", found: value, path: codingPath)
        }
        return JSONUnkeyedDecodingContainer(decoder: self, elements: elements)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    /// Decodes `value` (found under `key` of this decoder) as `T`.
    func unbox<T: Decodable>(_ value: JSONValue, as type: T.Type, key: any CodingKey) throws -> T {
        // Arrays of strings (args, env, mount options, capabilities) and string maps
        // (annotations, sysctl) dominate configs; skipping the generic Codable machinery
        // for them roughly halves decode time.
        if T.self == [String].self, let result = try unboxStringArray(value, key: key) as? T {
            return result
        }
        if T.self == [String: String].self, let result = try unboxStringMap(value, key: key) as? T {
            return result
        }
        return try T(from: JSONValueDecoder(value: value, parent: self, key: key))
    }

    private func unboxStringArray(_ value: JSONValue, key: any CodingKey) throws -> [String] {
        guard case .array(let elements) = value else {
            throw Unbox.mismatch([String].self, expected: "array", found: value, path: path(appending: key))
        }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            guard case .string(let s) = element else {
                throw Unbox.mismatch(String.self, expected: "string", found: element,
                                     path: path(appending: key) + [JSONIndexKey(index: i)])
            }
            result.append(s)
        }
        return result
    }

    private func unboxStringMap(_ value: JSONValue, key: any CodingKey) throws -> [String: String] {
        guard case .object(let members) = value else {
            throw Unbox.mismatch([String: String].self, expected: "object", found: value, path: path(appending: key))
        }
        var result: [String: String] = [:]
        result.reserveCapacity(members.count)
        for member in members {
            guard case .string(let s) = member.value else {
                throw Unbox.mismatch(String.self, expected: "string", found: member.value,
                                     path: path(appending: key) + [JSONStringKey(member.key)])
            }
            result[member.key] = s
        }
        return result
    }

    // MARK: SingleValueDecodingContainer

    func decodeNil() -> Bool {
        if case .null = value { return true }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try Unbox.bool(value, path: codingPath) }
    func decode(_ type: String.Type) throws -> String { try Unbox.string(value, path: codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try Unbox.double(value, path: codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try Unbox.float(value, path: codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try Unbox.integer(value, path: codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try Unbox.integer(value, path: codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try Unbox.integer(value, path: codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try Unbox.integer(value, path: codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try Unbox.integer(value, path: codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try Unbox.integer(value, path: codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try Unbox.integer(value, path: codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try Unbox.integer(value, path: codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try Unbox.integer(value, path: codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try Unbox.integer(value, path: codingPath) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        // A single-value container decodes *this* value, so the path does not grow.
        try T(from: self)
    }
}

/// Conversions from `JSONValue` to Swift primitives, with the module's error messages.
/// `path` is an autoclosure so the success path never materializes a coding path.
enum Unbox {
    static func mismatch(_ type: Any.Type, expected: String, found value: JSONValue,
                         path: [any CodingKey]) -> DecodingError {
        let found: String
        if case .number(let n) = value { found = abbreviated(n.description) } else { found = value.kindName }
        let context = DecodingError.Context(codingPath: path, debugDescription: "expected \(expected), found \(found)")
        if case .null = value { return .valueNotFound(type, context) }
        return .typeMismatch(type, context)
    }

    static func bool(_ value: JSONValue, path: @autoclosure () -> [any CodingKey]) throws -> Bool {
        guard case .bool(let b) = value else {
            throw mismatch(Bool.self, expected: "boolean", found: value, path: path())
        }
        return b
    }

    static func string(_ value: JSONValue, path: @autoclosure () -> [any CodingKey]) throws -> String {
        guard case .string(let s) = value else {
            throw mismatch(String.self, expected: "string", found: value, path: path())
        }
        return s
    }

    static func double(_ value: JSONValue, path: @autoclosure () -> [any CodingKey]) throws -> Double {
        guard case .number(let n) = value else {
            throw mismatch(Double.self, expected: "number", found: value, path: path())
        }
        let d = n.doubleValue
        guard d.isFinite else { throw outOfRange(n, "double", path: path()) }
        return d
    }

    static func float(_ value: JSONValue, path: @autoclosure () -> [any CodingKey]) throws -> Float {
        guard case .number(let n) = value else {
            throw mismatch(Float.self, expected: "number", found: value, path: path())
        }
        let f = Float(n.doubleValue)
        guard f.isFinite else { throw outOfRange(n, "float", path: path()) }
        return f
    }

    static func outOfRange(_ n: JSONNumber, _ typeName: String, path: [any CodingKey]) -> DecodingError {
        .dataCorrupted(.init(codingPath: path, debugDescription: "value \(abbreviated(n.description)) out of range for \(typeName)"))
    }

    static func integer<T: FixedWidthInteger>(_ value: JSONValue, path: @autoclosure () -> [any CodingKey]) throws -> T {
        let expected = T.isSigned ? "integer" : "unsigned integer"
        guard case .number(let n) = value else {
            throw mismatch(T.self, expected: expected, found: value, path: path())
        }
        switch n.storage {
        case .int(let v):
            if let result = T(exactly: v) { return result }
        case .uint(let v):
            if let result = T(exactly: v) { return result }
        case .double:
            // Like Go: 1.0 and 1e3 are not integers, even though their values are.
            throw mismatch(T.self, expected: expected, found: value, path: path())
        case .bigInteger:
            break
        }
        throw outOfRange(n, String(describing: T.self).lowercased(), path: path())
    }
}
