import Foundation
import Glibc
import TestSupport
import Testing

/// `berth create` with a bad bundle or ID: it must fail with a non-zero status and a one-line
/// message naming the field or path at fault, and leave nothing behind (the sandbox checks the
/// state directory, the cgroup and the processes after each test).
@Suite(.timeLimit(.minutes(5)))
struct BadInputTests {
    /// Runs `berth create` and checks the failure; returns the error line.
    @discardableResult
    static func expectRefused(_ s: BerthSandbox, bundle: TestBundle, id: String? = nil, mentioning fragments: [String],
                              sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let result = try await s.berth("create", "--bundle", bundle.path, id ?? s.newID())
        #expect(result.status != 0 && !result.timedOut, "create should fail: \(result)", sourceLocation: sourceLocation)
        let line = result.errorLine
        #expect(line.hasPrefix("berth: ") && !line.isEmpty && !line.contains("\n"),
                "want one line on stderr: \(result)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(line.contains(fragment), "the message should name \(fragment): \(line)", sourceLocation: sourceLocation)
        }
        #expect(result.stdout.isEmpty, "\(result)", sourceLocation: sourceLocation)
        return line
    }

    @Test func missingRootfsIsRefusedNamingRootPath() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"]) { $0["root.path"] = "no-such-rootfs" }
            try await Self.expectRefused(s, bundle: bundle, mentioning: ["root.path", bundle.path + "/no-such-rootfs"])
        }
    }

    @Test func malformedJSONIsRefusedNamingTheConfigFile() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            try bundle.write("config.json", "{\"ociVersion\": \"1.2.0\", \"process\": {\"args\": [\"true\",}")
            try await Self.expectRefused(s, bundle: bundle, mentioning: [bundle.configPath])
        }
    }

    @Test func missingConfigIsRefusedNamingTheFile() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            try FileManager.default.removeItem(atPath: bundle.configPath)
            try await Self.expectRefused(s, bundle: bundle, mentioning: [bundle.configPath])
        }
    }

    @Test func unknownNamespaceTypeIsRefusedNamingTheEntry() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"]) { $0["linux.namespaces.2.type"] = "bogus" }
            try await Self.expectRefused(s, bundle: bundle, mentioning: ["linux.namespaces[2].type", "bogus"])
        }
    }

    @Test(arguments: ["a/b", "..", ".hidden", "../escape", ""])
    func idThatIsNotAPlainNameIsRefused(_ id: String) async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            try await Self.expectRefused(s, bundle: bundle, id: id, mentioning: ["container id"])
            // Nothing was made next to the state directory either.
            #expect(!FileManager.default.fileExists(atPath: s.directory.path + "/escape"))
            #expect(!FileManager.default.fileExists(atPath: s.stateRoot + "/a"))
        }
    }

    @Test func relativeMountDestinationIsRefusedNamingTheMount() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"]) { $0.addMount(destination: "data", type: "tmpfs", source: "tmpfs") }
            let index = try (bundle.config()["mounts"] as? [Any] ?? []).count - 1
            try await Self.expectRefused(s, bundle: bundle, mentioning: ["mounts[\(index)].destination", "\"data\""])
        }
    }

    /// A name berth does not know is only a warning (runtime-spec 1.2, RuncBundleIntegrationTests);
    /// one that is not a capability name at all is refused.
    @Test func malformedCapabilityIsRefusedNamingTheEntry() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"]) { $0["process.capabilities.bounding.1"] = "cap_no_such_thing" }
            try await Self.expectRefused(s, bundle: bundle, mentioning: ["process.capabilities.bounding[1]", "cap_no_such_thing"])
        }
    }

    /// True when the cgroup2 hierarchy can hand out the memory controller: not on a hybrid host
    /// whose memory controller belongs to cgroup v1.
    static let cgroup2HasMemory: Bool = {
        guard let mount = HostCgroup.mount,
              let controllers = try? String(contentsOfFile: mount + "/cgroup.controllers", encoding: .utf8) else { return false }
        return controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("memory")
    }()

    /// The limit is refused at create, after the cgroup was made: the sandbox checks it is gone.
    @Test(.disabled(if: cgroup2HasMemory, "cgroup2 here has the memory controller: the limit would apply"))
    func memoryLimitIsRefusedWhenCgroup2LacksTheMemoryController() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"]) { $0["linux.resources.memory.limit"] = 67_108_864 }
            let line = try await Self.expectRefused(s, bundle: bundle, mentioning: ["linux.resources.memory.limit", "memory controller"])
            #expect(!line.contains("\n"))
        }
    }

    @Test func terminalWithoutAConsoleSocketIsRefused() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"]) { $0["process.terminal"] = true }
            try await Self.expectRefused(s, bundle: bundle, mentioning: ["process.terminal"])
        }
    }

    @Test func missingExecutableIsRefusedNamingProcessArgs() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["no-such-program"])
            try await Self.expectRefused(s, bundle: bundle, mentioning: ["process.args[0]", "no-such-program"])
        }
    }

    @Test func errorsAreAlsoWrittenToTheLogFileAsJSONOrQuotedText() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            let jsonLog = s.directory.path + "/log.json", textLog = s.directory.path + "/log.txt"
            let badID = "bad/\"quoted\""
            let json = try await s.berth(["--log", jsonLog, "--log-format", "json", "create", "--bundle", bundle.path, badID])
            #expect(json.status != 0)
            let line = try String(contentsOfFile: jsonLog, encoding: .utf8)
            let entry = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(entry["level"] as? String == "error")
            #expect(entry["msg"] as? String == String(json.errorLine.dropFirst("berth: ".count)))
            #expect(entry["time"] is String)

            let text = try await s.berth(["--log", textLog, "create", "--bundle", bundle.path, badID])
            #expect(text.status != 0)
            let logged = try String(contentsOfFile: textLog, encoding: .utf8)
            // logfmt: msg="..." with the inner quotes escaped, so the value ends at the last quote.
            #expect(logged.contains(" level=error msg=\"container id \\\"bad/\\\"quoted\\\"\\\""), "\(logged)")
            #expect(logged.hasSuffix("\"\n") && logged.split(separator: "\n").count == 1, "\(logged)")
        }
    }

    @Test func failingCreateRuntimeHookIsRefusedNamingTheHook() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            try bundle.write("fail.sh", "#!/bin/sh\ncat > /dev/null\nexit 1\n", mode: 0o755)
            var config = try bundle.config()
            config.addHook("createRuntime", path: bundle.path + "/fail.sh", env: [s.marker, "PATH=/usr/bin:/bin"])
            try bundle.save(config)
            try await Self.expectRefused(s, bundle: bundle, mentioning: ["error running createRuntime hook #0: exit status 1"])
        }
    }

    @Test func hookOverItsTimeoutIsKilledAndCreateFails() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            try bundle.write("slow.sh", "#!/bin/sh\necho $$ > \"$1\"\nexec sleep 100\n", mode: 0o755)
            var config = try bundle.config()
            let pidFile = bundle.path + "/slow.pid"
            config.addHook("prestart", path: bundle.path + "/slow.sh", args: ["slow.sh", pidFile], env: [s.marker, "PATH=/usr/bin:/bin"], timeout: 1)
            try bundle.save(config)
            let started = Date()
            try await Self.expectRefused(s, bundle: bundle, mentioning: ["error running prestart hook #0: hook ran past specified timeout of 1.0s"])
            // Far below the hook's 100 s sleep, with room for a host at load 12 (35 s seen there).
            #expect(Date().timeIntervalSince(started) < max(90, 30 * TestTiming.scale))
            let hookPid = try #require(pid_t((bundle.read("slow.pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(await HostProcesses.waitGone(hookPid), "the timed-out hook \(hookPid) still runs")
        }
    }
}
