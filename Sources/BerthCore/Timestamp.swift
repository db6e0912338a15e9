import Glibc

/// A wall-clock time, kept as nanoseconds since the epoch and written as RFC 3339 UTC with
/// nanoseconds (`2026-11-24T23:59:01.123456789Z`), as runc writes `created`: berth's
/// state.json and --log, ctr's status.json, the service log and `ctr inspect` share it, and it
/// sorts as text.
public struct Timestamp: Codable, Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static func now() -> Timestamp {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        return Timestamp(nanoseconds: Int64(clock.tv_sec) * 1_000_000_000 + Int64(clock.tv_nsec))
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Seconds from `earlier` to this time.
    public func seconds(since earlier: Timestamp) -> Double {
        Double(nanoseconds - earlier.nanoseconds) / 1e9
    }

    public var description: String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        let fraction = nanoseconds % 1_000_000_000
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(fraction, 9))Z"
    }

    /// Parses what `description` writes; the fraction may have 0 to 9 digits.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int32? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int32 = 0
            for byte in bytes[range] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int32(byte - 0x30)
            }
            return value
        }
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes.last == UInt8(ascii: "Z"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var fraction: Int64 = 0
        if bytes.count > 20 {
            let digits = 20..<(bytes.count - 1)
            guard bytes[19] == UInt8(ascii: "."), digits.count <= 9, let value = number(digits) else { return nil }
            fraction = Int64(value)
            for _ in digits.count..<9 { fraction *= 10 }
        } else if bytes.count != 20 {
            return nil
        }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        nanoseconds = Int64(timegm(&parts)) * 1_000_000_000 + fraction
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = Timestamp(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 UTC time: \"\(text)\""))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The monotonic clock in nanoseconds, for timers and uptime: it does not jump with the wall clock.
public func monotonicNanoseconds() -> Int64 {
    var clock = timespec()
    clock_gettime(CLOCK_MONOTONIC, &clock)
    return Int64(clock.tv_sec) * 1_000_000_000 + Int64(clock.tv_nsec)
}

private func pad<T: BinaryInteger>(_ value: T, _ width: Int) -> String {
    let text = String(value)
    return String(repeating: "0", count: max(0, width - text.count)) + text
}
