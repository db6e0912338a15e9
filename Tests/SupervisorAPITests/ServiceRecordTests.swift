import Linux
import OCI
import SupervisorAPI
import Testing

/// The files the supervisor writes and ctr reads: times, restart decisions, log lines.
struct ServiceRecordTests {
    @Test func restartPolicyDecisions() {
        #expect(!RestartPolicy.no.restarts(after: .exited(1), restartsSoFar: 0))
        #expect(RestartPolicy.always.restarts(after: .exited(0), restartsSoFar: 100))
        let threeTimes = RestartPolicy.onFailure(maximumRestarts: 3)
        #expect(!threeTimes.restarts(after: .exited(0), restartsSoFar: 0), "success is not a failure")
        #expect(threeTimes.restarts(after: .exited(2), restartsSoFar: 2))
        #expect(threeTimes.restarts(after: .signaled(9), restartsSoFar: 0), "a signal is a failure")
        #expect(threeTimes.restarts(after: nil, restartsSoFar: 0), "a container that could not start is a failure")
        #expect(!threeTimes.restarts(after: .exited(2), restartsSoFar: 3))
        #expect(RestartPolicy.onFailure(maximumRestarts: nil).restarts(after: .exited(1), restartsSoFar: 1000))
    }

    @Test func statusRoundTripsThroughJSONAndKeepsARecentHistory() throws {
        var status = ServiceStatus(state: .restarting, supervisorPid: 1, nextRestartAt: .now())
        for code in 0..<(ServiceStatus.exitHistoryLength + 5) {
            status.record(ExitRecord(startedAt: .now(), finishedAt: .now(), exitCode: Int32(code)))
        }
        #expect(status.exits.count == ServiceStatus.exitHistoryLength)
        #expect(status.lastExit?.exitCode == Int32(ServiceStatus.exitHistoryLength + 4))
        #expect(try decodeJSON(ServiceStatus.self, from: try encodeJSON(status)) == status)
        #expect(ExitRecord(startedAt: nil, finishedAt: .now(), signal: 9).shellStatus == 137)
    }

    @Test func logLinesFormatAndParse() throws {
        let full = LogLine.format(timestamp: "2026-11-24T23:59:01.123456789Z", stream: .stdout, partial: false, text: Array("hello world".utf8))
        #expect(String(decoding: full, as: UTF8.self) == "2026-11-24T23:59:01.123456789Z stdout F hello world\n")
        let line = try #require(LogLine(parsing: full.dropLast()))
        #expect(line.stream == .stdout && !line.partial && Array(line.text) == Array("hello world".utf8))
        let empty = try #require(LogLine(parsing: LogLine.format(timestamp: "t", stream: .stderr, partial: true, text: []).dropLast()))
        #expect(empty.stream == .stderr && empty.partial && empty.text.isEmpty)
        for bad in ["", "t", "t stdout", "t stdout F", "t stdin F x", "t stdout X x", "t stdout Fx"] {
            #expect(LogLine(parsing: ArraySlice(bad.utf8)) == nil, "\(bad)")
        }
    }

    @Test func limitsPrintShort() {
        #expect(ServiceLimits().description == "-")
        #expect(ServiceLimits(memoryBytes: 64 << 20, cpus: "0.5", pids: 10).description == "mem=64M cpus=0.5 pids=10")
        #expect(ByteCount.text(1536) == "1536" && ByteCount.text(2 << 30) == "2G" && ByteCount.text(3 << 10) == "3k")
    }
}
