/// A mount inside the container (`mounts[]`).
public struct Mount: Codable, Sendable, Equatable {
    /// Absolute path of the mount point inside the container.
    public var destination: String
    /// Filesystem type (`proc`, `tmpfs`, `bind`, ...).
    public var type: String?
    /// Device name, directory or dummy string.
    public var source: String?
    /// mount(8) options (`nosuid`, `rbind`, `mode=755`, ...).
    public var options: [String]?
    /// User ID mapping for an idmapped mount.
    public var uidMappings: [LinuxIDMapping]?
    /// Group ID mapping for an idmapped mount.
    public var gidMappings: [LinuxIDMapping]?

    /// Memberwise initializer; every parameter has a default, so call sites name only
    /// the fields they set.
    public init(
        destination: String = "",
        type: String? = nil,
        source: String? = nil,
        options: [String]? = nil,
        uidMappings: [LinuxIDMapping]? = nil,
        gidMappings: [LinuxIDMapping]? = nil
    ) {
        self.destination = destination
        self.type = type
        self.source = source
        self.options = options
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
    }
}
