/// Field names compared as Go's encoding/json compares them when no name matches exactly:
/// ASCII letters without case, and the two letters Unicode folds onto ASCII ones, the Kelvin
/// sign (U+212A) onto k and the long s (U+017F) onto s.
enum JSONFieldName {
    static func foldsEqual(_ member: String, _ field: String) -> Bool {
        // The folded forms are longer in UTF-8 (3 and 2 bytes for 1): a cheap first filter,
        // since every field of every object is checked against every member.
        let memberLength = member.utf8.count, fieldLength = field.utf8.count
        guard memberLength >= fieldLength && memberLength <= 3 * fieldLength else { return false }
        var folded = member.unicodeScalars.makeIterator()
        for expected in field.unicodeScalars {
            guard let scalar = folded.next(), fold(scalar) == fold(expected) else { return false }
        }
        return folded.next() == nil
    }

    private static func fold(_ scalar: Unicode.Scalar) -> UInt32 {
        switch scalar.value {
        case 0x41...0x5A: scalar.value + 0x20
        case 0x212A: 0x6B
        case 0x17F: 0x73
        default: scalar.value
        }
    }
}
