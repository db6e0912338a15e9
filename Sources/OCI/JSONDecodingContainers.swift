/// Keyed container over a JSON object.
struct JSONKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: JSONValueDecoder
    let members: [(key: String, value: JSONValue)]
    /// Name -> position of the last member with that name; only for large objects
    /// (annotations), where repeated linear lookups would be quadratic.
    private let index: [String: Int]?
    /// True for a struct's fields, false for a map's keys (`[String: LinuxRdma]`): a map's key
    /// type takes any integer (`Key(intValue:)`), a struct's CodingKeys none.
    private let namesFields: Bool

    init(decoder: JSONValueDecoder, members: [(key: String, value: JSONValue)]) {
        self.decoder = decoder
        self.members = members
        namesFields = Key(intValue: 0) == nil
        if members.count > 16 {
            var index: [String: Int] = [:]
            index.reserveCapacity(members.count)
            for (i, member) in members.enumerated() { index[member.key] = i }
            self.index = index
        } else {
            self.index = nil
        }
    }

    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        var seen = Set<String>()
        return members.compactMap { member in
            seen.insert(member.key).inserted ? Key(stringValue: member.key) : nil
        }
    }

    /// The value of the last member called `name`: duplicates resolve like Go's
    /// encoding/json, so berth reads a config the way runc and containerd do.
    private func lookup(_ name: String) -> JSONValue? {
        if let index {
            return index[name].map { members[$0].value }
        }
        var i = members.count
        while i > 0 {
            i -= 1
            if members[i].key == name { return members[i].value }
        }
        return nil
    }

    /// Go's decoder, and so runc, takes a member whose name matches a field's without case
    /// (`pagesize` for `pageSize`, even `ſeccomp` for `seccomp`); exact readers (crun, policy
    /// checks, jq) ignore it. Such a member is refused, naming the field it would be, so that
    /// no config means one thing to runc and another to berth or to whatever checked it.
    private func refuseCaseVariants(of name: String) throws {
        guard namesFields else { return }
        for member in members where member.key != name && JSONFieldName.foldsEqual(member.key, name) {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.path(appending: JSONStringKey(member.key)),
                                                    debugDescription: "unknown field, did you mean \(quoted(name))? (runc would read it as that field, ignoring case; berth matches field names exactly)"))
        }
    }

    private func require(_ key: Key) throws -> JSONValue {
        try refuseCaseVariants(of: key.stringValue)
        guard let value = lookup(key.stringValue) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath,
                                                       debugDescription: "missing required field \(quoted(key.stringValue))"))
        }
        return value
    }

    /// The value under `key` unless it is absent or `null`: both mean "not set" for an
    /// optional field, as in Go.
    private func optional(_ key: Key) throws -> JSONValue? {
        try refuseCaseVariants(of: key.stringValue)
        guard let value = lookup(key.stringValue) else { return nil }
        if case .null = value { return nil }
        return value
    }

    func contains(_ key: Key) -> Bool { lookup(key.stringValue) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try require(key) { return true }
        return false
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try Unbox.bool(require(key), path: decoder.path(appending: key))
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try Unbox.string(require(key), path: decoder.path(appending: key))
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try Unbox.double(require(key), path: decoder.path(appending: key))
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try Unbox.float(require(key), path: decoder.path(appending: key))
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(key) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decoder.unbox(require(key), as: T.self, key: key)
    }

    private func integer<T: FixedWidthInteger>(_ key: Key) throws -> T {
        try Unbox.integer(require(key), path: decoder.path(appending: key))
    }

    // The default decodeIfPresent does contains + decodeNil + decode: three lookups.
    // Synthesized Decodable calls these for every optional field, so do it in one.

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        guard let value = try optional(key) else { return nil }
        return try Unbox.bool(value, path: decoder.path(appending: key))
    }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let value = try optional(key) else { return nil }
        return try Unbox.string(value, path: decoder.path(appending: key))
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        guard let value = try optional(key) else { return nil }
        return try Unbox.double(value, path: decoder.path(appending: key))
    }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        guard let value = try optional(key) else { return nil }
        return try Unbox.float(value, path: decoder.path(appending: key))
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try optionalInteger(key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try optionalInteger(key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try optionalInteger(key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try optionalInteger(key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try optionalInteger(key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try optionalInteger(key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try optionalInteger(key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try optionalInteger(key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try optionalInteger(key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try optionalInteger(key) }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = try optional(key) else { return nil }
        return try decoder.unbox(value, as: T.self, key: key)
    }

    private func optionalInteger<T: FixedWidthInteger>(_ key: Key) throws -> T? {
        guard let value = try optional(key) else { return nil }
        return try Unbox.integer(value, path: decoder.path(appending: key)) as T
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type,
                                               forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONValueDecoder(value: require(key), parent: decoder, key: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONValueDecoder(value: require(key), parent: decoder, key: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        let key = JSONStringKey("super")
        return JSONValueDecoder(value: lookup(key.stringValue) ?? .null, parent: decoder, key: key)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONValueDecoder(value: lookup(key.stringValue) ?? .null, parent: decoder, key: key)
    }
}

/// Unkeyed container over a JSON array. Like Foundation's, it advances only after a
/// successful decode.
struct JSONUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    let decoder: JSONValueDecoder
    let elements: [JSONValue]
    private(set) var currentIndex = 0

    init(decoder: JSONValueDecoder, elements: [JSONValue]) {
        self.decoder = decoder
        self.elements = elements
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private var currentKey: JSONIndexKey { JSONIndexKey(index: currentIndex) }

    private func current(_ type: Any.Type) throws -> JSONValue {
        guard currentIndex < elements.count else {
            throw DecodingError.valueNotFound(type, .init(codingPath: decoder.path(appending: currentKey),
                                                          debugDescription: "unexpected end of array"))
        }
        return elements[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard case .null = try current(Never.self) else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        let result = try Unbox.bool(current(type), path: decoder.path(appending: currentKey))
        currentIndex += 1
        return result
    }

    mutating func decode(_ type: String.Type) throws -> String {
        let result = try Unbox.string(current(type), path: decoder.path(appending: currentKey))
        currentIndex += 1
        return result
    }

    mutating func decode(_ type: Double.Type) throws -> Double {
        let result = try Unbox.double(current(type), path: decoder.path(appending: currentKey))
        currentIndex += 1
        return result
    }

    mutating func decode(_ type: Float.Type) throws -> Float {
        let result = try Unbox.float(current(type), path: decoder.path(appending: currentKey))
        currentIndex += 1
        return result
    }

    mutating func decode(_ type: Int.Type) throws -> Int { try integer() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer() }

    private mutating func integer<T: FixedWidthInteger>() throws -> T {
        let result: T = try Unbox.integer(current(T.self), path: decoder.path(appending: currentKey))
        currentIndex += 1
        return result
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let result = try decoder.unbox(current(type), as: T.self, key: currentKey)
        currentIndex += 1
        return result
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let value = try current(type)
        let container = try JSONValueDecoder(value: value, parent: decoder, key: currentKey).container(keyedBy: type)
        currentIndex += 1
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let value = try current([JSONValue].self)
        let container = try JSONValueDecoder(value: value, parent: decoder, key: currentKey).unkeyedContainer()
        currentIndex += 1
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let value = try current(JSONValue.self)
        let result = JSONValueDecoder(value: value, parent: decoder, key: currentKey)
        currentIndex += 1
        return result
    }
}
