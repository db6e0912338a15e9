import BerthCore
import Linux
import OCI

/// What the init and every exec'd process set on themselves before taking on the process's
/// identity, in runc's order: the scheduler, the I/O priority, the personality and the memory
/// policy. Each survives execve, so the process runs with it from its first instruction.
struct ProcessAttributes {
    var scheduler: SchedulerAttributes?
    var ioPriority: Int32?
    var personality: UInt?
    var memoryPolicy: LaunchPlan.MemoryPolicy?

    init(process: LaunchPlan.ProcessPlan, personality: UInt?, memoryPolicy: LaunchPlan.MemoryPolicy?) {
        scheduler = process.scheduler
        ioPriority = process.ioPriority
        self.personality = personality
        self.memoryPolicy = memoryPolicy
    }

    func apply<Kernel: KernelCalls>(_ kernel: Kernel) throws(BerthError) {
        if let scheduler {
            do { try kernel.setScheduler(scheduler) } catch { throw error.prefixed("process.scheduler") }
        }
        if let ioPriority {
            do { try kernel.setIOPriority(ioPriority) } catch { throw error.prefixed("process.ioPriority") }
        }
        if let personality {
            do { try kernel.setPersonality(personality) } catch { throw error.prefixed("linux.personality") }
        }
        try memoryPolicy?.apply(kernel)
    }
}

extension LaunchPlan {
    /// `process.scheduler`, checked as runc checks it and as sched_setattr(2) would, so that a
    /// value the kernel refuses is an error naming its field before anything is created.
    static func scheduler(_ scheduler: Scheduler?, label: String) throws(BerthError) -> SchedulerAttributes? {
        guard let scheduler else { return nil }
        let label = "\(label).scheduler"
        let name = scheduler.policy.rawValue
        guard let policy = SchedulerAttributes.policies[name] else { throw BerthError(.invalidConfig, "\(label).policy: unknown policy \"\(name)\"") }
        if scheduler.policy == .iso { throw BerthError(.invalidConfig, "\(label).policy: SCHED_ISO is reserved, and Linux does not implement it") }
        var flags: UInt64 = 0
        for (index, flag) in (scheduler.flags ?? []).enumerated() {
            guard let value = SchedulerAttributes.flagValues[flag.rawValue] else {
                throw BerthError(.invalidConfig, "\(label).flags[\(index)]: unknown flag \"\(flag.rawValue)\"")
            }
            flags |= value
        }
        let nice = scheduler.nice ?? 0, priority = scheduler.priority ?? 0
        let runtime = scheduler.runtime ?? 0, deadline = scheduler.deadline ?? 0, period = scheduler.period ?? 0
        // Only the fair policies use it; the kernel clamps it for the others (runc checks the same).
        if (scheduler.policy == .other || scheduler.policy == .batch) && (nice < -20 || nice > 19) {
            throw BerthError(.invalidConfig, "\(label).nice: \(nice) is outside -20...19")
        }
        let realtime = scheduler.policy == .fifo || scheduler.policy == .roundRobin
        if realtime && (priority < 1 || priority > 99) {
            throw BerthError(.invalidConfig, "\(label).priority: \(priority) is outside 1...99, the static priorities of \(name)")
        }
        if !realtime && priority != 0 { throw BerthError(.invalidConfig, "\(label).priority: only SCHED_FIFO and SCHED_RR take a priority") }
        if scheduler.policy == .deadline {
            // The kernel's rules (sched/deadline.c): runtime <= deadline <= period (0: the deadline),
            // and a runtime of at least 1024 ns.
            if runtime < 1024 { throw BerthError(.invalidConfig, "\(label).runtime: \(runtime) ns is below the kernel's minimum of 1024 ns") }
            if deadline < runtime { throw BerthError(.invalidConfig, "\(label).deadline: \(deadline) ns is shorter than the runtime (\(runtime) ns)") }
            if period != 0 && period < deadline { throw BerthError(.invalidConfig, "\(label).period: \(period) ns is shorter than the deadline (\(deadline) ns)") }
        } else if runtime != 0 || deadline != 0 || period != 0 {
            throw BerthError(.invalidConfig, "\(label): runtime, deadline and period are for SCHED_DEADLINE only")
        }
        return SchedulerAttributes(policy: policy, flags: flags, nice: nice, priority: UInt32(priority), runtime: runtime, deadline: deadline, period: period)
    }
}

extension LaunchPlan {
    /// `process.ioPriority` as ioprio_set(2) takes it: the class in the top bits, the level below.
    static func ioPriority(_ priority: IOPriority?, label: String) throws(BerthError) -> Int32? {
        guard let priority else { return nil }
        guard (0...7).contains(priority.priority) else {
            throw BerthError(.invalidConfig, "\(label).ioPriority.priority: \(priority.priority) is outside 0...7")
        }
        let classes: [IOPriorityClass: Int32] = [.realtime: 1, .bestEffort: 2, .idle: 3]
        return classes[priority.class, default: 0] << 13 | Int32(priority.priority)
    }

    /// `linux.personality` as personality(2) takes it. The runtime-spec defines no flags yet:
    /// runc warns about any and ignores them, and so does berth.
    static func personality(_ personality: LinuxPersonality?) -> UInt? {
        guard let personality else { return nil }
        if let flags = personality.flags, !flags.isEmpty {
            warn("linux.personality.flags: ignoring \(flags.map(ErrorText.short).joined(separator: ", ")), the runtime-spec defines no flags")
        }
        // PER_LINUX and PER_LINUX32 of linux/personality.h.
        return personality.domain == .linux32 ? 0x0008 : 0x0000
    }

    /// `process.execCPUAffinity`: CPU lists (`0-3,7`) as masks, nil for an empty or absent one.
    /// Parsed as runc parses them: spaces around elements and empty elements are allowed.
    static func cpuAffinity(_ affinity: CPUAffinity?, label: String) throws(BerthError) -> ProcessPlan.Affinity {
        func mask(_ text: String?, _ field: String) throws(BerthError) -> [UInt]? {
            guard let text, !text.allSatisfy({ $0 == " " || $0 == "," }) else { return nil }
            return try IDList.mask(text, below: ThreadAffinity.maxCPU, lenient: true, what: "CPU", label: "\(label).execCPUAffinity.\(field)")
        }
        return ProcessPlan.Affinity(initial: try mask(affinity?.initial, "initial"), final: try mask(affinity?.final, "final"))
    }
}

/// Lists of CPU or node numbers (`0-3,7`), as cpusets and set_mempolicy(2) take them.
enum IDList {
    /// The list as a bit mask with one bit per id below `limit`, sized to the highest id.
    /// `lenient` takes runc's CPU list grammar: spaces around an element and empty elements.
    static func mask(_ text: String, below limit: Int, lenient: Bool, what: String, label: String) throws(BerthError) -> [UInt] {
        var mask: [UInt] = []
        for element in text.split(separator: ",", omittingEmptySubsequences: false) {
            let part = lenient ? element.trimmingSpaces : element
            if part.isEmpty && (lenient || text.isEmpty) { continue }
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard let low = bounds.first.flatMap({ Int($0) }), let high = bounds.count == 2 ? Int(bounds[1]) : low,
                  low >= 0, low <= high, high < limit, bounds.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else {
                throw BerthError(.invalidConfig, "\(label): \"\(ErrorText.short(String(part)))\" is not a \(what) or a range of \(what)s below \(limit)")
            }
            if mask.count <= high / 64 { mask += [UInt](repeating: 0, count: high / 64 + 1 - mask.count) }
            for id in low...high { mask[id / 64] |= 1 << UInt(id % 64) }
        }
        return mask
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var part = self
        while part.first == " " { part = part.dropFirst() }
        while part.last == " " { part = part.dropLast() }
        return part
    }
}

extension LaunchPlan.ProcessPlan.Affinity {
    /// In exec's parent, before clone: the initial mask, for the child to inherit. Returns the
    /// caller's own mask, to restore once the child exists.
    func enterInitial() throws(BerthError) -> [UInt]? {
        guard let initial else { return nil }
        let own = try ThreadAffinity.current()
        try ThreadAffinity.set(initial, describing: "process.execCPUAffinity.initial")
        return own
    }

    /// In the exec'd process, inside the container's cgroup: the final mask; with neither mask
    /// configured, every CPU, so that the caller's affinity (`taskset -c 0 berth exec`) is not
    /// inherited. That reset is best effort, as in runc.
    func applyFinal<Kernel: KernelCalls>(_ kernel: Kernel) throws(BerthError) {
        if let final {
            try kernel.setCPUAffinity(final, describing: "process.execCPUAffinity.final")
        } else if initial == nil {
            try? kernel.setCPUAffinity(ThreadAffinity.everyCPU, describing: nil)
        }
    }
}
