import BerthCore
import CommandLineFlags
import Linux
import OCI
import Runtime

/// `berth update [--memory N] [--memory-reservation N] [--memory-swap N] [--cpu-quota N]
/// [--cpu-period N] [--cpu-burst N] [--cpu-idle 0|1] [--cpu-share N] [--cpu-weight N] [--cpuset-cpus L] [--cpuset-mems L]
/// [--pids-limit N] [--blkio-weight N] [-r resources.json] ID`: change limits live. Sizes take
/// k, m and g suffixes (powers of 1024); -1 means unlimited.
enum UpdateCommand {
    static let flags: [Flag] = [
        .value("r", "resources", placeholder: "FILE", summary: "linux.resources as JSON (- for stdin); the flags below override it"),
        .value("m", "memory", placeholder: "SIZE", summary: "memory.max; -1 for none"),
        .value("memory-reservation", placeholder: "SIZE", summary: "memory.low"),
        .value("memory-swap", placeholder: "SIZE", summary: "memory plus swap; -1 for unlimited swap"),
        .value("cpu-quota", placeholder: "USEC", summary: "cpu.max quota per period; -1 for none"),
        .value("cpu-period", placeholder: "USEC", summary: "cpu.max period"),
        .value("cpu-burst", placeholder: "USEC", summary: "cpu.max.burst: run time a period may save up for bursts"),
        .value("cpu-idle", placeholder: "0|1", summary: "cpu.idle: 1 schedules the cgroup as SCHED_IDLE"),
        .value("cpu-share", placeholder: "N", summary: "cgroup v1 shares, converted to cpu.weight"),
        .value("cpu-weight", placeholder: "N", summary: "cpu.weight, 1-10000"),
        .value("cpuset-cpus", placeholder: "LIST", summary: "cpuset.cpus"),
        .value("cpuset-mems", placeholder: "LIST", summary: "cpuset.mems"),
        .value("pids-limit", placeholder: "N", summary: "pids.max; -1 for none"),
        .value("blkio-weight", placeholder: "N", summary: "blkio weight 10-1000, converted to io.weight"),
    ]

    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let id = try parsed.containerID(command: "update")
        var resources: LinuxResources
        if let path = parsed.value("resources") {
            let bytes = path == "-" ? try FileDescriptor.standardInput.readAll() : try Files.read(try absolutePath(path))
            do { resources = try decodeJSON(LinuxResources.self, from: bytes) } catch { throw BerthError(.invalidConfig, "\(path): \(error)") }
        } else {
            resources = LinuxResources()
        }
        var memory = resources.memory ?? LinuxMemory()
        if let text = parsed.value("memory") { memory.limit = try size(text, flag: "--memory") }
        if let text = parsed.value("memory-reservation") { memory.reservation = try size(text, flag: "--memory-reservation") }
        if let text = parsed.value("memory-swap") { memory.swap = try size(text, flag: "--memory-swap") }
        if memory != LinuxMemory() { resources.memory = memory }
        var cpu = resources.cpu ?? LinuxCPU()
        if let text = parsed.value("cpu-quota") { cpu.quota = try number(text, flag: "--cpu-quota") }
        if let text = parsed.value("cpu-period") { cpu.period = UInt64(try positive(text, flag: "--cpu-period")) }
        if let text = parsed.value("cpu-burst") {
            guard let burst = UInt64(text) else { throw BerthError(.invalidArgument, "flag --cpu-burst: \"\(text)\" is not a time in microseconds") }
            cpu.burst = burst
        }
        if let text = parsed.value("cpu-idle") {
            guard let idle = Int64(text), idle == 0 || idle == 1 else { throw BerthError(.invalidArgument, "flag --cpu-idle: \"\(text)\" is neither 0 nor 1") }
            cpu.idle = idle
        }
        if let text = parsed.value("cpu-share") { cpu.shares = UInt64(try positive(text, flag: "--cpu-share")) }
        if let text = parsed.value("cpuset-cpus") { cpu.cpus = text }
        if let text = parsed.value("cpuset-mems") { cpu.mems = text }
        if cpu != LinuxCPU() { resources.cpu = cpu }
        if let text = parsed.value("cpu-weight") {
            // cgroup v2's own unit, passed through unconverted.
            let weight = try positive(text, flag: "--cpu-weight")
            guard (1...10000).contains(weight) else { throw BerthError(.invalidArgument, "flag --cpu-weight: \(weight) is outside 1...10000") }
            resources.unified = (resources.unified ?? [:]).merging(["cpu.weight": String(weight)]) { $1 }
        }
        if let text = parsed.value("pids-limit") {
            resources.pids = LinuxPids(limit: try number(text, flag: "--pids-limit"))
        }
        if let text = parsed.value("blkio-weight") {
            let weight = try positive(text, flag: "--blkio-weight")
            guard weight <= UInt16.max else { throw BerthError(.invalidArgument, "flag --blkio-weight: \(weight) is outside 10...1000") }
            resources.blockIO = LinuxBlockIO(weight: UInt16(weight))
        }
        try Containers(store: globals.store).update(id, resources: resources)
        return 0
    }

    /// Bytes, with an optional k, m or g suffix (case-insensitive, b allowed after it); -1 for none.
    static func size(_ text: String, flag: String) throws(BerthError) -> Int64 {
        if text == "-1" { return -1 }
        var digits = text.lowercased()
        if digits.hasSuffix("b") { digits.removeLast() }
        var multiplier: Int64 = 1
        switch digits.last {
        case "k": multiplier = 1 << 10
        case "m": multiplier = 1 << 20
        case "g": multiplier = 1 << 30
        default: break
        }
        if multiplier != 1 { digits.removeLast() }
        guard let value = Int64(digits), value >= 0, value <= Int64.max / multiplier else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not a size such as 64m, 512k or 1073741824")
        }
        return value * multiplier
    }

    static func number(_ text: String, flag: String) throws(BerthError) -> Int64 {
        guard let value = Int64(text), value >= -1 else { throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not a number (or -1)") }
        return value
    }

    static func positive(_ text: String, flag: String) throws(BerthError) -> Int64 {
        guard let value = Int64(text), value > 0 else { throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not a positive number") }
        return value
    }
}
