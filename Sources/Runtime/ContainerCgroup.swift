import BerthCore
import Cgroup2
import Glibc
import Linux
import OCI

/// Operations on a container's cgroup: pause, resume, update, stats, processes.
extension Containers {
    /// The container's cgroup, for a container in one of `allowed` states.
    func cgroup(of id: String, allowed: Set<ContainerStatus>, for action: String) throws(BerthError) -> (Cgroup, ContainerRecord) {
        guard let record = try store.load(id) else { throw BerthError(.invalidState, "container \"\(id)\" is still being created") }
        let status = store.status(of: record, id: id)
        guard allowed.contains(status) else { throw BerthError(.invalidState, "container \"\(id)\" is \(status.rawValue): cannot \(action) it") }
        guard let location = record.cgroup else {
            throw BerthError(.unsupported, "container \"\(id)\" has no cgroup (the host had no cgroup2 mount when it was created)")
        }
        return (Cgroup(root: location.root, path: location.path), record)
    }

    /// Freezes every process of a running container (cgroup.freeze), waiting until it is frozen.
    public func pause(_ id: String) throws(BerthError) {
        let lock = try store.lock(id)
        defer { lock.close() }
        try cgroup(of: id, allowed: [.running], for: "pause").0.freeze()
    }

    public func resume(_ id: String) throws(BerthError) {
        let lock = try store.lock(id)
        defer { lock.close() }
        try cgroup(of: id, allowed: [.paused], for: "resume").0.thaw()
    }

    /// Changes a live container's limits. Only the fields set in `resources` change: the other
    /// half of a two-value file (cpu.max's quota and period) is read from the cgroup and kept.
    /// `devices`, when given, replace the container's device rules (the defaults still apply):
    /// the new program is attached before the old one goes. A value the kernel refuses
    /// (memory.max below what the container uses and cannot reclaim) is an error naming its field.
    public func update(_ id: String, resources: LinuxResources) throws(BerthError) {
        let lock = try store.lock(id)
        defer { lock.close() }
        let group = try cgroup(of: id, allowed: [.created, .running, .paused], for: "update").0
        let plan = try CgroupResources.plan(for: CgroupResources.completing(resources, current: group.currentLimits()))
        // Devices first: a program the kernel refuses then leaves every limit as it was.
        if resources.devices != nil, let devices = plan.devices { try group.attachDeviceProgram(devices) }
        try group.apply(plan)
    }

    /// One statistics sample of a live container.
    public func stats(_ id: String) throws(BerthError) -> CgroupStats {
        try cgroup(of: id, allowed: [.created, .running, .paused], for: "read statistics of").0.stats()
    }

    /// The pids (as the host sees them) of every process in the container.
    public func processes(_ id: String) throws(BerthError) -> [pid_t] {
        // Stopped too, as runc: without a pid namespace of its own, a stopped container's
        // children may live on in its cgroup.
        try cgroup(of: id, allowed: [.created, .running, .paused, .stopped], for: "list processes of").0.processes()
    }

    /// Whether the container is still alive, for `events` to know when to stop.
    public func isAlive(_ id: String) -> Bool {
        guard let record = try? store.load(id) else { return false }
        return store.status(of: record, id: id) != .stopped
    }

    /// The OOM kill count of the container's cgroup (memory.events oom_kill).
    public func oomKills(_ id: String) -> UInt64 {
        guard let record = try? store.load(id), let location = record.cgroup else { return 0 }
        return (try? Cgroup(root: location.root, path: location.path).keyedValues("memory.events"))?["oom_kill"] ?? 0
    }
}

/// Removes a container's cgroup and the parents its create made; the default parent `berth` is
/// removed too once empty, whichever container made it (rmdir fails harmlessly while it is not).
func removeContainerCgroup(_ cgroup: Cgroup, created: Int, id: String) throws(BerthError) {
    try cgroup.remove(createdAncestors: created - 1)
    if cgroup.path == LaunchPlan.defaultCgroupParent + "/" + id {
        _ = Glibc.rmdir(cgroup.root + "/" + LaunchPlan.defaultCgroupParent)
    }
}

extension LaunchPlan {
    /// The device program the container starts under: linux.resources.devices with the defaults,
    /// and mknod of its own linux.devices nodes, which the init makes inside the cgroup.
    var deviceProgram: DeviceProgram? {
        resources.devices?.allowingCreation(of: devices.compactMap { node in
            switch node.fileType {
            case UInt32(S_IFCHR): (.char, node.major, node.minor)
            case UInt32(S_IFBLK): (.block, node.major, node.minor)
            default: nil
            }
        })
    }
}
