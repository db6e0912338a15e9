/// One line of a service's log, in the CRI log format that kubelet and containerd write:
///
///     2026-11-24T23:59:01.123456789Z stdout F hello
///
/// `F` ends a full line; `P` marks a fragment without its newline (a line longer than the
/// pump's line limit, or output that ended without a newline), so that `ctr logs` gives back
/// exactly the bytes the container wrote.
public struct LogLine: Equatable, Sendable {
    public enum Stream: String, Sendable {
        case stdout
        case stderr
    }

    public var timestamp: String
    public var stream: Stream
    public var partial: Bool
    /// The text without the newline.
    public var text: ArraySlice<UInt8>

    public init(timestamp: String, stream: Stream, partial: Bool, text: ArraySlice<UInt8>) {
        self.timestamp = timestamp
        self.stream = stream
        self.partial = partial
        self.text = text
    }

    /// The line as written to the log file, newline included.
    public static func format(timestamp: String, stream: Stream, partial: Bool, text: some Collection<UInt8>) -> [UInt8] {
        var bytes = Array(timestamp.utf8)
        bytes.reserveCapacity(bytes.count + text.count + 12)
        bytes.append(UInt8(ascii: " "))
        bytes += stream.rawValue.utf8
        bytes += partial ? Array(" P ".utf8) : Array(" F ".utf8)
        bytes += text
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Parses one line without its newline; nil for anything that is not a log line.
    public init?(parsing line: ArraySlice<UInt8>) {
        let space = UInt8(ascii: " ")
        guard let first = line.firstIndex(of: space) else { return nil }
        let afterTime = line.index(after: first)
        guard let second = line[afterTime...].firstIndex(of: space),
              let stream = Stream(rawValue: String(decoding: line[afterTime..<second], as: UTF8.self)) else { return nil }
        // The flag and the space after it are always there: an empty line is `... stdout F `.
        let flag = line.index(after: second)
        guard flag + 1 < line.endIndex, line[flag + 1] == space,
              line[flag] == UInt8(ascii: "F") || line[flag] == UInt8(ascii: "P") else { return nil }
        let textStart = flag + 2
        self.init(timestamp: String(decoding: line[line.startIndex..<first], as: UTF8.self), stream: stream,
                  partial: line[flag] == UInt8(ascii: "P"), text: line[textStart...])
    }
}
