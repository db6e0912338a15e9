/// One write to a cgroup v2 control file, planned by ``CgroupResources/plan(for:)``.
public struct CgroupWrite: Sendable, Equatable, CustomStringConvertible {
    /// The control file, relative to the cgroup directory: `memory.max`.
    public var file: String
    /// What to write, in one write(2): `max`, `8:0 rbps=1048576 wiops=max`.
    public var value: String
    /// The config.json path this write comes from, for errors: `linux.resources.memory.limit`.
    public var field: String
    /// Written instead when `file` does not exist in the cgroup. Block I/O weights use it:
    /// `io.weight` (io.cost) when the kernel has it, else `io.bfq.weight` (the BFQ scheduler).
    public var fallback: Fallback?

    public struct Fallback: Sendable, Equatable {
        public var file: String
        public var value: String

        public init(file: String, value: String) {
            self.file = file
            self.value = value
        }
    }

    public init(_ file: String, _ value: String, field: String, fallback: Fallback? = nil) {
        self.file = file
        self.value = value
        self.field = field
        self.fallback = fallback
    }

    /// The controller that owns `file` (`memory` for `memory.swap.max`), nil for core files
    /// (`cgroup.max.depth`) and unknown prefixes.
    public var controller: String? { CgroupResources.controller(ofFile: file) }

    /// True for a write that comes from `linux.resources.unified`.
    public var isUnified: Bool { field.hasPrefix(CgroupResources.unifiedField) }

    public var description: String {
        var text = "\(file) <- \"\(value)\""
        if let fallback { text += " (else \(fallback.file) <- \"\(fallback.value)\")" }
        return text
    }
}

/// What `linux.resources` asks of a cgroup v2 directory: the writes, in order, and the
/// controllers they need enabled in every ancestor's `cgroup.subtree_control`.
public struct CgroupResourcePlan: Sendable, Equatable {
    /// The writes in the order ``Cgroup/apply(_:)-(CgroupResourcePlan)`` makes them.
    public var writes: [CgroupWrite]
    /// `linux.resources.memory.checkBeforeUpdate`, with the values it checks.
    public var memoryCheck: MemoryCheck?
    /// `linux.resources.devices` with the default devices, compiled: the device program the
    /// container runs under. Attached by ``Cgroup/attachDeviceProgram(_:)``, not by `apply`.
    public var devices: DeviceProgram?

    /// What checkBeforeUpdate compares with memory.current, as runc does: the config's memory
    /// limit and its memory+swap total (0 or -1 when unset or unlimited: not checked). A positive
    /// one that does not exceed the usage is refused.
    public struct MemoryCheck: Sendable, Equatable {
        public var limit: Int64
        public var swap: Int64

        public init(limit: Int64 = 0, swap: Int64 = 0) {
            self.limit = limit
            self.swap = swap
        }
    }

    public init(writes: [CgroupWrite] = [], memoryCheck: MemoryCheck? = nil, devices: DeviceProgram? = nil) {
        self.writes = writes
        self.memoryCheck = memoryCheck
        self.devices = devices
    }

    public var checkMemoryBeforeUpdate: Bool { memoryCheck != nil }

    /// The controllers the writes need, in ``CgroupResources/knownControllers`` order.
    public var controllers: [String] {
        let needed = Set(writes.compactMap(\.controller))
        return CgroupResources.knownControllers.filter { needed.contains($0) }
    }

    /// The first write that needs `controller`, to name a config field in errors.
    public func firstWrite(needing controller: String) -> CgroupWrite? {
        writes.first { $0.controller == controller }
    }

    /// The value planned for `file`, if any (the last write to it): handy in tests and `update`.
    public func value(of file: String) -> String? {
        writes.last { $0.file == file }?.value
    }

    /// Every value planned for `file`, in order: io.max and io.weight take one device a write.
    public func values(of file: String) -> [String] {
        writes.filter { $0.file == file }.map(\.value)
    }
}
