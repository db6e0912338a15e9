import BerthCore
import CommandLineFlags
import Glibc
import Linux
import OCI
import SupervisorAPI

/// The resource-limit flags, shared by `ctr run` and `ctr update`, and the linux.resources they
/// make. cgroup v2's own units (weights, memory.high) go through `unified` unconverted.
struct LimitFlags: Equatable {
    /// `--io-max DEVICE:rbps=N,wbps=N,riops=N,wiops=N`, with the device's numbers.
    struct IOMax: Equatable {
        var major: Int64
        var minor: Int64
        var limits: [(key: String, value: UInt64)]

        static func == (lhs: IOMax, rhs: IOMax) -> Bool {
            lhs.major == rhs.major && lhs.minor == rhs.minor && lhs.limits.map(\.key) == rhs.limits.map(\.key)
                && lhs.limits.map(\.value) == rhs.limits.map(\.value)
        }
    }

    var memory: Int64?
    var memoryHigh: Int64?
    var memorySwap: Int64?
    var cpus: String?
    var cpuQuota: Int64?
    var cpuWeight: Int64?
    var cpusetCPUs: String?
    var pidsLimit: Int64?
    var ioWeight: Int64?
    var ioMax: [IOMax] = []

    static let flags: [Flag] = [
        .value("m", "memory"), .value("memory-high"), .value("memory-swap"), .value("cpus"), .value("cpu-weight"),
        .value("cpuset-cpus"), .value("pids-limit"), .value("io-weight"), .value("io-max"),
    ]

    init() {}

    init(_ parsed: Arguments) throws(BerthError) {
        memory = try parsed.value("memory").map { (text) throws(BerthError) in try FlagValues.memory(text, flag: "--memory") }
        memoryHigh = try parsed.value("memory-high").map { (text) throws(BerthError) in try FlagValues.memory(text, flag: "--memory-high") }
        if let text = parsed.value("memory-swap") {
            let swap = text == "-1" ? -1 : try FlagValues.size(text, flag: "--memory-swap", example: "128M")
            guard let memory else {
                throw BerthError(.invalidArgument, "flag --memory-swap: needs --memory too; it is memory plus swap (e.g. -m 64M --memory-swap 128M)")
            }
            guard swap == -1 || swap >= memory else {
                throw BerthError(.invalidArgument, "flag --memory-swap: \"\(text)\" is below --memory; it is memory plus swap (e.g. -m 64M --memory-swap 128M)")
            }
            memorySwap = swap
        }
        if let text = parsed.value("cpus") {
            cpuQuota = try FlagValues.cpuQuota(text)
            cpus = text
        }
        if let text = parsed.value("cpu-weight") {
            let weight = try FlagValues.count(text, flag: "--cpu-weight", example: "100")
            guard weight <= 10_000 else { throw BerthError(.invalidArgument, "flag --cpu-weight: \(weight) is above 10000 (e.g. --cpu-weight 100)") }
            cpuWeight = weight
        }
        if let text = parsed.value("cpuset-cpus") {
            guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "," || $0 == "-") }) else {
                throw BerthError(.invalidArgument, "flag --cpuset-cpus: \"\(text)\" is not a CPU list (e.g. --cpuset-cpus 0-1,3)")
            }
            cpusetCPUs = text
        }
        pidsLimit = try parsed.value("pids-limit").map { (text) throws(BerthError) in
            try FlagValues.count(text, flag: "--pids-limit", example: "100", allowUnlimited: true)
        }
        if let text = parsed.value("io-weight") {
            let weight = try FlagValues.count(text, flag: "--io-weight", example: "100")
            guard weight <= 10_000 else { throw BerthError(.invalidArgument, "flag --io-weight: \(weight) is above 10000 (e.g. --io-weight 100)") }
            ioWeight = weight
        }
        ioMax = try parsed.all("io-max").map { (text) throws(BerthError) in try LimitFlags.ioMax(text) }
    }

    var isEmpty: Bool { self == LimitFlags() }

    /// What `ctr ps` shows.
    var summary: ServiceLimits {
        ServiceLimits(memoryBytes: memory, cpus: cpus, pids: pidsLimit.flatMap { $0 > 0 ? $0 : nil })
    }

    /// `base` with these limits set; fields not given keep their value.
    func resources(over base: LinuxResources) -> LinuxResources {
        var resources = base
        if memory != nil || memorySwap != nil {
            var limits = resources.memory ?? LinuxMemory()
            limits.limit = memory ?? limits.limit
            limits.swap = memorySwap ?? limits.swap
            resources.memory = limits
        }
        if cpuQuota != nil || cpusetCPUs != nil {
            var cpu = resources.cpu ?? LinuxCPU()
            if let cpuQuota {
                cpu.quota = cpuQuota
                cpu.period = FlagValues.cpuPeriod
            }
            cpu.cpus = cpusetCPUs ?? cpu.cpus
            resources.cpu = cpu
        }
        if let pidsLimit { resources.pids = LinuxPids(limit: pidsLimit) }
        var unified = resources.unified ?? [:]
        if let memoryHigh { unified["memory.high"] = String(memoryHigh) }
        if let cpuWeight { unified["cpu.weight"] = String(cpuWeight) }
        if let ioWeight { unified["io.weight"] = "default \(ioWeight)" }
        if !unified.isEmpty { resources.unified = unified }
        if !ioMax.isEmpty {
            var blockIO = resources.blockIO ?? LinuxBlockIO()
            for device in ioMax {
                for (key, value) in device.limits {
                    let entry = LinuxThrottleDevice(major: device.major, minor: device.minor, rate: value)
                    switch key {
                    case "rbps": blockIO.throttleReadBpsDevice = (blockIO.throttleReadBpsDevice ?? []) + [entry]
                    case "wbps": blockIO.throttleWriteBpsDevice = (blockIO.throttleWriteBpsDevice ?? []) + [entry]
                    case "riops": blockIO.throttleReadIOPSDevice = (blockIO.throttleReadIOPSDevice ?? []) + [entry]
                    default: blockIO.throttleWriteIOPSDevice = (blockIO.throttleWriteIOPSDevice ?? []) + [entry]
                    }
                }
            }
            resources.blockIO = blockIO
        }
        return resources
    }

    static func ioMax(_ text: String) throws(BerthError) -> IOMax {
        let example = "(e.g. --io-max /dev/sda:rbps=10M,wiops=100)"
        guard let colon = text.lastIndex(of: ":") else {
            throw BerthError(.invalidArgument, "flag --io-max: \"\(text)\" is not DEVICE:KEY=VALUE,... \(example)")
        }
        let device = String(text[..<colon])
        var info = Glibc.stat()
        guard Glibc.fstatat(AT_FDCWD, device, &info, 0) == 0, (info.st_mode & S_IFMT) == S_IFBLK else {
            throw BerthError(.invalidArgument, "flag --io-max: \(device) is not a block device \(example)")
        }
        var limits: [(key: String, value: UInt64)] = []
        for pair in text[text.index(after: colon)...].split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, ["rbps", "wbps", "riops", "wiops"].contains(parts[0]) else {
                throw BerthError(.invalidArgument, "flag --io-max: \"\(pair)\" is not rbps=, wbps=, riops= or wiops= with a number \(example)")
            }
            let value = parts[0].hasSuffix("bps") ? try FlagValues.size(parts[1], flag: "--io-max", example: "/dev/sda:rbps=10M")
                : try FlagValues.count(parts[1], flag: "--io-max", example: "/dev/sda:riops=100")
            guard value > 0 else { throw BerthError(.invalidArgument, "flag --io-max: \"\(pair)\" must be above 0 \(example)") }
            limits.append((parts[0], UInt64(value)))
        }
        guard !limits.isEmpty else { throw BerthError(.invalidArgument, "flag --io-max: \"\(text)\" sets no limit \(example)") }
        // glibc's major()/minor() are macros; this is their definition.
        let device64 = UInt64(info.st_rdev)
        let major = ((device64 >> 8) & 0xfff) | ((device64 >> 32) & ~UInt64(0xfff))
        let minor = (device64 & 0xff) | ((device64 >> 12) & ~UInt64(0xff))
        return IOMax(major: Int64(major), minor: Int64(minor), limits: limits)
    }
}
