import BerthCore
import Cgroup2
import Linux
import OCI
import Runtime
import SupervisorAPI

/// `ctr update`: new limits for the running container, kept for every restart after it.
extension Supervisor {
    func update(_ changes: LinuxResources) throws(BerthError) {
        // Checked and applied first: a value the kernel refuses changes nothing anywhere.
        try containers.update(plan.id, resources: changes)
        var spec: Spec
        do { spec = try decodeJSON(Spec.self, from: configBytes) } catch { throw BerthError(.system, "config.json: \(error)") }
        var linux = spec.linux ?? LinuxConfig()
        let merged = (linux.resources ?? LinuxResources()).updated(with: changes)
        linux.resources = merged
        spec.linux = linux
        let bytes: [UInt8]
        do { bytes = try encodeJSONBytes(spec, pretty: true) } catch { throw BerthError(.system, "config.json: \(error)") }
        plan.resources = try CgroupResources.plan(for: merged)
        configBytes = bytes
        try Files.writeAtomically(service.configPath, bytes, mode: 0o600)
        definition.limits = ServiceLimits(resources: merged)
        try service.save(definition)
    }
}

extension LinuxResources {
    /// These resources with every field `changes` sets replaced, as `runc update` merges them.
    func updated(with changes: LinuxResources) -> LinuxResources {
        var result = self
        if let memory = changes.memory {
            var merged = result.memory ?? LinuxMemory()
            merged.limit = memory.limit ?? merged.limit
            merged.reservation = memory.reservation ?? merged.reservation
            merged.swap = memory.swap ?? merged.swap
            result.memory = merged
        }
        if let cpu = changes.cpu {
            var merged = result.cpu ?? LinuxCPU()
            merged.shares = cpu.shares ?? merged.shares
            merged.quota = cpu.quota ?? merged.quota
            merged.period = cpu.period ?? merged.period
            merged.burst = cpu.burst ?? merged.burst
            merged.cpus = cpu.cpus ?? merged.cpus
            merged.mems = cpu.mems ?? merged.mems
            merged.idle = cpu.idle ?? merged.idle
            result.cpu = merged
        }
        result.pids = changes.pids ?? result.pids
        result.blockIO = changes.blockIO ?? result.blockIO
        if let unified = changes.unified { result.unified = (result.unified ?? [:]).merging(unified) { $1 } }
        return result
    }
}

extension ServiceLimits {
    /// What `ctr ps` shows for these resources: memory.max, cpu.max in CPUs, pids.max.
    init(resources: LinuxResources) {
        var cpus: String?
        if let quota = resources.cpu?.quota, quota > 0 {
            // In hundred-thousandths of a CPU, printed without trailing zeros: 50000/100000 → 0.5.
            let period = Int64(resources.cpu?.period ?? 100_000)
            let scaled = quota * 100_000 / max(period, 1)
            var fraction = String(scaled % 100_000)
            fraction = String(repeating: "0", count: 5 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            cpus = "\(scaled / 100_000)" + (fraction.isEmpty ? "" : "." + fraction)
        }
        let memory = resources.memory?.limit.flatMap { $0 > 0 ? $0 : nil }
        let pids = resources.pids.flatMap { $0.limit > 0 ? $0.limit : nil }
        self.init(memoryBytes: memory, cpus: cpus, pids: pids)
    }
}
