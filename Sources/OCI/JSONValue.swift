/// A JSON document held in memory.
///
/// Objects keep their members in document order (and keep duplicates) so that
/// serializing a parsed document reproduces its layout; lookups take the last duplicate,
/// as Go's encoding/json (runc, containerd) does.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    /// Structural equality: objects compare member by member, in order.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for i in a.indices where a[i].key != b[i].key || a[i].value != b[i].value {
                return false
            }
            return true
        default: return false
        }
    }

    /// The value of the last member named `key`, if this is an object that has one.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    /// The element at `index`, if this is an array that long.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// The payload of a `.string`.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The payload of a `.bool`.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The payload of a `.number`.
    public var numberValue: JSONNumber? {
        if case .number(let n) = self { return n }
        return nil
    }

    /// Name of the JSON kind, as used in "expected X, found Y" messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

/// A JSON number, stored exactly.
///
/// Integer literals are kept as integers: in an `Int64` or `UInt64` when they fit (so
/// `18446744073709551615` and `-9223372036854775808` survive a round trip), as their
/// literal text when they do not. Anything with a fraction or exponent is a `Double`.
/// `1` and `1.0` are therefore different values, which keeps "1.0 is not an integer"
/// detectable.
public struct JSONNumber: Sendable, Equatable, Hashable, CustomStringConvertible {
    enum Storage: Sendable, Equatable, Hashable {
        case int(Int64)
        /// Only for values above `Int64.max`, so each integer has a single representation.
        case uint(UInt64)
        case double(Double)
        /// An integer literal outside the 64-bit ranges, as written (no leading zeros,
        /// so the text is canonical).
        case bigInteger(String)
    }

    let storage: Storage

    /// An integer number.
    public init(_ value: Int64) { storage = .int(value) }

    /// An integer number.
    public init(_ value: Int) { storage = .int(Int64(value)) }

    /// An integer number.
    public init(_ value: UInt64) {
        if let small = Int64(exactly: value) {
            storage = .int(small)
        } else {
            storage = .uint(value)
        }
    }

    /// A fractional number; nil for NaN and infinities, which JSON cannot express.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        storage = .double(value)
    }

    /// Parser entry for integer literals too large for 64 bits; `digits` must match
    /// `-?[1-9][0-9]*`.
    init(bigInteger digits: String) { storage = .bigInteger(digits) }

    /// True if the number was written (or created) as an integer.
    public var isInteger: Bool {
        if case .double = storage { return false }
        return true
    }

    /// The value, if it is an integer representable as `Int64`.
    public var int64Value: Int64? {
        switch storage {
        case .int(let v): return v
        case .uint, .double, .bigInteger: return nil
        }
    }

    /// The value, if it is a non-negative integer representable as `UInt64`.
    public var uint64Value: UInt64? {
        switch storage {
        case .int(let v): return UInt64(exactly: v)
        case .uint(let v): return v
        case .double, .bigInteger: return nil
        }
    }

    /// The value as a `Double`: rounded for integers beyond 2^53, infinite for integer
    /// literals beyond `Double`'s range.
    public var doubleValue: Double {
        switch storage {
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        case .double(let v): return v
        case .bigInteger(let text): return Double(text) ?? .infinity
        }
    }

    /// The number as JSON text. Doubles use Swift's shortest round-tripping form, which
    /// is always valid JSON for finite values (`1.0`, `1e+100`, `5e-324`).
    public var description: String {
        switch storage {
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .double(let v): return v.description
        case .bigInteger(let text): return text
        }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .number(JSONNumber(value)) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(elements.map { (key: $0.0, value: $0.1) })
    }
}
