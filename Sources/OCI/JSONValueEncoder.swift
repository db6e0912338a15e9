/// A value under construction. Containers hand out references to their children, so
/// Codable's "nested container" calls can keep writing after the call returns.
final class EncodingNode {
    enum Kind { case unset, single, object, array }

    private(set) var kind: Kind = .unset
    /// Set for dictionaries, whose member order would otherwise follow Swift's
    /// per-process hash seed.
    var sortsKeys = false
    private var single: JSONValue = .null
    private var members: [(key: String, node: EncodingNode)] = []
    private var elements: [EncodingNode] = []

    init() {}

    init(_ value: JSONValue) {
        kind = .single
        single = value
    }

    func set(_ value: JSONValue) {
        kind = .single
        single = value
    }

    /// Turns this node into an object, keeping members if it already is one (Codable
    /// allows asking for the same keyed container twice).
    func makeObject() {
        guard kind != .object else { return }
        kind = .object
        members = []
    }

    func makeArray() {
        guard kind != .array else { return }
        kind = .array
        elements = []
    }

    /// Sets member `key`, replacing an earlier one of the same name so that output
    /// never has duplicate keys.
    func setMember(_ key: String, _ node: EncodingNode) {
        if let i = members.firstIndex(where: { $0.key == key }) {
            members[i].node = node
        } else {
            members.append((key: key, node: node))
        }
    }

    func append(_ node: EncodingNode) { elements.append(node) }

    var count: Int { kind == .object ? members.count : elements.count }

    /// The finished value. A value that encoded nothing at all becomes `{}`, as with
    /// Foundation's JSONEncoder.
    func jsonValue() -> JSONValue {
        switch kind {
        case .unset: return .object([])
        case .single: return single
        case .object:
            var members = self.members
            if sortsKeys {
                members.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            }
            return .object(members.map { (key: $0.key, value: $0.node.jsonValue()) })
        case .array: return .array(elements.map { $0.jsonValue() })
        }
    }
}

/// Codable `Encoder` producing a `JSONValue`.
///
/// Optional properties that are nil are omitted (synthesized `Encodable` uses
/// `encodeIfPresent`). Dictionaries with `String` keys are written with keys sorted
/// bytewise, so output is stable across runs (Swift's hashing is seeded per process)
/// and matches Go's encoding/json.
final class JSONValueEncoder: Encoder, SingleValueEncodingContainer {
    let node: EncodingNode
    private let parent: JSONValueEncoder?
    private let key: (any CodingKey)?
    /// Only records the key type of the first keyed container; see `dictionaryKeyType`.
    private let probing: Bool
    private var probedKeyType: ObjectIdentifier?

    init(node: EncodingNode = EncodingNode(), parent: JSONValueEncoder? = nil, key: (any CodingKey)? = nil) {
        self.node = node
        self.parent = parent
        self.key = key
        self.probing = false
    }

    private init(probing: Bool) {
        self.node = EncodingNode()
        self.parent = nil
        self.key = nil
        self.probing = probing
    }

    /// The coding-key type `Dictionary` uses for `String` keys (the standard library's
    /// private `_DictionaryCodingKey`), found by encoding a one-entry dictionary.
    ///
    /// Spotting dictionaries by key type is nearly free; the obvious alternative, an
    /// `as? any SomeProtocol` cast per encoded value, scans the process's conformance
    /// tables once per new type and cost ~70 us of a cold `State` encode. If the
    /// standard library ever stops using a dedicated key type, output stays valid and
    /// only loses its sorted order (which a test checks).
    private static let dictionaryKeyType: ObjectIdentifier? = {
        let probe = JSONValueEncoder(probing: true)
        try? ["key": true].encode(to: probe)
        return probe.probedKeyType
    }()

    var codingPath: [any CodingKey] {
        var keys: [any CodingKey] = []
        var current: JSONValueEncoder? = self
        while let encoder = current, let key = encoder.key {
            keys.append(key)
            current = encoder.parent
        }
        return keys.reversed()
    }

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if probing {
            probedKeyType = probedKeyType ?? ObjectIdentifier(Key.self)
        } else if ObjectIdentifier(Key.self) == Self.dictionaryKeyType {
            node.sortsKeys = true
        }
        node.makeObject()
        return KeyedEncodingContainer(JSONKeyedEncodingContainer<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return JSONUnkeyedEncodingContainer(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func child(_ key: any CodingKey, node: EncodingNode = EncodingNode()) -> JSONValueEncoder {
        JSONValueEncoder(node: node, parent: self, key: key)
    }

    /// Encodes `value` as a new node for member or element `key`.
    func box<T: Encodable>(_ value: T, key: any CodingKey) throws -> EncodingNode {
        let encoder = child(key)
        try value.encode(to: encoder)
        return encoder.node
    }

    static func number(_ value: Double, path: @autoclosure () -> [any CodingKey]) throws -> JSONValue {
        guard let number = JSONNumber(value) else {
            throw EncodingError.invalidValue(value, .init(codingPath: path(),
                                                          debugDescription: "cannot encode non-finite number \(value)"))
        }
        return .number(number)
    }

    // MARK: SingleValueEncodingContainer

    func encodeNil() { node.set(.null) }
    func encode(_ value: Bool) { node.set(.bool(value)) }
    func encode(_ value: String) { node.set(.string(value)) }
    func encode(_ value: Double) throws { node.set(try Self.number(value, path: codingPath)) }
    func encode(_ value: Float) throws { node.set(try Self.number(Double(value), path: codingPath)) }
    func encode(_ value: Int) { node.set(.number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int8) { node.set(.number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int16) { node.set(.number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int32) { node.set(.number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int64) { node.set(.number(JSONNumber(value))) }
    func encode(_ value: UInt) { node.set(.number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt8) { node.set(.number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt16) { node.set(.number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt32) { node.set(.number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt64) { node.set(.number(JSONNumber(value))) }
    func encode<T: Encodable>(_ value: T) throws { try value.encode(to: self) }
}

struct JSONKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: JSONValueEncoder

    var codingPath: [any CodingKey] { encoder.codingPath }

    private func set(_ key: Key, _ value: JSONValue) {
        encoder.node.setMember(key.stringValue, EncodingNode(value))
    }

    func encodeNil(forKey key: Key) { set(key, .null) }
    func encode(_ value: Bool, forKey key: Key) { set(key, .bool(value)) }
    func encode(_ value: String, forKey key: Key) { set(key, .string(value)) }
    func encode(_ value: Double, forKey key: Key) throws {
        set(key, try JSONValueEncoder.number(value, path: codingPath + [key]))
    }
    func encode(_ value: Float, forKey key: Key) throws {
        set(key, try JSONValueEncoder.number(Double(value), path: codingPath + [key]))
    }
    func encode(_ value: Int, forKey key: Key) { set(key, .number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int8, forKey key: Key) { set(key, .number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int16, forKey key: Key) { set(key, .number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int32, forKey key: Key) { set(key, .number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int64, forKey key: Key) { set(key, .number(JSONNumber(value))) }
    func encode(_ value: UInt, forKey key: Key) { set(key, .number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt8, forKey key: Key) { set(key, .number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt16, forKey key: Key) { set(key, .number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt32, forKey key: Key) { set(key, .number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt64, forKey key: Key) { set(key, .number(JSONNumber(value))) }

    func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        encoder.node.setMember(key.stringValue, try encoder.box(value, key: key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type,
                                               forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = encoder.child(key)
        encoder.node.setMember(key.stringValue, child.node)
        return child.container(keyedBy: keyType)
    }

    func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = encoder.child(key)
        encoder.node.setMember(key.stringValue, child.node)
        return child.unkeyedContainer()
    }

    func superEncoder() -> any Encoder {
        let key = JSONStringKey("super")
        let child = encoder.child(key)
        encoder.node.setMember(key.stringValue, child.node)
        return child
    }

    func superEncoder(forKey key: Key) -> any Encoder {
        let child = encoder.child(key)
        encoder.node.setMember(key.stringValue, child.node)
        return child
    }
}

struct JSONUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let encoder: JSONValueEncoder

    var codingPath: [any CodingKey] { encoder.codingPath }
    var count: Int { encoder.node.count }

    private var nextKey: JSONIndexKey { JSONIndexKey(index: count) }

    private func append(_ value: JSONValue) { encoder.node.append(EncodingNode(value)) }

    func encodeNil() { append(.null) }
    func encode(_ value: Bool) { append(.bool(value)) }
    func encode(_ value: String) { append(.string(value)) }
    func encode(_ value: Double) throws { append(try JSONValueEncoder.number(value, path: codingPath + [nextKey])) }
    func encode(_ value: Float) throws {
        append(try JSONValueEncoder.number(Double(value), path: codingPath + [nextKey]))
    }
    func encode(_ value: Int) { append(.number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int8) { append(.number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int16) { append(.number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int32) { append(.number(JSONNumber(Int64(value)))) }
    func encode(_ value: Int64) { append(.number(JSONNumber(value))) }
    func encode(_ value: UInt) { append(.number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt8) { append(.number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt16) { append(.number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt32) { append(.number(JSONNumber(UInt64(value)))) }
    func encode(_ value: UInt64) { append(.number(JSONNumber(value))) }

    func encode<T: Encodable>(_ value: T) throws {
        encoder.node.append(try encoder.box(value, key: nextKey))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = encoder.child(nextKey)
        encoder.node.append(child.node)
        return child.container(keyedBy: keyType)
    }

    func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = encoder.child(nextKey)
        encoder.node.append(child.node)
        return child.unkeyedContainer()
    }

    func superEncoder() -> any Encoder {
        let child = encoder.child(nextKey)
        encoder.node.append(child.node)
        return child
    }
}
