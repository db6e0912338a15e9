import Linux
import OCI

/// `update` changes only what it names, but some cgroup v2 files hold two settings at once.
extension CgroupResources {
    /// The cgroup's current values that a partial update must keep: the raw text of cpu.max and
    /// memory.max, nil when the file is missing or unreadable.
    public struct CurrentLimits: Sendable, Equatable {
        public var cpuMax: String?
        public var memoryMax: String?

        public init(cpuMax: String? = nil, memoryMax: String? = nil) {
            self.cpuMax = cpuMax
            self.memoryMax = memoryMax
        }
    }

    /// `update` with the halves it leaves out taken from the cgroup, so that the plan writes what
    /// the cgroup has for them instead of defaults:
    /// - cpu.max holds quota and period: a new period alone keeps the quota (`500000 900000`, not
    ///   `max 900000`), a new quota alone keeps the period (runc's update does the same);
    /// - a memory+swap limit alone is relative to the current memory.max (swap.max = swap − it),
    ///   where the plan alone would refuse it for want of a memory limit (runc refuses it); -1
    ///   (unlimited swap) needs no memory limit.
    /// A new memory limit alone leaves memory.swap.max as it is, as runc does: the swap amount is
    /// kept, not the memory+swap total. A 0 counts as not given, as in the plan.
    public static func completing(_ update: LinuxResources, current: CurrentLimits) -> LinuxResources {
        var completed = update
        if var cpu = update.cpu {
            let quotaGiven = (cpu.quota ?? 0) != 0, periodGiven = (cpu.period ?? 0) != 0
            if quotaGiven != periodGiven, let (quota, period) = current.cpuMax.flatMap(parseCPUMax) {
                if quotaGiven { cpu.period = period } else { cpu.quota = quota }
                completed.cpu = cpu
            }
        }
        if var memory = update.memory, (memory.swap ?? 0) > 0, (memory.limit ?? 0) == 0,
           let text = current.memoryMax?.trimmingWhitespace {
            if text == "max" {
                memory.limit = -1
            } else if let bytes = Int64(text) {
                memory.limit = bytes
            }
            completed.memory = memory
        }
        return completed
    }

    /// `QUOTA PERIOD` from cpu.max: quota -1 for `max`.
    static func parseCPUMax(_ text: String) -> (quota: Int64, period: UInt64)? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 2, let period = UInt64(parts[1]) else { return nil }
        if parts[0] == "max" { return (-1, period) }
        guard let quota = Int64(parts[0]) else { return nil }
        return (quota, period)
    }
}

extension Cgroup {
    /// What ``CgroupResources/completing(_:current:)`` needs from this cgroup.
    public func currentLimits() -> CgroupResources.CurrentLimits {
        CgroupResources.CurrentLimits(cpuMax: try? read("cpu.max"), memoryMax: try? read("memory.max"))
    }
}
