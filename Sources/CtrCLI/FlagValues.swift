import BerthCore
import Glibc
import Linux
import OCI

/// The values ctr's flags take, parsed and checked. Every refusal names the flag and shows a
/// value that would be accepted.
enum FlagValues {
    /// Bytes with an optional k, M or G suffix (powers of 1024, any case, an optional trailing
    /// b): `64M`, `512k`, `1g`, `1073741824`.
    static func size(_ text: String, flag: String, example: String = "64M") throws(BerthError) -> Int64 {
        var digits = Substring(text)
        if digits.count > 1, digits.last == "b" || digits.last == "B" { digits = digits.dropLast() }
        var shift: Int64 = 0
        switch digits.last {
        case "k", "K": shift = 10
        case "m", "M": shift = 20
        case "g", "G": shift = 30
        default: break
        }
        if shift != 0 { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(digits),
              value <= Int64.max >> shift else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not a size; use a number with an optional k, M or G suffix (e.g. \(flag) \(example))")
        }
        return value << shift
    }

    /// The smallest memory limit: below it the container's init cannot even start (docker's limit too).
    static let minimumMemory: Int64 = 6 << 20

    static func memory(_ text: String, flag: String) throws(BerthError) -> Int64 {
        let bytes = try size(text, flag: flag)
        guard bytes >= minimumMemory else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is below the minimum of 6M (e.g. \(flag) 64M)")
        }
        return bytes
    }

    /// The cpu.max period ctr uses; `--cpus` sets the quota against it.
    static let cpuPeriod: UInt64 = 100_000

    /// `--cpus 1.5` as a cpu.max quota in microseconds per `cpuPeriod`. Decimals are exact up to
    /// the microsecond; the quota must be at least the kernel's 1 ms and at most every online CPU.
    static func cpuQuota(_ text: String, flag: String = "--cpus") throws(BerthError) -> Int64 {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0], fraction = parts.count == 2 ? parts[1] : ""
        let onlyDigits: (Substring) -> Bool = { $0.allSatisfy { $0.isASCII && $0.isNumber } }
        guard !(whole.isEmpty && fraction.isEmpty), onlyDigits(whole), onlyDigits(fraction), whole.count <= 6, fraction.count <= 5 else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not a number of CPUs (e.g. \(flag) 0.5)")
        }
        let padded = fraction + String(repeating: "0", count: 5 - fraction.count)
        let quota = (Int64(whole) ?? 0) * Int64(cpuPeriod) + (Int64(padded) ?? 0)
        let online = Int64(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        guard quota >= 1000 else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is below the minimum of 0.01 CPUs (e.g. \(flag) 0.5)")
        }
        guard quota <= online * Int64(cpuPeriod) else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is more than the \(online) CPUs of this machine (e.g. \(flag) \(online))")
        }
        return quota
    }

    /// A positive integer, or -1 for unlimited when `allowUnlimited`.
    static func count(_ text: String, flag: String, example: String, allowUnlimited: Bool = false) throws(BerthError) -> Int64 {
        guard let value = Int64(text), value > 0 || (allowUnlimited && value == -1) else {
            let unlimited = allowUnlimited ? " or -1 for no limit" : ""
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not a positive whole number\(unlimited) (e.g. \(flag) \(example))")
        }
        return value
    }

    /// `-v HOST:CTR[:ro|rw]` as a bind mount. HOST must exist; named volumes are not supported.
    static func volume(_ text: String) throws(BerthError) -> Mount {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let example = "(e.g. -v /srv/data:/data:ro)"
        guard parts.count == 2 || parts.count == 3 else {
            throw BerthError(.invalidArgument, "flag --volume: \"\(text)\" is not HOST:CONTAINER[:ro] \(example)")
        }
        let (host, container) = (parts[0], parts[1])
        guard host.hasPrefix("/") else {
            throw BerthError(.invalidArgument, "flag --volume: \"\(host)\" must be an absolute host path; named volumes are not supported \(example)")
        }
        guard container.hasPrefix("/"), !container.split(separator: "/").contains("..") else {
            throw BerthError(.invalidArgument, "flag --volume: \"\(container)\" must be an absolute path in the container, without .. \(example)")
        }
        guard Files.exists(host) else { throw BerthError(.invalidArgument, "flag --volume: \(host) does not exist \(example)") }
        var options = ["rbind"]
        if parts.count == 3 {
            for option in parts[2].split(separator: ",", omittingEmptySubsequences: false) {
                guard option == "ro" || option == "rw" else {
                    throw BerthError(.invalidArgument, "flag --volume: unknown option \"\(option)\" in \"\(text)\"; use ro or rw \(example)")
                }
                options.append(String(option))
            }
        }
        if !options.contains("ro") && !options.contains("rw") { options.append("rw") }
        return Mount(destination: container, type: "bind", source: host, options: options)
    }

    /// `--tmpfs /run[:size=64m,mode=1777]`: a tmpfs, noexec, nosuid and nodev as docker makes it.
    static func tmpfs(_ text: String) throws(BerthError) -> Mount {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts[0].hasPrefix("/"), !parts[0].split(separator: "/").contains("..") else {
            throw BerthError(.invalidArgument, "flag --tmpfs: \"\(parts[0])\" must be an absolute path in the container (e.g. --tmpfs /run:size=64m)")
        }
        var options = ["noexec", "nosuid", "nodev"]
        if parts.count == 2 {
            for option in parts[1].split(separator: ",") {
                // Mount data the kernel would reject, or a flag that weakens the mount, is named here.
                let key = option.split(separator: "=", maxSplits: 1)[0]
                guard ["size", "mode", "uid", "gid", "nr_inodes", "exec", "noexec", "ro", "rw"].contains(key) else {
                    throw BerthError(.invalidArgument, "flag --tmpfs: unknown option \"\(option)\" (e.g. --tmpfs /run:size=64m,mode=1777)")
                }
                if option == "exec" { options.removeAll { $0 == "noexec" } }
                options.append(String(option))
            }
        }
        return Mount(destination: parts[0], type: "tmpfs", source: "tmpfs", options: options)
    }

    /// `-e KEY=VALUE`, or `-e KEY` to pass ctr's own value of KEY (skipped when it has none).
    static func environment(_ text: String, flag: String = "--env") throws(BerthError) -> String? {
        let key = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard !key.isEmpty, !key.contains(where: { $0 == " " || $0 == "\0" }) else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not KEY=VALUE (e.g. \(flag) GREETING=hello)")
        }
        if text.contains("=") { return text }
        guard let value = getenv(String(key)) else { return nil }
        return "\(key)=\(String(cString: value))"
    }

    /// `--env-file FILE`: KEY=VALUE lines; blank lines and # comments are skipped.
    static func environmentFile(_ path: String) throws(BerthError) -> [String] {
        let text: String
        do { text = try Files.readString(path) } catch { throw BerthError(.invalidArgument, "flag --env-file: \(error)") }
        var result: [String] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            do {
                if let variable = try environment(String(trimmed), flag: "--env-file") { result.append(variable) }
            } catch {
                throw error.prefixed("\(path):\(number + 1)")
            }
        }
        return result
    }

    /// Merges `overrides` into `base`: a variable given again replaces the earlier one.
    static func mergeEnvironment(_ base: [String], _ overrides: [String]) -> [String] {
        var result = base
        for variable in overrides {
            let key = variable.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            result.removeAll { $0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0] == key }
            result.append(variable)
        }
        return result
    }

    /// A grace period in whole seconds.
    static func seconds(_ text: String, flag: String) throws(BerthError) -> Int {
        guard let value = Int(text), value >= 0, value <= 86_400 else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not a number of seconds from 0 to 86400 (e.g. \(flag) 10)")
        }
        return value
    }

    /// A duration in milliseconds: numbers with ms, s, m or h, one after another as Go writes
    /// them (`500ms`, `2s`, `1.5s`, `1m30s`), from `minimum` to 24 hours. A bare number is
    /// refused: 30 could mean seconds or milliseconds.
    static func duration(_ text: String, flag: String, minimum: Int64 = 1, example: String = "2s") throws(BerthError) -> Int64 {
        let refusal = BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not a duration; use a number with ms, s, m or h (e.g. \(flag) \(example))")
        let lowest = minimum == 0 ? "0s" : "\(minimum)ms"
        let outOfRange = BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not between \(lowest) and 24h (e.g. \(flag) \(example))")
        let units: [(suffix: String, milliseconds: Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        let maximum: Int64 = 24 * 3_600_000
        var rest = Substring(text)
        var total: Int64 = 0
        guard !rest.isEmpty else { throw refusal }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unitText.count)
            let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            guard let unit = units.first(where: { $0.suffix == unitText }), !number.isEmpty, number != ".",
                  parts.allSatisfy({ $0.allSatisfy(\.isNumber) }), parts[0].count <= 18, parts.count == 1 || parts[1].count <= 9 else {
                throw refusal
            }
            // Whole part and fraction separately, in integers, so that 0.1s is exactly 100 ms.
            let whole = Int64(parts[0]) ?? 0
            var fraction: Int64 = 0
            if parts.count == 2 {
                let digits = parts[1] + String(repeating: "0", count: 9 - parts[1].count)
                fraction = (Int64(digits) ?? 0) * unit.milliseconds / 1_000_000_000
            }
            // Checked before adding, so that nothing overflows.
            guard whole <= maximum / unit.milliseconds, total <= maximum else { throw outOfRange }
            total += whole * unit.milliseconds + fraction
        }
        guard total >= minimum, total <= maximum else { throw outOfRange }
        return total
    }

    /// A signal by number (1...64), name or SIG-prefixed name, any case.
    static func signal(_ text: String, flag: String = "--signal") throws(BerthError) -> Int32 {
        guard let number = Signal.number(text) else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not a signal (e.g. \(flag) TERM or \(flag) 9)")
        }
        return number
    }
}
