import Glibc
import Linux
@testable import Supervisor
import SupervisorAPI
import Testing
import TestSupport

/// The log pump's pieces: splitting output into lines, the size cap with one rotation, and the
/// restart back-off.
struct LogPumpTests {
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func fullLinesAreWrittenAndTheRestWaits() {
        var splitter = LineSplitter(stream: .stdout)
        #expect(Self.text(splitter.feed(Array("one\ntw".utf8), timestamp: "T")) == "T stdout F one\n")
        #expect(Self.text(splitter.feed(Array("o\n\nthree".utf8), timestamp: "U")) == "U stdout F two\nU stdout F \n")
        #expect(Self.text(splitter.finish(timestamp: "V")) == "V stdout P three\n")
        #expect(splitter.finish(timestamp: "W").isEmpty)
    }

    @Test func anEndlessLineIsCutIntoPartialLines() {
        var splitter = LineSplitter(stream: .stderr, maximumLineBytes: 4)
        #expect(Self.text(splitter.feed(Array("abcdefghij\n".utf8), timestamp: "T")) == "T stderr P abcd\nT stderr P efgh\nT stderr F ij\n")
    }

    @Test func theLogRotatesOnceAtItsCap() throws {
        let directory = try TemporaryDirectory("ctr-log")
        defer { directory.remove() }
        let path = directory.path + "/log"
        var log = try LogFile(path: path, rotatedPath: path + ".1", maximumBytes: 100)
        let line = [UInt8](repeating: UInt8(ascii: "a"), count: 39) + [UInt8(ascii: "\n")]
        for _ in 0..<2 { try log.append(line) }
        #expect(log.size == 80)
        #expect(!Files.exists(path + ".1"))
        try log.append(line)
        #expect(log.size == 40)
        #expect(try Files.read(path + ".1").count == 80)
        for _ in 0..<4 { try log.append(line) }
        // Only one old file is kept: the oldest lines are gone.
        #expect(try Files.read(path + ".1").count == 80)
        #expect(try Files.read(path).count == 40)
        log.close()
        // Reopening continues where the file ends.
        var reopened = try LogFile(path: path, rotatedPath: path + ".1", maximumBytes: 100)
        #expect(reopened.size == 40)
        try reopened.append(line)
        reopened.close()
    }

    @Test func backoffDoublesFromATenthToTenSecondsAndResetsAfterTenSecondsUp() {
        var backoff = RestartBackoff()
        let delays = (0..<10).map { _ in backoff.delay(afterUptime: 0) }
        #expect(delays.map { Double($0) / 1e9 } == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10, 10, 10])
        #expect(backoff.delay(afterUptime: 9_000_000_000) == 10_000_000_000)
        #expect(backoff.delay(afterUptime: 10_000_000_000) == 100_000_000)
        #expect(backoff.delay(afterUptime: 0) == 200_000_000)
    }

    /// Pumps a pipe into a fresh log: `chunks` written one at a time, a pump after each, then the
    /// write end closed and a last pump. Returns what each pump returned and the log's lines,
    /// split as bytes (to Swift's String "\r\n" is one Character, not a "\n").
    static func pumped(_ chunks: [String], flushesEveryChunk: Bool = false) throws -> (ends: [Bool], lines: [String]) {
        let directory = try TemporaryDirectory("ctr-pump")
        defer { directory.remove() }
        var log = try LogFile(path: directory.path + "/log", rotatedPath: directory.path + "/log.1", maximumBytes: 1 << 20)
        let pipe = try makePipe()
        _ = fcntl(pipe.read.rawValue, F_SETFL, O_NONBLOCK)
        var pump = LogPump(descriptor: pipe.read, stream: .stdout, flushesEveryChunk: flushesEveryChunk)
        var ends: [Bool] = []
        for chunk in chunks {
            try pipe.write.writeAll(chunk)
            ends.append(pump.pump(into: &log))
        }
        pipe.write.close()
        ends.append(pump.pump(into: &log))
        pipe.read.close()
        log.close()
        let lines = try Files.read(directory.path + "/log").split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
        return (ends, lines)
    }

    @Test func aPumpReadsAPipeIntoTheLogUntilEndOfFile() throws {
        let (ends, lines) = try Self.pumped(["hello\nwor"])
        #expect(ends == [false, true], "open, then end of file")
        #expect(lines.count == 2 && lines[0].hasSuffix(" stdout F hello") && lines[1].hasSuffix(" stdout P wor"), "\(lines)")
    }

    /// A terminal's prompt has no newline: it must reach the log before the line is typed.
    @Test func aTerminalPumpLogsWhatEachReadReturnsAtOnce() throws {
        let (ends, lines) = try Self.pumped(["done\r\n/ # ", "ls\r\n"], flushesEveryChunk: true)
        #expect(ends == [false, false, true])
        #expect(lines.count == 3 && lines[0].hasSuffix(" stdout F done\r") && lines[1].hasSuffix(" stdout P / # ")
                && lines[2].hasSuffix(" stdout F ls\r"), "\(lines)")
    }
}
