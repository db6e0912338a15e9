import BerthCore
import Glibc
import Linux
import SupervisorAPI

/// Turns a byte stream into log lines: full lines as `F`, and as `P` the fragments of a line
/// longer than `maximumLineBytes` (so one endless line cannot grow the supervisor) and what is
/// left without a newline when the stream ends.
struct LineSplitter {
    let stream: LogLine.Stream
    let maximumLineBytes: Int
    private(set) var pending: [UInt8] = []

    init(stream: LogLine.Stream, maximumLineBytes: Int = 16 << 10) {
        self.stream = stream
        self.maximumLineBytes = maximumLineBytes
    }

    /// The log lines `chunk` completes, all stamped with `timestamp`.
    mutating func feed(_ chunk: some Collection<UInt8>, timestamp: String) -> [UInt8] {
        var output: [UInt8] = []
        for byte in chunk {
            if byte == UInt8(ascii: "\n") {
                output += LogLine.format(timestamp: timestamp, stream: stream, partial: false, text: pending)
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
                if pending.count >= maximumLineBytes {
                    output += LogLine.format(timestamp: timestamp, stream: stream, partial: true, text: pending)
                    pending.removeAll(keepingCapacity: true)
                }
            }
        }
        return output
    }

    /// What is left at the end of the stream, or of a chunk from a terminal, as a `P` line.
    mutating func finish(timestamp: String) -> [UInt8] {
        guard !pending.isEmpty else { return [] }
        defer { pending = [] }
        return LogLine.format(timestamp: timestamp, stream: stream, partial: true, text: pending)
    }
}

/// The read end of one of the container's output fifos, or its terminal's master, pumped into
/// the log.
struct LogPump {
    let descriptor: FileDescriptor
    var splitter: LineSplitter
    /// A terminal's output: what a read returns goes to the log at once, finished line or not,
    /// so that a prompt shows before its line is typed.
    let flushesEveryChunk: Bool
    /// The id of the version whose output this is; set when the loop takes the pump over.
    var version = ""

    init(descriptor: FileDescriptor, stream: LogLine.Stream, flushesEveryChunk: Bool = false) {
        self.descriptor = descriptor
        splitter = LineSplitter(stream: stream)
        self.flushesEveryChunk = flushesEveryChunk
    }

    /// Reads what the fifo holds (up to `budget` bytes, so a chatty container cannot starve the
    /// control socket) into `log`. Returns true at end of file, after flushing the last fragment.
    mutating func pump(into log: inout LogFile, budget: Int = 256 << 10) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var total = 0
        while total < budget {
            let got = buffer.withUnsafeMutableBytes { Glibc.read(descriptor.rawValue, $0.baseAddress, $0.count) }
            if got < 0 && Glibc.errno == EINTR { continue }
            // A master reads EIO once every process holding its terminal has gone: its end of file.
            if got < 0 { return Glibc.errno != EAGAIN }
            let timestamp = Timestamp.now().description
            if got == 0 {
                write(splitter.finish(timestamp: timestamp), to: &log)
                return true
            }
            var lines = splitter.feed(buffer[0..<got], timestamp: timestamp)
            if flushesEveryChunk { lines += splitter.finish(timestamp: timestamp) }
            write(lines, to: &log)
            total += got
        }
        return false
    }

    private func write(_ lines: [UInt8], to log: inout LogFile) {
        do { try log.append(lines) } catch { SupervisorLog.warn("log \(log.path): \(error)") }
    }
}
