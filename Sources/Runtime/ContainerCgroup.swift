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

    /// Changes a live container's limits. Only the fields set in `resources` change; a value the
    /// kernel refuses (memory.max below what the container uses and cannot reclaim) is an error
    /// naming its field.
    public func update(_ id: String, resources: LinuxResources) throws(BerthError) {
        let plan = try CgroupResources.plan(for: resources)
        let lock = try store.lock(id)
        defer { lock.close() }
        try cgroup(of: id, allowed: [.created, .running, .paused], for: "update").0.apply(plan)
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
