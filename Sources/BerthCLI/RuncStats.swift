import BerthCore
import Cgroup2
import Linux
import OCI

/// The `data` of a `stats` event in runc's layout (runc's types.Stats, as its cgroup v2 code
/// fills it), so that `runc events` consumers and containerd's metrics parse berth's: cpu,
/// memory, pids, blkio, hugetlb, intel_rdt, network_interfaces. berth's own fields follow in the
/// same objects under names runc does not use (memory.current, memory.events, pids.peak...), and
/// then objects runc has not: io, pressure.
enum RuncStats {
    /// `processCount` stands in for pids.current where the pids controller is not enabled, as
    /// runc counts cgroup.procs there.
    static func data(_ stats: CgroupStats, processCount: Int) throws(BerthError) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        members.append(("cpu", try cpu(stats.cpu)))
        if let memory = stats.memory { members.append(("memory", try self.memory(memory))) }
        members.append(("pids", try pids(stats.pids, processCount: processCount)))
        members.append(("blkio", blkio(stats.io)))
        members.append(("hugetlb", hugetlb(stats.hugetlb ?? [])))
        members.append(("intel_rdt", .object([])))
        members.append(("network_interfaces", .null))
        if let io = stats.io { members.append(("io", try encoded(io))) }
        if let pressure = stats.pressure { members.append(("pressure", try encoded(pressure))) }
        return .object(members)
    }

    /// runc's times are nanoseconds; cpu.stat's microseconds.
    static func cpu(_ cpu: CPUStats?) throws(BerthError) -> JSONValue {
        let usage: [(key: String, value: JSONValue)] = [
            ("total", number((cpu?.usageUsec ?? 0) &* 1000)), ("kernel", number((cpu?.systemUsec ?? 0) &* 1000)),
            ("user", number((cpu?.userUsec ?? 0) &* 1000)),
        ]
        // Left out when zero, as runc's omitempty leaves them.
        var throttling: [(key: String, value: JSONValue)] = []
        if let periods = cpu?.nrPeriods, periods > 0 { throttling.append(("periods", number(periods))) }
        if let throttled = cpu?.nrThrottled, throttled > 0 { throttling.append(("throttledPeriods", number(throttled))) }
        if let time = cpu?.throttledUsec, time > 0 { throttling.append(("throttledTime", number(time &* 1000))) }
        return merged([("usage", .object(usage)), ("throttling", .object(throttling))], cpu)
    }

    static func memory(_ memory: MemoryStats) throws(BerthError) -> JSONValue {
        let limit = memory.max.map(limitValue) ?? UInt64.max
        let usage = memoryEntry(limit: limit, usage: memory.current ?? 0, failcnt: memory.events?.max ?? 0)
        // cgroup v1 counted swap together with memory, and runc reports v2's that way too.
        let swapLimit = memory.swapMax.map(limitValue).map { $0 == UInt64.max ? $0 : $0 &+ limit } ?? UInt64.max
        let swap = memoryEntry(limit: swapLimit, usage: (memory.swapCurrent ?? 0) &+ (memory.current ?? 0), failcnt: 0)
        var runc: [(key: String, value: JSONValue)] = []
        if let file = memory.stat?.file, file > 0 { runc.append(("cache", number(file))) }
        runc += [("usage", usage), ("swap", swap), ("kernel", memoryEntry(limit: 0, usage: 0, failcnt: 0)),
                 ("kernelTCP", memoryEntry(limit: 0, usage: 0, failcnt: 0))]
        if let stat = memory.stat { runc.append(("raw", try raw(stat))) }
        return merged(runc, memory)
    }

    /// memory.stat by the kernel's names, as runc's `raw` map has them.
    static func raw(_ stat: MemoryStatCounters) throws(BerthError) -> JSONValue {
        guard case .object(let members) = try encoded(stat) else { return .object([]) }
        return .object(members.map { (snakeCase($0.key), $0.value) })
    }

    static func pids(_ pids: PidsStats?, processCount: Int) throws(BerthError) -> JSONValue {
        var runc: [(key: String, value: JSONValue)] = [("current", number(pids?.current ?? UInt64(processCount)))]
        // runc reports "no limit" as no value.
        if case .value(let limit) = pids?.max { runc.append(("limit", number(limit))) }
        return merged(runc, pids)
    }

    /// io.stat as runc's blkio lists: bytes and operations per device, read and written.
    static func blkio(_ io: IOStats?) -> JSONValue {
        let devices = io?.devices ?? []
        func entries(_ read: KeyPath<IODeviceStats, UInt64?>, _ write: KeyPath<IODeviceStats, UInt64?>) -> JSONValue {
            .array(devices.flatMap { device in
                [("Read", device[keyPath: read]), ("Write", device[keyPath: write])].compactMap { op, value in
                    value.map { .object([("major", number(UInt64(device.major))), ("minor", number(UInt64(device.minor))),
                                         ("op", .string(op)), ("value", number($0))]) }
                }
            })
        }
        guard !devices.isEmpty else { return .object([]) }
        return .object([("ioServiceBytesRecursive", entries(\.rbytes, \.wbytes)), ("ioServicedRecursive", entries(\.rios, \.wios))])
    }

    /// runc's map by page size: usage and the allocations refused by the limit.
    static func hugetlb(_ sizes: [HugetlbStats]) -> JSONValue {
        .object(sizes.map { size in
            (size.pageSize, .object([("usage", number(size.current ?? 0)), ("failcnt", number(size.maxEvents ?? 0))]))
        })
    }

    static func memoryEntry(limit: UInt64, usage: UInt64, failcnt: UInt64) -> JSONValue {
        .object([("limit", number(limit)), ("usage", number(usage)), ("failcnt", number(failcnt))])
    }

    static func limitValue(_ limit: CgroupLimit) -> UInt64 {
        switch limit {
        case .unlimited: UInt64.max
        case .value(let value): value
        }
    }

    static func number(_ value: UInt64) -> JSONValue { .number(JSONNumber(value)) }

    /// runc's members, then those of berth's own encoding of `value` that runc does not have.
    static func merged(_ runc: [(key: String, value: JSONValue)], _ value: (some Encodable)?) -> JSONValue {
        guard let value, case .object(let ours)? = try? encoded(value) else { return .object(runc) }
        let taken = Set(runc.map(\.key))
        return .object(runc + ours.filter { !taken.contains($0.key) })
    }

    static func encoded(_ value: some Encodable) throws(BerthError) -> JSONValue {
        do { return try encodeJSONValue(value) } catch { throw BerthError(.system, "encoding an event: \(error)") }
    }

    /// `kernelStack` → `kernel_stack`.
    static func snakeCase(_ name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }
}
