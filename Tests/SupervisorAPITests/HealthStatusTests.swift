import BerthCore
import OCI
import SupervisorAPI
import Testing

/// The health bookkeeping the supervisor writes to status.json: states, streaks, history,
/// output excerpts, and files from before health checks existed.
struct HealthStatusTests {
    static func result(_ exitCode: Int32?, output: String = "") -> HealthResult {
        HealthResult(start: Timestamp(nanoseconds: 1_000), end: Timestamp(nanoseconds: 2_000), exitCode: exitCode, output: output)
    }

    /// `health.record`, outside #expect, which cannot take a mutating call.
    static func turned(_ health: inout HealthStatus, _ exitCode: Int32?, retries: Int, inStartPeriod: Bool = false) -> Bool {
        health.record(result(exitCode), retries: retries, inStartPeriod: inStartPeriod)
    }

    @Test func failuresUpToRetriesMakeItUnhealthyOnceAndAPassResetsTheStreak() {
        var health = HealthStatus()
        #expect(health.state == .starting && health.failingStreak == 0)
        #expect(!Self.turned(&health, 1, retries: 3, inStartPeriod: false))
        #expect(!Self.turned(&health, nil, retries: 3, inStartPeriod: false), "a check that did not exit fails")
        #expect(health.state == .starting && health.failingStreak == 2)
        #expect(Self.turned(&health, 2, retries: 3, inStartPeriod: false), "the third failure turns it unhealthy")
        #expect(health.state == .unhealthy && health.failingStreak == 3)
        #expect(!Self.turned(&health, 1, retries: 3, inStartPeriod: false), "only the turn is reported, not every failure after")
        #expect(health.state == .unhealthy && health.failingStreak == 4)
        #expect(!Self.turned(&health, 0, retries: 3, inStartPeriod: false))
        #expect(health.state == .healthy && health.failingStreak == 0)
        #expect(!Self.turned(&health, 1, retries: 3, inStartPeriod: false))
        #expect(health.state == .healthy && health.failingStreak == 1, "one failure does not undo healthy")
    }

    @Test func failuresInTheStartPeriodDoNotCountButAPassDoes() {
        var health = HealthStatus()
        for _ in 0..<5 { #expect(!Self.turned(&health, 1, retries: 1, inStartPeriod: true)) }
        #expect(health.state == .starting && health.failingStreak == 0 && health.results.count == 5)
        #expect(!Self.turned(&health, 0, retries: 1, inStartPeriod: true))
        #expect(health.state == .healthy)
        #expect(Self.turned(&health, 1, retries: 1, inStartPeriod: false))
        #expect(health.state == .unhealthy)
    }

    @Test func onlyTheLastResultsAreKept() {
        var health = HealthStatus()
        for code in 0..<(HealthStatus.resultHistoryLength + 3) {
            _ = health.record(Self.result(Int32(code)), retries: 100, inStartPeriod: false)
        }
        #expect(health.results.count == HealthStatus.resultHistoryLength)
        #expect(health.results.first?.exitCode == 3 && health.results.last?.exitCode == Int32(HealthStatus.resultHistoryLength + 2))
    }

    @Test func outputExcerptsStopAtTheLimitOnACharacterBoundary() {
        #expect(HealthStatus.excerpt(Array("ok\n".utf8)) == "ok\n")
        let exact = [UInt8](repeating: UInt8(ascii: "a"), count: HealthStatus.outputLimit)
        #expect(HealthStatus.excerpt(exact) == String(repeating: "a", count: HealthStatus.outputLimit))
        let long = HealthStatus.excerpt([UInt8](repeating: UInt8(ascii: "a"), count: 10_000))
        #expect(long == String(repeating: "a", count: HealthStatus.outputLimit) + "…")
        // "é" is two bytes; the limit falls between them, so the cut comes before it.
        let split = [UInt8](repeating: UInt8(ascii: "a"), count: HealthStatus.outputLimit - 1) + Array("é and more".utf8)
        let cut = HealthStatus.excerpt(split)
        #expect(cut == String(repeating: "a", count: HealthStatus.outputLimit - 1) + "…")
        #expect(!cut.contains("\u{FFFD}"))
    }

    @Test func statusWithHealthRoundTripsAndOldFilesStillDecode() throws {
        var status = ServiceStatus(state: .running, supervisorPid: 1)
        status.health = HealthStatus(state: .unhealthy, failingStreak: 2,
                                     results: [Self.result(1, output: "no\n"), Self.result(nil, output: "timed out")])
        let decoded = try decodeJSON(ServiceStatus.self, from: try encodeJSON(status))
        #expect(decoded == status)
        #expect(decoded.health?.results.last?.exitCode == nil)

        let old = """
        {"state":"running","supervisorPid":7,"supervisorStartTime":1,"pid":8,"pidStartTime":2,"restartCount":0,
         "stopRequested":false,"exits":[]}
        """
        let legacy = try decodeJSON(ServiceStatus.self, from: old)
        #expect(legacy.health == nil && legacy.pid == 8)
    }

    @Test func definitionWithACheckRoundTripsAndOldFilesStillDecode() throws {
        let check = HealthCheck(command: "test -e /tmp/ok", intervalMilliseconds: 200, timeoutMilliseconds: 1000, retries: 2,
                                startPeriodMilliseconds: 500)
        let definition = ServiceDefinition(name: "web", id: "0123456789ab", source: "/r", bundle: "/b", rootfs: "/r", command: ["sh"],
                                           created: Timestamp(nanoseconds: 0), health: check)
        #expect(try decodeJSON(ServiceDefinition.self, from: try encodeJSON(definition)) == definition)

        let old = """
        {"name":"web","id":"0123456789ab","source":"/r","bundle":"/b","rootfs":"/r","command":["sh"],"restart":"no",
         "removeWhenDone":false,"limits":{},"logMaximumBytes":1024,"created":"2026-11-24T23:59:01Z"}
        """
        let decoded = try decodeJSON(ServiceDefinition.self, from: old)
        #expect(decoded.health == nil)
        // Files from before ctr run -t/-i: no terminal, stdin from /dev/null.
        #expect(decoded.terminal == nil && !decoded.hasTerminal && !decoded.hasStdin)
        let interactive = ServiceDefinition(name: "sh", id: "0123456789ab", source: "/r", bundle: "/b", rootfs: "/r", command: ["sh"],
                                            created: Timestamp(nanoseconds: 0), terminal: true, stdin: true)
        let back = try decodeJSON(ServiceDefinition.self, from: try encodeJSON(interactive))
        #expect(back == interactive && back.hasTerminal && back.hasStdin)
    }
}
