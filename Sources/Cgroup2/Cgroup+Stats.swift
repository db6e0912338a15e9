import Linux

/// Reading ``CgroupStats`` from a live cgroup.
extension Cgroup {
    /// Reads every statistic this cgroup offers. Never throws: a missing or unreadable file
    /// (controller not enabled, older kernel, cgroup just removed) leaves its part nil.
    public func stats() -> CgroupStats {
        var stats = CgroupStats()
        stats.cpu = optionalText("cpu.stat").map { CPUStats(parsing: $0) }
        stats.memory = memoryStats()
        stats.pids = pidsStats()
        stats.io = optionalText("io.stat").map { IOStats(devices: IODeviceStats.parse(ioStat: $0)) }
        let hugetlb = hugetlbStats()
        stats.hugetlb = hugetlb.isEmpty ? nil : hugetlb
        let pressure = PressureStats(cpu: optionalText("cpu.pressure").flatMap { Pressure(parsing: $0) },
                                     memory: optionalText("memory.pressure").flatMap { Pressure(parsing: $0) },
                                     io: optionalText("io.pressure").flatMap { Pressure(parsing: $0) })
        stats.pressure = pressure == PressureStats() ? nil : pressure
        return stats
    }

    private func optionalText(_ file: String) -> String? { try? read(file) }

    private func optionalNumber(_ file: String) -> UInt64? {
        optionalText(file).flatMap { UInt64($0.trimmingWhitespace) }
    }

    private func optionalLimit(_ file: String) -> CgroupLimit? {
        optionalText(file).flatMap { CgroupLimit(parsing: $0) }
    }

    private func memoryStats() -> MemoryStats? {
        // memory.current exists exactly when the memory controller is enabled for this cgroup.
        guard let current = optionalNumber("memory.current") else { return nil }
        return MemoryStats(current: current, peak: optionalNumber("memory.peak"), max: optionalLimit("memory.max"),
                           swapCurrent: optionalNumber("memory.swap.current"), swapMax: optionalLimit("memory.swap.max"),
                           stat: optionalText("memory.stat").map { MemoryStatCounters(parsing: $0) },
                           events: optionalText("memory.events").map { MemoryEvents(parsing: $0) })
    }

    private func pidsStats() -> PidsStats? {
        guard let current = optionalNumber("pids.current") else { return nil }
        return PidsStats(current: current, max: optionalLimit("pids.max"), peak: optionalNumber("pids.peak"),
                         maxEvents: optionalText("pids.events").flatMap { Cgroup.parseKeyedValues($0)["max"] })
    }

    private func hugetlbStats() -> [HugetlbStats] {
        let sizes = Files.list(directory).compactMap { name -> String? in
            guard name.hasPrefix("hugetlb."), name.hasSuffix(".current"), !name.hasSuffix(".rsvd.current") else { return nil }
            return String(name.dropFirst("hugetlb.".count).dropLast(".current".count))
        }
        return sizes.sorted(by: Cgroup.pageSizeOrder).map { size in
            HugetlbStats(pageSize: size, current: optionalNumber("hugetlb.\(size).current"),
                         max: optionalLimit("hugetlb.\(size).max"),
                         maxEvents: optionalText("hugetlb.\(size).events").flatMap { Cgroup.parseKeyedValues($0)["max"] })
        }
    }

    /// Orders page sizes by bytes: 64KB < 2MB < 1GB.
    static func pageSizeOrder(_ a: String, _ b: String) -> Bool {
        func bytes(_ size: String) -> UInt64 {
            let digits = size.prefix { $0.isASCII && $0.isNumber }
            let shift: UInt64 = switch size.dropFirst(digits.count) { case "KB": 10; case "MB": 20; case "GB": 30; default: 0 }
            return (UInt64(digits) ?? 0) << shift
        }
        return bytes(a) < bytes(b)
    }
}
