import BerthCore

/// The OCI module's errors are BerthErrors with these codes. `description` is the text a user
/// sees: the JSON path of the offending value (if any), then the message, lower case, no
/// final period:
///
///     json: unexpected character 'x' at offset 12
///     linux.namespaces[2].type: unknown namespace "foo"
///     process: missing required field "cwd"
extension BerthError.Code {
    /// The bytes are not well-formed JSON (RFC 8259); the error's `offset` says where.
    public static let jsonSyntax = Self(rawValue: "json syntax")
    /// Well-formed JSON that does not match the expected shape or values.
    public static let jsonSchema = Self(rawValue: "json schema")
    /// A value could not be represented as JSON (e.g. a non-finite number).
    public static let jsonEncoding = Self(rawValue: "json encoding")
}

extension BerthError {
    /// Renders a Codable coding path as `a.b[3].c`.
    ///
    /// Array positions come out as `[i]`; object keys as `.key`, or as `["key"]` when the
    /// key is not a plain identifier (annotation and sysctl names contain dots, and
    /// `sysctl.net.ipv4.ip_forward` would read as three levels of nesting).
    static func renderPath(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let index = key as? JSONIndexKey {
                out += "[\(index.index)]"
            } else if isPlainIdentifier(key.stringValue) {
                if !out.isEmpty { out += "." }
                out += key.stringValue
            } else {
                out += "[" + quoted(key.stringValue) + "]"
            }
        }
        return out
    }

    private static func isPlainIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, !(first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else {
            return false
        }
        return s.utf8.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_")
        }
    }

    /// Builds the user-facing error for a `DecodingError`, whose debug descriptions this
    /// module's decoder already phrases as final messages.
    static func from(_ error: DecodingError) -> BerthError {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return BerthError(.jsonSchema, path: renderPath(context.codingPath), context.debugDescription)
        case .keyNotFound(let key, let context):
            return BerthError(.jsonSchema, path: renderPath(context.codingPath),
                              "missing required field \(quoted(key.stringValue))")
        @unknown default:
            return BerthError(.jsonSchema, "\(error)")
        }
    }

    /// Converts any error thrown while decoding or encoding into a `BerthError`.
    static func wrap(_ error: any Error) -> BerthError {
        if let error = error as? BerthError { return error }
        if let error = error as? DecodingError { return from(error) }
        if let error = error as? EncodingError {
            switch error {
            case .invalidValue(_, let context):
                return BerthError(.jsonEncoding, path: renderPath(context.codingPath),
                                  context.debugDescription)
            @unknown default:
                return BerthError(.jsonEncoding, "\(error)")
            }
        }
        return BerthError(.jsonSchema, "\(error)")
    }
}

/// `value` as a JSON string literal, so error messages show invisible characters;
/// long values are elided in the middle like `abbreviated(_:)`.
func quoted(_ value: String) -> String {
    var out: [UInt8] = []
    JSONSerializer.writeString(abbreviated(value), into: &out)
    return String(decoding: out, as: UTF8.self)
}

/// `text`, or its start and end around `...` if longer than 64 characters: a hostile
/// config can put megabytes in one value, and error messages should not repeat them.
/// Eliding the middle keeps the message from ending in a period.
func abbreviated(_ text: String) -> String {
    guard text.count > 64 else { return text }
    return text.prefix(30) + "..." + text.suffix(30)
}
