import BerthCore

/// Parses `bytes` as JSON and decodes a `T` from it.
///
///     let spec = try decodeJSON(Spec.self, from: bytes)
///
/// - Throws: `BerthError`: `.jsonSyntax` for malformed JSON, `.jsonSchema` for a document that does
///   not fit `T` (`process.user.uid: expected unsigned integer, found string`).
public func decodeJSON<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(BerthError) -> T {
    try decodeJSON(type, from: JSONValue.parse(bytes))
}

/// Parses `text` as JSON and decodes a `T` from it; see ``decodeJSON(_:from:)-([UInt8])``.
public func decodeJSON<T: Decodable>(_ type: T.Type, from text: String) throws(BerthError) -> T {
    try decodeJSON(type, from: JSONValue.parse(text))
}

/// Decodes a `T` from an already parsed document.
public func decodeJSON<T: Decodable>(_ type: T.Type, from value: JSONValue) throws(BerthError) -> T {
    do {
        let decoder = JSONValueDecoder(value: value)
        return try decoder.decode(T.self)
    } catch {
        throw BerthError.wrap(error)
    }
}

/// Encodes `value` as a `JSONValue`, omitting nil optionals.
public func encodeJSONValue<T: Encodable>(_ value: T) throws(BerthError) -> JSONValue {
    do {
        let encoder = JSONValueEncoder()
        try value.encode(to: encoder)
        return encoder.node.jsonValue()
    } catch {
        throw BerthError.wrap(error)
    }
}

/// Encodes `value` as JSON text: compact, or `runc spec`-style with 2-space indentation.
public func encodeJSON<T: Encodable>(_ value: T, pretty: Bool = false) throws(BerthError) -> String {
    try encodeJSONValue(value).serialized(pretty: pretty)
}

/// Encodes `value` as UTF-8 JSON, ready to write to a file.
public func encodeJSONBytes<T: Encodable>(_ value: T, pretty: Bool = false) throws(BerthError) -> [UInt8] {
    try encodeJSONValue(value).serializedBytes(pretty: pretty)
}

/// A closed set of JSON strings, such as namespace types or seccomp actions.
///
/// Decoding a string outside the set fails with `unknown <valueDescription> "<value>"`
/// at the value's path, instead of Swift's default "Cannot initialize ... from invalid
/// String value".
public protocol OCIStringEnum: RawRepresentable<String>, Codable, Sendable, Hashable {
    /// What a value is, for error messages: `namespace` in `unknown namespace "foo"`.
    static var valueDescription: String { get }
}

extension OCIStringEnum {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let value = Self(rawValue: raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown \(Self.valueDescription) \(quoted(raw))"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
