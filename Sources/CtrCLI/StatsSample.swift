import BerthCore
import Cgroup2
import Glibc
import Linux
import OCI
import Runtime
import SupervisorAPI

/// One reading of a service's cgroup for `ctr stats`, and the row it makes with the reading
/// before it (CPU % needs two).
struct StatsSample {
    var name: String
    var id: String
    var time: Timestamp
    var monotonic: Int64
    var cpuUsec: UInt64?
    var memoryBytes: UInt64?
    /// memory.max, or the machine's memory when there is no limit.
    var memoryLimit: UInt64?
    var ioReadBytes: UInt64?
    var ioWriteBytes: UInt64?
    var pids: UInt64?
    var pidsLimit: UInt64?
    /// PSI `some avg10`: the share of the last 10 s in which some task waited, in percent.
    var cpuPressure: Double?
    var memoryPressure: Double?
    var ioPressure: Double?

    /// Reads the cgroup of `view`'s container; nil when it is not running.
    static func read(_ view: ServiceView) -> StatsSample? {
        let containers = Containers(store: StateStore(root: view.directory.runtimeRoot))
        guard let stats = try? containers.stats(view.definition.id) else { return nil }
        var sample = StatsSample(name: view.name, id: view.definition.id, time: .now(), monotonic: monotonicNanoseconds())
        sample.cpuUsec = stats.cpu?.usageUsec
        sample.memoryBytes = stats.memory?.current
        if case .value(let limit)? = stats.memory?.max { sample.memoryLimit = limit } else { sample.memoryLimit = hostMemory }
        if let devices = stats.io?.devices {
            sample.ioReadBytes = devices.reduce(0) { $0 + ($1.rbytes ?? 0) }
            sample.ioWriteBytes = devices.reduce(0) { $0 + ($1.wbytes ?? 0) }
        }
        sample.pids = stats.pids?.current
        if case .value(let limit)? = stats.pids?.max { sample.pidsLimit = limit }
        sample.cpuPressure = stats.pressure?.cpu?.some?.avg10
        sample.memoryPressure = stats.pressure?.memory?.some?.avg10
        sample.ioPressure = stats.pressure?.io?.some?.avg10
        return sample
    }

    init(name: String, id: String, time: Timestamp, monotonic: Int64) {
        self.name = name
        self.id = id
        self.time = time
        self.monotonic = monotonic
    }

    /// CPU use since `earlier` in percent of one CPU (200 = two CPUs busy), as docker shows it.
    func cpuPercent(since earlier: StatsSample?) -> Double? {
        guard let earlier, let now = cpuUsec, let before = earlier.cpuUsec, now >= before, monotonic > earlier.monotonic else { return nil }
        return Double(now - before) * 1000 / Double(monotonic - earlier.monotonic) * 100
    }

    var memoryPercent: Double? {
        guard let memoryBytes, let memoryLimit, memoryLimit > 0 else { return nil }
        return Double(memoryBytes) / Double(memoryLimit) * 100
    }

    static let hostMemory: UInt64? = {
        guard let text = try? Files.readString("/proc/meminfo"),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else { return nil }
        return kilobytes * 1024
    }()

    static let tableHeader = ["NAME", "ID", "CPU %", "MEM USAGE / LIMIT", "MEM %", "IO READ / WRITE", "PIDS", "PSI CPU/MEM/IO"]

    func tableRow(since earlier: StatsSample?) -> [String] {
        func bytes(_ value: UInt64?) -> String { value.map { humanBytes($0) } ?? "-" }
        func percent(_ value: Double?) -> String { value.map { fixed($0, 2) + "%" } ?? "-" }
        func pressure(_ value: Double?) -> String { value.map { fixed($0, 2) } ?? "-" }
        let pidsText = pids.map { String($0) + (pidsLimit.map { " / \($0)" } ?? "") } ?? "-"
        return [name, id, percent(cpuPercent(since: earlier)), "\(bytes(memoryBytes)) / \(bytes(memoryLimit))", percent(memoryPercent),
                "\(bytes(ioReadBytes)) / \(bytes(ioWriteBytes))", pidsText,
                "\(pressure(cpuPressure))/\(pressure(memoryPressure))/\(pressure(ioPressure))"]
    }

    static let csvHeader = "time,name,id,cpu_percent,memory_bytes,memory_limit_bytes,memory_percent,io_read_bytes,io_write_bytes,"
        + "pids,pids_limit,cpu_pressure_avg10,memory_pressure_avg10,io_pressure_avg10"

    func csvLine(since earlier: StatsSample?) -> String {
        func number(_ value: UInt64?) -> String { value.map(String.init) ?? "" }
        func decimal(_ value: Double?) -> String { value.map { fixed($0, 2) } ?? "" }
        return [time.description, name, id, decimal(cpuPercent(since: earlier)), number(memoryBytes), number(memoryLimit),
                decimal(memoryPercent), number(ioReadBytes), number(ioWriteBytes), number(pids), number(pidsLimit),
                decimal(cpuPressure), decimal(memoryPressure), decimal(ioPressure)].joined(separator: ",")
    }

    func json(since earlier: StatsSample?) -> JSONValue {
        func number(_ value: UInt64?) -> JSONValue { value.map { .number(JSONNumber($0)) } ?? .null }
        func decimal(_ value: Double?) -> JSONValue {
            value.flatMap { JSONNumber((($0 * 100).rounded()) / 100) }.map { .number($0) } ?? .null
        }
        return .object([("time", .string(time.description)), ("name", .string(name)), ("id", .string(id)),
                        ("cpuPercent", decimal(cpuPercent(since: earlier))), ("memoryBytes", number(memoryBytes)),
                        ("memoryLimitBytes", number(memoryLimit)), ("memoryPercent", decimal(memoryPercent)),
                        ("ioReadBytes", number(ioReadBytes)), ("ioWriteBytes", number(ioWriteBytes)),
                        ("pids", number(pids)), ("pidsLimit", number(pidsLimit)),
                        ("cpuPressureAvg10", decimal(cpuPressure)), ("memoryPressureAvg10", decimal(memoryPressure)),
                        ("ioPressureAvg10", decimal(ioPressure))])
    }
}

/// `value` with `decimals` digits after the point (no Foundation, so no String(format:)).
func fixed(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int64((abs(value) * scale).rounded())
    let whole = scaled / Int64(scale)
    let fraction = String(scaled % Int64(scale))
    let sign = value < 0 && scaled != 0 ? "-" : ""
    return decimals == 0 ? "\(sign)\(whole)" : "\(sign)\(whole)." + String(repeating: "0", count: decimals - fraction.count) + fraction
}

/// 1.5MiB, 64MiB, 512KiB, 12B.
func humanBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes)B" : fixed(value, value < 10 ? 2 : 1) + units[unit]
}
