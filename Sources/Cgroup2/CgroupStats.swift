/// Usage statistics of one cgroup, for `berth events --stats`. Plain Codable values: the CLI
/// encodes them with the OCI module's JSON encoder, which omits nil fields. A file the kernel
/// does not provide (a controller not enabled, an older kernel) leaves its fields nil.
public struct CgroupStats: Codable, Sendable, Equatable {
    public var cpu: CPUStats?
    public var memory: MemoryStats?
    public var pids: PidsStats?
    public var io: IOStats?
    /// One entry per huge page size, by size.
    public var hugetlb: [HugetlbStats]?
    /// Pressure stall information (cpu.pressure, memory.pressure, io.pressure).
    public var pressure: PressureStats?

    public init(cpu: CPUStats? = nil, memory: MemoryStats? = nil, pids: PidsStats? = nil, io: IOStats? = nil,
                hugetlb: [HugetlbStats]? = nil, pressure: PressureStats? = nil) {
        self.cpu = cpu
        self.memory = memory
        self.pids = pids
        self.io = io
        self.hugetlb = hugetlb
        self.pressure = pressure
    }
}

/// A limit file's value: `max` or a number. Encoded as the string "max" or the number.
public enum CgroupLimit: Codable, Sendable, Equatable {
    case unlimited
    case value(UInt64)

    /// Parses `max` or a decimal number, ignoring surrounding whitespace.
    public init?(parsing text: String) {
        let trimmed = text.trimmingWhitespace
        if trimmed == "max" { self = .unlimited; return }
        guard let number = UInt64(trimmed) else { return nil }
        self = .value(number)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self), text == "max" {
            self = .unlimited
        } else {
            self = .value(try container.decode(UInt64.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .unlimited: try container.encode("max")
        case .value(let number): try container.encode(number)
        }
    }
}

/// cpu.stat; times in microseconds.
public struct CPUStats: Codable, Sendable, Equatable {
    public var usageUsec: UInt64?
    public var userUsec: UInt64?
    public var systemUsec: UInt64?
    /// Enforcement periods that had runnable tasks, and those throttled (cpu controller only).
    public var nrPeriods: UInt64?
    public var nrThrottled: UInt64?
    public var throttledUsec: UInt64?
    public var nrBursts: UInt64?
    public var burstUsec: UInt64?

    /// Parses a cpu.stat text.
    public init(parsing text: String) {
        let values = Cgroup.parseKeyedValues(text)
        usageUsec = values["usage_usec"]
        userUsec = values["user_usec"]
        systemUsec = values["system_usec"]
        nrPeriods = values["nr_periods"]
        nrThrottled = values["nr_throttled"]
        throttledUsec = values["throttled_usec"]
        nrBursts = values["nr_bursts"]
        burstUsec = values["burst_usec"]
    }
}

/// The memory controller's files; bytes unless named otherwise.
public struct MemoryStats: Codable, Sendable, Equatable {
    public var current: UInt64?
    /// memory.peak (Linux 5.19).
    public var peak: UInt64?
    public var max: CgroupLimit?
    public var swapCurrent: UInt64?
    public var swapMax: CgroupLimit?
    public var stat: MemoryStatCounters?
    public var events: MemoryEvents?

    public init(current: UInt64? = nil, peak: UInt64? = nil, max: CgroupLimit? = nil, swapCurrent: UInt64? = nil,
                swapMax: CgroupLimit? = nil, stat: MemoryStatCounters? = nil, events: MemoryEvents? = nil) {
        self.current = current
        self.peak = peak
        self.max = max
        self.swapCurrent = swapCurrent
        self.swapMax = swapMax
        self.stat = stat
        self.events = events
    }
}

/// The main lines of memory.stat: bytes, except the page fault counts.
public struct MemoryStatCounters: Codable, Sendable, Equatable {
    public var anon: UInt64?
    public var file: UInt64?
    public var kernel: UInt64?
    public var kernelStack: UInt64?
    public var pagetables: UInt64?
    public var sock: UInt64?
    public var shmem: UInt64?
    public var fileMapped: UInt64?
    public var fileDirty: UInt64?
    public var fileWriteback: UInt64?
    public var anonThp: UInt64?
    public var activeAnon: UInt64?
    public var inactiveAnon: UInt64?
    public var activeFile: UInt64?
    public var inactiveFile: UInt64?
    public var unevictable: UInt64?
    public var slab: UInt64?
    public var pgfault: UInt64?
    public var pgmajfault: UInt64?

    /// Parses a memory.stat text; lines not listed here are skipped.
    public init(parsing text: String) {
        let values = Cgroup.parseKeyedValues(text)
        anon = values["anon"]
        file = values["file"]
        kernel = values["kernel"]
        kernelStack = values["kernel_stack"]
        pagetables = values["pagetables"]
        sock = values["sock"]
        shmem = values["shmem"]
        fileMapped = values["file_mapped"]
        fileDirty = values["file_dirty"]
        fileWriteback = values["file_writeback"]
        anonThp = values["anon_thp"]
        activeAnon = values["active_anon"]
        inactiveAnon = values["inactive_anon"]
        activeFile = values["active_file"]
        inactiveFile = values["inactive_file"]
        unevictable = values["unevictable"]
        slab = values["slab"]
        pgfault = values["pgfault"]
        pgmajfault = values["pgmajfault"]
    }
}

/// memory.events: how often each boundary was hit.
public struct MemoryEvents: Codable, Sendable, Equatable {
    public var low: UInt64?
    public var high: UInt64?
    public var max: UInt64?
    public var oom: UInt64?
    public var oomKill: UInt64?
    public var oomGroupKill: UInt64?

    public init(parsing text: String) {
        let values = Cgroup.parseKeyedValues(text)
        low = values["low"]
        high = values["high"]
        max = values["max"]
        oom = values["oom"]
        oomKill = values["oom_kill"]
        oomGroupKill = values["oom_group_kill"]
    }
}

public struct PidsStats: Codable, Sendable, Equatable {
    public var current: UInt64?
    public var max: CgroupLimit?
    /// pids.peak (Linux 6.1).
    public var peak: UInt64?
    /// pids.events `max`: forks refused because of pids.max.
    public var maxEvents: UInt64?

    public init(current: UInt64? = nil, max: CgroupLimit? = nil, peak: UInt64? = nil, maxEvents: UInt64? = nil) {
        self.current = current
        self.max = max
        self.peak = peak
        self.maxEvents = maxEvents
    }
}

public struct IOStats: Codable, Sendable, Equatable {
    public var devices: [IODeviceStats]

    public init(devices: [IODeviceStats] = []) { self.devices = devices }
}

/// One io.stat line: `8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0`.
public struct IODeviceStats: Codable, Sendable, Equatable {
    public var major: UInt32
    public var minor: UInt32
    public var rbytes: UInt64?
    public var wbytes: UInt64?
    public var rios: UInt64?
    public var wios: UInt64?
    public var dbytes: UInt64?
    public var dios: UInt64?

    public init(major: UInt32, minor: UInt32, rbytes: UInt64? = nil, wbytes: UInt64? = nil, rios: UInt64? = nil,
                wios: UInt64? = nil, dbytes: UInt64? = nil, dios: UInt64? = nil) {
        self.major = major
        self.minor = minor
        self.rbytes = rbytes
        self.wbytes = wbytes
        self.rios = rios
        self.wios = wios
        self.dbytes = dbytes
        self.dios = dios
    }

    /// Parses an io.stat text, one device a line; malformed lines are skipped.
    public static func parse(ioStat text: String) -> [IODeviceStats] {
        var devices: [IODeviceStats] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let id = fields.first else { continue }
            let numbers = id.split(separator: ":")
            guard numbers.count == 2, let major = UInt32(numbers[0]), let minor = UInt32(numbers[1]) else { continue }
            var device = IODeviceStats(major: major, minor: minor)
            for field in fields.dropFirst() {
                let pair = field.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, let value = UInt64(pair[1]) else { continue }
                switch pair[0] {
                case "rbytes": device.rbytes = value
                case "wbytes": device.wbytes = value
                case "rios": device.rios = value
                case "wios": device.wios = value
                case "dbytes": device.dbytes = value
                case "dios": device.dios = value
                default: break
                }
            }
            devices.append(device)
        }
        return devices
    }
}

public struct HugetlbStats: Codable, Sendable, Equatable {
    /// As in the file names: `2MB`, `1GB`.
    public var pageSize: String
    public var current: UInt64?
    public var max: CgroupLimit?
    /// hugetlb.<size>.events `max`: allocations refused because of the limit.
    public var maxEvents: UInt64?

    public init(pageSize: String, current: UInt64? = nil, max: CgroupLimit? = nil, maxEvents: UInt64? = nil) {
        self.pageSize = pageSize
        self.current = current
        self.max = max
        self.maxEvents = maxEvents
    }
}

/// Pressure stall information of the three resources.
public struct PressureStats: Codable, Sendable, Equatable {
    public var cpu: Pressure?
    public var memory: Pressure?
    public var io: Pressure?

    public init(cpu: Pressure? = nil, memory: Pressure? = nil, io: Pressure? = nil) {
        self.cpu = cpu
        self.memory = memory
        self.io = io
    }
}

/// One *.pressure file: the share of time some (or all, `full`) tasks stalled on the resource.
public struct Pressure: Codable, Sendable, Equatable {
    public var some: PressureLine?
    public var full: PressureLine?

    public init(some: PressureLine? = nil, full: PressureLine? = nil) {
        self.some = some
        self.full = full
    }

    /// Parses `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` and the `full` line; nil when
    /// neither line parses.
    public init?(parsing text: String) {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let kind = fields.first, let parsed = PressureLine(fields.dropFirst()) else { continue }
            if kind == "some" { some = parsed } else if kind == "full" { full = parsed }
        }
        if some == nil && full == nil { return nil }
    }
}

/// Averages are percentages over 10 s, 60 s and 300 s; `total` is microseconds stalled.
public struct PressureLine: Codable, Sendable, Equatable {
    public var avg10: Double
    public var avg60: Double
    public var avg300: Double
    public var total: UInt64

    public init(avg10: Double, avg60: Double, avg300: Double, total: UInt64) {
        self.avg10 = avg10
        self.avg60 = avg60
        self.avg300 = avg300
        self.total = total
    }

    init?(_ fields: ArraySlice<Substring>) {
        var values: [Substring: Substring] = [:]
        for field in fields {
            let pair = field.split(separator: "=", maxSplits: 1)
            if pair.count == 2 { values[pair[0]] = pair[1] }
        }
        guard let avg10 = values["avg10"].flatMap({ Double($0) }), let avg60 = values["avg60"].flatMap({ Double($0) }),
              let avg300 = values["avg300"].flatMap({ Double($0) }), let total = values["total"].flatMap({ UInt64($0) })
        else { return nil }
        self.init(avg10: avg10, avg60: avg60, avg300: avg300, total: total)
    }
}
