import BerthCore
import Glibc
import Linux

/// The cgroup v1 → v2 value conversions. Pure functions; docs/cgroups.md has the formulas.
extension CgroupResources {
    /// cpu.shares (v1, 2…262144, default 1024) → cpu.weight (v2, 1…10000, default 100).
    ///
    /// The quadratic-in-log fit that crun uses since 1.11, so that the v1 endpoints and
    /// default land on the v2 ones (2 → 1, 1024 → 100, 262144 → 10000) and the values in
    /// between keep their ratios better than the old linear map did:
    ///
    ///     l = log2(shares)
    ///     weight = ceil(10 ^ ((l² + 125·l) / 612 − 7/34))
    ///
    /// Shares outside 2…262144 are clamped first, as the v1 kernel clamps them.
    public static func cpuWeight(shares: UInt64) -> UInt64 {
        let clamped = Double(min(max(shares, 2), 262_144))
        let l = log2(clamped)
        let exact = pow(10.0, (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0)
        // ceil of a value that should be an integer (1024 → 100) must not become 101 through a
        // rounding error in pow.
        let nearest = exact.rounded()
        let weight = abs(exact - nearest) < 1e-9 * max(1, nearest) ? nearest : exact.rounded(.up)
        return UInt64(min(max(weight, 1), 10_000))
    }

    /// blkio.weight (v1, 10…1000) → io.weight (v2, 1…10000): the linear map of one range onto
    /// the other that runc and crun use, `1 + (weight − 10) · 9999 / 990` in integers.
    /// (io.bfq.weight keeps the v1 range 1…1000, so the BFQ fallback takes the value as is.)
    public static func ioWeight(blkioWeight: UInt16) -> UInt64 {
        let weight = UInt64(min(max(blkioWeight, 10), 1000))
        return 1 + (weight - 10) * 9999 / 990
    }

    /// OCI's memory.swap is the v1 memsw limit, memory plus swap; cgroup v2's memory.swap.max
    /// limits swap alone. Returns the memory.swap.max value, or nil for "leave it alone".
    ///
    /// - swap -1 → `max`; swap nil or 0 (unset, as in runc) → nothing, except that an unlimited
    ///   memory limit (-1) also makes swap unlimited, as v1's memsw would be;
    /// - otherwise swap − limit, which needs a positive limit and swap ≥ limit.
    public static func swapMax(swap: Int64?, limit: Int64?) throws(BerthError) -> String? {
        let field = "linux.resources.memory.swap"
        switch swap {
        case nil, 0:
            return limit == -1 ? "max" : nil
        case -1:
            return "max"
        case let total? where total < -1:
            throw BerthError(.invalidConfig, "\(field): \(total) is neither -1 (unlimited) nor a byte count")
        case let total?:
            guard let limit, limit > 0 else {
                let given = limit.map { "is \($0)" } ?? "is not set"
                throw BerthError(.invalidConfig, "\(field): a memory+swap limit needs a memory limit, but linux.resources.memory.limit \(given) (cgroup v2 limits swap alone, as swap − limit)")
            }
            guard total >= limit else {
                throw BerthError(.invalidConfig, "\(field): \(total) is below linux.resources.memory.limit \(limit); swap is memory plus swap, so it must be at least the limit")
            }
            return String(total - limit)
        }
    }

    /// Checks a cpuset list such as `0-3,7` or `0-15:2/4` (the kernel's bitmap list syntax:
    /// numbers, ranges `a-b` with a ≤ b, optional `:used/group` strides on ranges).
    public static func isValidCPUList(_ text: String) -> Bool {
        func number(_ part: Substring) -> UInt32? {
            guard !part.isEmpty, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return UInt32(part)
        }
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let stride = item.split(separator: ":", omittingEmptySubsequences: false)
            guard stride.count <= 2 else { return false }
            let bounds = stride[0].split(separator: "-", omittingEmptySubsequences: false)
            switch bounds.count {
            case 1:
                guard stride.count == 1, number(bounds[0]) != nil else { return false }
            case 2:
                guard let low = number(bounds[0]), let high = number(bounds[1]), low <= high else { return false }
            default:
                return false
            }
            if stride.count == 2 {
                let parts = stride[1].split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, let used = number(parts[0]), let group = number(parts[1]),
                      used >= 1, used <= group else { return false }
            }
        }
        return true
    }

    /// Checks a hugetlb page size as the kernel names its files: digits then KB, MB or GB,
    /// e.g. `2MB`, `1GB`, `64KB`.
    public static func isValidPageSize(_ text: String) -> Bool {
        guard let unitStart = text.firstIndex(where: { !$0.isASCII || !$0.isNumber }) else { return false }
        let digits = text[..<unitStart]
        guard !digits.isEmpty, !digits.hasPrefix("0") else { return false }
        return ["KB", "MB", "GB"].contains(String(text[unitStart...]))
    }
}
