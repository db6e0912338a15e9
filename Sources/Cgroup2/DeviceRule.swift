import BerthCore
import Linux
import OCI

/// One device access rule, checked: what ``DeviceProgram`` compiles. Built from
/// `linux.resources.devices[]` by ``DeviceRule/rules(for:)``, which also appends the defaults.
public struct DeviceRule: Hashable, Sendable, CustomStringConvertible {
    /// The kernel's device types (`BPF_DEVCG_DEV_*`), nil for all types.
    public enum Kind: UInt32, Hashable, Sendable {
        case block = 1
        case char = 2
    }

    /// The kernel's access bits (`BPF_DEVCG_ACC_*`), as the device program sees them in the
    /// upper half of `access_type`.
    public struct Access: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let mknod = Access(rawValue: 1)
        public static let read = Access(rawValue: 2)
        public static let write = Access(rawValue: 4)
        public static let all: Access = [.read, .write, .mknod]

        /// `rw`, `m`... in the order r, w, m.
        public var letters: String {
            (contains(.read) ? "r" : "") + (contains(.write) ? "w" : "") + (contains(.mknod) ? "m" : "")
        }
    }

    public var allow: Bool
    public var kind: Kind?
    /// nil matches every major (config.json: absent or -1).
    public var major: UInt32?
    public var minor: UInt32?
    public var access: Access

    public init(allow: Bool, kind: Kind?, major: UInt32?, minor: UInt32?, access: Access) {
        self.allow = allow
        self.kind = kind
        self.major = major
        self.minor = minor
        self.access = access
    }

    /// The devices cgroup v1 syntax, `allow c 1:3 rwm`, for docs and test messages.
    public var description: String {
        let type = kind.map { $0 == .char ? "c" : "b" } ?? "a"
        return "\(allow ? "allow" : "deny") \(type) \(major.map(String.init) ?? "*"):\(minor.map(String.init) ?? "*") \(access.letters)"
    }

    /// The devices every container may use whatever its rules say, as runc 1.1 grants them
    /// (libcontainer/specconv AllowedDevices): null, random, full, tty, zero, urandom, the pts
    /// devices (136:*), ptmx (5:2) and tun (10:200), read, write and mknod. runc's list starts
    /// with mknod of every char and block device (`c *:* m`, `b *:* m`); berth leaves those
    /// out, so a container cannot make a node of a device it may not open, which a host
    /// process outside the container could use from a bind-mounted directory.
    public static let defaults: [DeviceRule] = [
        (1, 3), (1, 8), (1, 7), (5, 0), (1, 5), (1, 9), (136, nil), (5, 2), (10, 200),
    ].map { major, minor in DeviceRule(allow: true, kind: .char, major: major, minor: minor, access: .all) }

    /// The rules a container's device program enforces: `linux.resources.devices` in order, then
    /// ``defaults``, as runc appends them, so that no rule can take /dev/null away. Absent or
    /// empty rules leave the defaults alone: everything else is denied either way.
    public static func rules(for configured: [LinuxDeviceCgroup]?) throws(BerthError) -> [DeviceRule] {
        var rules: [DeviceRule] = []
        for (index, entry) in (configured ?? []).enumerated() {
            rules.append(try DeviceRule(entry, field: "linux.resources.devices[\(index)]"))
        }
        return rules + defaults
    }

    /// Checks one config.json rule. Access must name at least one of r, w and m (runc refuses an
    /// empty one too); majors and minors are -1 (any) or a Linux device number's part.
    init(_ entry: LinuxDeviceCgroup, field: String) throws(BerthError) {
        var access: Access = []
        for letter in entry.access ?? "" {
            switch letter {
            case "r": access.insert(.read)
            case "w": access.insert(.write)
            case "m": access.insert(.mknod)
            default:
                throw BerthError(.invalidConfig, "\(field).access: \"\(entry.access ?? "")\" may contain only r, w and m")
            }
        }
        if access.isEmpty {
            throw BerthError(.invalidConfig, "\(field).access: must list at least one of r, w and m")
        }
        let kind: Kind?
        switch entry.type {
        case .char: kind = .char
        case .block: kind = .block
        case .all, nil: kind = nil
        }
        self.init(allow: entry.allow, kind: kind,
                  major: try Self.number(entry.major, limit: 1 << 12, "\(field).major"),
                  minor: try Self.number(entry.minor, limit: 1 << 20, "\(field).minor"), access: access)
    }

    /// A major (12 bits) or minor (20 bits): nil or -1 mean any.
    static func number(_ value: Int64?, limit: Int64, _ field: String) throws(BerthError) -> UInt32? {
        guard let value, value != -1 else { return nil }
        guard (0..<limit).contains(value) else {
            throw BerthError(.invalidConfig, "\(field): \(value) is neither -1 (any) nor a device number below \(limit)")
        }
        return UInt32(value)
    }
}
