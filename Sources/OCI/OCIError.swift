/// The single error type of the OCI module.
///
/// `description` is the text a user sees: the JSON path of the offending value (if any),
/// then the message, lower case, no final period:
///
///     json: unexpected character 'x' at offset 12
///     linux.namespaces[2].type: unknown namespace "foo"
///     process: missing required field "cwd"
public struct OCIError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Broad class of failure, for callers that react differently to each.
    public enum Kind: Sendable, Equatable {
        /// The bytes are not well-formed JSON (RFC 8259).
        case syntax
        /// Well-formed JSON that does not match the expected shape or values.
        case schema
        /// A value could not be represented as JSON (e.g. a non-finite number).
        case encoding
    }

    /// Broad class of failure.
    public var kind: Kind
    /// Location of the offending value, e.g. `linux.namespaces[2].type`; empty for the
    /// document root and for syntax errors.
    public var path: String
    /// What was wrong, e.g. `expected array, found string`.
    public var message: String
    /// Byte offset into the input, for syntax errors.
    public var offset: Int?

    /// Creates an error; `path` uses the same dotted/indexed form as decoding errors.
    public init(kind: Kind = .schema, path: String = "", message: String, offset: Int? = nil) {
        self.kind = kind
        self.path = path
        self.message = message
        self.offset = offset
    }

    /// `path: message`, or just `message` at the root.
    public var description: String {
        path.isEmpty ? message : "\(path): \(message)"
    }

    /// Renders a Codable coding path as `a.b[3].c`.
    ///
    /// Array positions come out as `[i]`; object keys as `.key`, or as `["key"]` when the
    /// key is not a plain identifier (annotation and sysctl names contain dots, and
    /// `sysctl.net.ipv4.ip_forward` would read as three levels of nesting).
    public static func renderPath(_ codingPath: [any CodingKey]) -> String {
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
    static func from(_ error: DecodingError) -> OCIError {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return OCIError(path: renderPath(context.codingPath), message: context.debugDescription)
        case .keyNotFound(let key, let context):
            return OCIError(path: renderPath(context.codingPath),
                            message: "missing required field \(quoted(key.stringValue))")
        @unknown default:
            return OCIError(message: "\(error)")
        }
    }

    /// Converts any error thrown while decoding or encoding into an `OCIError`.
    static func wrap(_ error: any Error) -> OCIError {
        if let error = error as? OCIError { return error }
        if let error = error as? DecodingError { return from(error) }
        if let error = error as? EncodingError {
            switch error {
            case .invalidValue(_, let context):
                return OCIError(kind: .encoding, path: renderPath(context.codingPath),
                                message: context.debugDescription)
            @unknown default:
                return OCIError(kind: .encoding, message: "\(error)")
            }
        }
        return OCIError(message: "\(error)")
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
