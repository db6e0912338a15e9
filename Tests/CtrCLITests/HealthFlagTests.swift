@testable import CtrCLI
import Linux
import SupervisorAPI
import Testing

/// `--health-*`: durations, defaults, and refusals that name the flag and show an example.
struct HealthFlagTests {
    static let durations: [(String, Int64)] = [
        ("500ms", 500), ("2s", 2000), ("1m", 60_000), ("1h", 3_600_000), ("1.5s", 1500), ("0.1s", 100),
        ("1m30s", 90_000), ("1h2m3s4ms", 3_723_004), ("24h", 86_400_000), ("0.25m", 15_000),
    ]

    @Test(arguments: durations)
    func durationsTakeUnits(_ text: String, _ milliseconds: Int64) throws {
        #expect(try FlagValues.duration(text, flag: "--health-interval") == milliseconds)
    }

    @Test(arguments: ["", "30", "s", "ms", "2x", "1.s5", "-1s", "1 s", "2sec", ".s", "1.2.3s", "0x10s", "1s2"])
    func badDurationsNameTheFlagWithAnExample(_ text: String) {
        #expect {
            try FlagValues.duration(text, flag: "--health-interval", example: "10s")
        } throws: { error in
            let message = "\(error)"
            return message.contains("flag --health-interval") && message.contains("is not a duration")
                && message.contains("e.g. --health-interval 10s") && !message.contains("\n")
        }
    }

    @Test(arguments: ["0s", "0ms", "0.0001s", "25h", "1441m", "99999999999h"])
    func durationsOutOfRangeAreRefused(_ text: String) {
        #expect {
            try FlagValues.duration(text, flag: "--health-timeout", example: "5s")
        } throws: { "\($0)".contains("flag --health-timeout: \"\(text)\" is not between 1ms and 24h (e.g. --health-timeout 5s)") }
    }

    @Test func aStartPeriodMayBeZero() throws {
        #expect(try FlagValues.duration("0s", flag: "--health-start-period", minimum: 0) == 0)
    }

    @Test func healthFlagsMakeTheCheckWithDockersDefaults() throws {
        let plain = try RunOptions(parsing: ["--health-cmd", "test -e /tmp/ok", "/r"])
        #expect(plain.health == HealthCheck(command: "test -e /tmp/ok", intervalMilliseconds: 30_000, timeoutMilliseconds: 30_000,
                                            retries: 3, startPeriodMilliseconds: 0))
        let tuned = try RunOptions(parsing: ["--health-cmd=wget -q localhost", "--health-interval", "200ms", "--health-timeout=1s",
                                             "--health-retries", "2", "--health-start-period", "1m", "/r", "--", "httpd"])
        #expect(tuned.health == HealthCheck(command: "wget -q localhost", intervalMilliseconds: 200, timeoutMilliseconds: 1000,
                                            retries: 2, startPeriodMilliseconds: 60_000))
        #expect(tuned.health?.arguments == ["/bin/sh", "-c", "wget -q localhost"])
        #expect(tuned.command == ["httpd"])
        #expect(try RunOptions(parsing: ["/r"]).health == nil)
    }

    @Test(arguments: [
        (["--health-interval", "1s"], "flag --health-interval: needs --health-cmd"),
        (["--health-retries", "2"], "flag --health-retries: needs --health-cmd"),
        (["--health-timeout", "1s"], "flag --health-timeout: needs --health-cmd"),
        (["--health-start-period", "1s"], "flag --health-start-period: needs --health-cmd"),
        (["--health-cmd", " "], "flag --health-cmd: the command is empty"),
        (["--health-cmd", "true", "--health-retries", "0"], "flag --health-retries: \"0\" is not a positive whole number"),
        (["--health-cmd", "true", "--health-retries", "x"], "(e.g. --health-retries 3)"),
        (["--health-cmd", "true", "--health-interval", "10"], "flag --health-interval: \"10\" is not a duration"),
        (["--health-cmd", "true", "--health-timeout", "0s"], "flag --health-timeout: \"0s\" is not between 1ms and 24h"),
        (["--health-cmd", "true", "--health-start-period", "soon"], "(e.g. --health-start-period 30s)"),
    ])
    func badHealthFlagsAreRefusedByName(_ flags: [String], _ message: String) {
        #expect { try RunOptions(parsing: flags + ["/r"]) } throws: { "\($0)".contains(message) }
    }
}
