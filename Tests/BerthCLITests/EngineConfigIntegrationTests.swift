import Foundation
import Glibc
import TestSupport
import Testing

/// The config.json files that podman and containerd really generate (captured, see
/// `EngineConfig`), run by `berth` without an engine: each must start, give its output and exit
/// status, and leave nothing. Runs on the host and again in the cgroup v2 VM, where the engines'
/// limits apply too.
@Suite(.timeLimit(.minutes(5)))
struct EngineConfigIntegrationTests {
    @Test(arguments: EngineConfig.allCases)
    func engineConfigRunsAndReportsTheStatus(_ engine: EngineConfig) async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.engineBundle(engine, ["/bin/sh", "-c", "echo from-$0; exit 7", engine.rawValue])
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 7, "\(run)")
            #expect(run.lines == ["from-\(engine.rawValue)"], "\(run)")
        }
    }

    /// What each engine asks for reaches the process: its capabilities (podman gives 11,
    /// containerd 14) and its masked paths.
    @Test(arguments: EngineConfig.allCases)
    func engineConfigCapabilitiesAndMasksApply(_ engine: EngineConfig) async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.engineBundle(engine, ["/bin/sh", "-c", "grep CapEff /proc/self/status; wc -c < /proc/timer_list"])
            let expected = try #require(try bundle.config()["process.capabilities.effective"] as? [String])
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            try #require(run.lines.count == 2, "\(run)")
            let mask = UInt64(run.lines[0].split(separator: "\t").last ?? "", radix: 16) ?? 0
            #expect(mask.nonzeroBitCount == expected.count, "CapEff \(run.lines[0]) for \(expected)")
            // /proc/timer_list is masked with /dev/null by both (the host's has kilobytes).
            #expect((try bundle.config()["linux.maskedPaths"] as? [String] ?? []).contains("/proc/timer_list"))
            #expect(run.lines[1].trimmingCharacters(in: .whitespaces) == "0", "\(run)")
        }
    }
}
