import BerthCore
import Linux

/// Service names become directory names under --root, and ctr uses them as container ids and
/// hostnames: `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 64 bytes.
public enum ServiceName {
    public static let maximumLength = 64

    public static func validate(_ name: String, label: String = "--name") throws(BerthError) {
        guard !name.isEmpty else { throw BerthError(.invalidArgument, "\(label): a name must not be empty") }
        guard name.utf8.count <= maximumLength else {
            throw BerthError(.invalidArgument, "\(label) \"\(name)\": longer than \(maximumLength) characters")
        }
        for (index, byte) in name.utf8.enumerated() {
            let alphanumeric = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            let punctuation = byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            guard alphanumeric || (index > 0 && punctuation) else {
                throw BerthError(.invalidArgument, "\(label) \"\(name)\": use letters, digits and _ . - only, starting with a letter or digit (e.g. web-1)")
            }
        }
    }
}
