import BerthCore
import Linux
import OCI

/// Maps `linux.resources` from config.json to cgroup v2 control-file writes. Pure: it reads no
/// file, so every rule is unit-tested; ``Cgroup/apply(_:)-(LinuxResources)`` does the I/O.
///
/// Anything cgroup v2 cannot honour is refused with `.invalidConfig` naming the JSON path,
/// rather than silently dropped: a container that asked for a limit must not run without it.
/// docs/cgroups.md has the full table.
public enum CgroupResources {
    /// The controllers Berth knows, in the order it enables them.
    public static let knownControllers = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]

    static let unifiedField = "linux.resources.unified"

    /// The controller owning a control file: the part before the first dot, if it is one.
    public static func controller(ofFile file: String) -> String? {
        guard let dot = file.firstIndex(of: ".") else { return nil }
        let prefix = String(file[..<dot])
        return knownControllers.contains(prefix) ? prefix : nil
    }

    /// The writes for `resources`, in apply order: cpuset first (the other controllers'
    /// placement may depend on it), then memory, cpu, io, pids, hugetlb, rdma, and the
    /// `unified` entries last. A `unified` key that a typed field also sets wins: the typed
    /// write is dropped (runc writes both, unified last, with the same result).
    /// `devices` become a device program (``DeviceProgram``), compiled here, with the defaults
    /// appended; cgroup v2 controls devices with eBPF, not files.
    public static func plan(for resources: LinuxResources) throws(BerthError) -> CgroupResourcePlan {
        var writes: [CgroupWrite] = []
        if let cpu = resources.cpu { writes += try cpusetWrites(cpu) }
        if let memory = resources.memory { writes += try memoryWrites(memory) }
        if let cpu = resources.cpu { writes += try cpuWrites(cpu) }
        if let blockIO = resources.blockIO { writes += try blockIOWrites(blockIO) }
        if let pids = resources.pids { writes += pidsWrites(pids) }
        if let limits = resources.hugepageLimits { writes += try hugetlbWrites(limits) }
        if let network = resources.network { try checkNetwork(network) }
        if let rdma = resources.rdma { writes += try rdmaWrites(rdma) }
        if let unified = resources.unified {
            let unifiedWrites = try unifiedWrites(unified)
            let overridden = Set(unifiedWrites.map(\.file))
            writes.removeAll { overridden.contains($0.file) || ($0.fallback.map { overridden.contains($0.file) } ?? false) }
            writes += unifiedWrites
        }
        let devices = DeviceProgram.compile(try DeviceRule.rules(for: resources.devices))
        let memoryCheck = resources.memory.flatMap { memory in
            memory.checkBeforeUpdate == true ? CgroupResourcePlan.MemoryCheck(limit: memory.limit ?? 0, swap: memory.swap ?? 0) : nil
        }
        return CgroupResourcePlan(writes: writes, memoryCheck: memoryCheck, devices: devices)
    }

    // MARK: memory

    static func memoryWrites(_ memory: LinuxMemory) throws(BerthError) -> [CgroupWrite] {
        let path = "linux.resources.memory"
        if let kernel = memory.kernel, kernel != 0, kernel != -1 {
            throw BerthError(.invalidConfig, "\(path).kernel: kernel memory limits are not supported on cgroup v2 (kernel memory is charged to memory.max)")
        }
        if let kernelTCP = memory.kernelTCP, kernelTCP != 0, kernelTCP != -1 {
            throw BerthError(.invalidConfig, "\(path).kernelTCP: kernel TCP buffer limits are not supported on cgroup v2 (socket buffers are charged to memory.max)")
        }
        if let swappiness = memory.swappiness {
            throw BerthError(.invalidConfig, "\(path).swappiness: \(swappiness) is not supported on cgroup v2, which has no per-cgroup swappiness (set swap equal to limit to forbid swapping)")
        }
        if memory.disableOOMKiller == true {
            throw BerthError(.invalidConfig, "\(path).disableOOMKiller: not supported on cgroup v2: the OOM killer cannot be turned off for a cgroup")
        }
        if memory.useHierarchy == false {
            throw BerthError(.invalidConfig, "\(path).useHierarchy: false is not supported on cgroup v2, which is always hierarchical")
        }
        var writes: [CgroupWrite] = []
        if let low = try bytes(memory.reservation, "\(path).reservation") {
            writes.append(CgroupWrite("memory.low", low, field: "\(path).reservation"))
        }
        // swap before max: when a lower memory.max makes the kernel reclaim, the new swap limit
        // already bounds how much of that goes to swap.
        if let swap = try swapMax(swap: memory.swap, limit: memory.limit) {
            writes.append(CgroupWrite("memory.swap.max", swap, field: "\(path).swap"))
        }
        if let max = try bytes(memory.limit, "\(path).limit") {
            writes.append(CgroupWrite("memory.max", max, field: "\(path).limit"))
        }
        return writes
    }

    /// A memory byte value: -1 → `max`, nil or 0 → not written (unset, as in runc).
    static func bytes(_ value: Int64?, _ field: String) throws(BerthError) -> String? {
        guard let value, value != 0 else { return nil }
        if value == -1 { return "max" }
        if value < 0 { throw BerthError(.invalidConfig, "\(field): \(value) is neither -1 (unlimited) nor a byte count") }
        return String(value)
    }

    // MARK: cpu

    static func cpusetWrites(_ cpu: LinuxCPU) throws(BerthError) -> [CgroupWrite] {
        var writes: [CgroupWrite] = []
        for (name, list, file) in [("cpus", cpu.cpus, "cpuset.cpus"), ("mems", cpu.mems, "cpuset.mems")] {
            guard let list, !list.isEmpty else { continue }
            guard isValidCPUList(list) else {
                throw BerthError(.invalidConfig, "linux.resources.cpu.\(name): \"\(list)\" is not a list such as 0-3,7")
            }
            writes.append(CgroupWrite(file, list, field: "linux.resources.cpu.\(name)"))
        }
        return writes
    }

    static func cpuWrites(_ cpu: LinuxCPU) throws(BerthError) -> [CgroupWrite] {
        let path = "linux.resources.cpu"
        if let runtime = cpu.realtimeRuntime, runtime != 0 {
            throw BerthError(.invalidConfig, "\(path).realtimeRuntime: real-time CPU limits are not supported on cgroup v2")
        }
        if let period = cpu.realtimePeriod, period != 0 {
            throw BerthError(.invalidConfig, "\(path).realtimePeriod: real-time CPU limits are not supported on cgroup v2")
        }
        var weight: CgroupWrite?
        if let shares = cpu.shares, shares != 0 {
            weight = CgroupWrite("cpu.weight", String(cpuWeight(shares: shares)), field: "\(path).shares")
        }
        var idle: CgroupWrite?
        if let value = cpu.idle {
            guard value == 0 || value == 1 else {
                throw BerthError(.invalidConfig, "\(path).idle: \(value) is neither 0 nor 1")
            }
            idle = CgroupWrite("cpu.idle", String(value), field: "\(path).idle")
        }
        // The kernel refuses a weight for an idle cgroup: leave idle first, enter it last.
        var writes: [CgroupWrite] = cpu.idle == 1 ? [weight, idle].compactMap { $0 } : [idle, weight].compactMap { $0 }

        let quota = cpu.quota ?? 0
        let period = cpu.period ?? 0
        if quota < -1 {
            throw BerthError(.invalidConfig, "\(path).quota: \(quota) is neither -1 (unlimited) nor a time in microseconds")
        }
        if quota > 0 && quota < 1000 {
            throw BerthError(.invalidConfig, "\(path).quota: \(quota) is below the kernel's minimum of 1000 microseconds")
        }
        if period != 0 && !(1000...1_000_000).contains(period) {
            throw BerthError(.invalidConfig, "\(path).period: \(period) is outside the kernel's range of 1000-1000000 microseconds")
        }
        if quota != 0 || period != 0 {
            // Unset quota with a period, or -1, is "max"; an unset period is the kernel default.
            let limit = quota > 0 ? String(quota) : "max"
            let field = quota != 0 ? "\(path).quota" : "\(path).period"
            writes.append(CgroupWrite("cpu.max", "\(limit) \(period == 0 ? 100_000 : period)", field: field))
        }
        if let burst = cpu.burst {
            if quota > 0 && burst > UInt64(quota) {
                throw BerthError(.invalidConfig, "\(path).burst: \(burst) exceeds linux.resources.cpu.quota \(quota)")
            }
            writes.append(CgroupWrite("cpu.max.burst", String(burst), field: "\(path).burst"))
        }
        return writes
    }

    // MARK: pids

    /// runc 1.5's mapping: a negative limit is `max`, and 0 is 1, as systemd's TasksMax cannot
    /// be 0 and runc keeps its two cgroup drivers alike (the kernel treats both nearly the same:
    /// a container with pids.max 1 cannot fork).
    static func pidsWrites(_ pids: LinuxPids) -> [CgroupWrite] {
        let value = pids.limit > 0 ? String(pids.limit) : pids.limit == 0 ? "1" : "max"
        return [CgroupWrite("pids.max", value, field: "linux.resources.pids.limit")]
    }
}
