import BerthCore
import Linux

/// Container IDs become directory names and cgroup names, so they are held to
/// `[A-Za-z0-9_+-][A-Za-z0-9_+.-]*`: no slash, no `..`, no hidden names.
public enum ContainerID {
    public static let maximumLength = 1024

    public static func validate(_ id: String) throws(BerthError) {
        guard !id.isEmpty else { throw BerthError(.invalidArgument, "container id: must not be empty") }
        guard id.utf8.count <= maximumLength else {
            throw BerthError(.invalidArgument, "container id: longer than \(maximumLength) bytes")
        }
        for (index, byte) in id.utf8.enumerated() {
            let allowed = isAlphanumeric(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "-") || (index > 0 && byte == UInt8(ascii: "."))
            if !allowed {
                throw BerthError(.invalidArgument, "container id \"\(id)\": only letters, digits and _ + - . are allowed, and it may not start with .")
            }
        }
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
    }
}
