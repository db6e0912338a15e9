import Foundation
import Glibc
import TestSupport
import Testing

/// Bundles whose config.json `runc spec` or `crun spec` wrote, as every tool that targets runc
/// starts from one: berth must run them as runc and crun do. Runs on the host and in the VM.
@Suite(.timeLimit(.minutes(5)))
struct RuncBundleIntegrationTests {
    /// The capability lines of /proc/self/status as a map, e.g. "CapAmb" -> 0x20.
    static func capabilityMasks(_ lines: [String]) -> [String: UInt64] {
        var masks: [String: UInt64] = [:]
        for line in lines where line.hasPrefix("Cap") {
            let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let value = UInt64(parts[1], radix: 16) { masks[parts[0]] = value }
        }
        return masks
    }

    static let capabilityBits: [String: Int] = ["CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10, "CAP_SYS_ADMIN": 21, "CAP_AUDIT_WRITE": 29]

    static func mask(_ names: [String]) throws -> UInt64 {
        try names.reduce(0) { $0 | (1 << UInt64(try #require(capabilityBits[$1], "no bit for \($1) in the test's table"))) }
    }

    // MARK: - The default config runs

    /// `runc spec` lists ambient capabilities without an inheritable set; the kernel refuses to
    /// raise those, and runc and crun run the process without them. So must berth.
    @Test(arguments: ForeignSpec.allCases)
    func defaultConfigRunsWithTheCapabilitiesTheKernelGrants(_ generator: ForeignSpec) async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(generator, ["grep", "^Cap", "/proc/self/status"])
            let caps = try #require(try bundle.config()["process.capabilities"] as? [String: [String]])
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            try #require(run.status == 0, "\(run)")
            #expect(!run.stderr.contains("ambient"), "\(run)")
            let masks = Self.capabilityMasks(run.lines)
            let inheritable = Set(caps["inheritable"] ?? [])
            let permitted = Set(caps["permitted"] ?? [])
            #expect(masks["CapPrm"] == (try Self.mask(Array(permitted))), "\(run)")
            #expect(masks["CapBnd"] == (try Self.mask(caps["bounding"] ?? [])), "\(run)")
            #expect(masks["CapInh"] == (try Self.mask(Array(inheritable))), "\(run)")
            let ambient = (caps["ambient"] ?? []).filter { permitted.contains($0) && inheritable.contains($0) }
            #expect(masks["CapAmb"] == (try Self.mask(ambient)), "\(run)")
        }
    }

    /// Ambient capabilities that are permitted and inheritable are raised; the others skipped.
    @Test func ambientCapabilitiesThatArePermittedAndInheritableAreRaised() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["grep", "^CapAmb", "/proc/self/status"]) {
                $0["process.capabilities.inheritable"] = ["CAP_KILL"]
                $0["process.capabilities.ambient"] = ["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_SYS_ADMIN"]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(Self.capabilityMasks(run.lines)["CapAmb"] == (try Self.mask(["CAP_KILL"])), "\(run)")
        }
    }

    /// runtime-spec 1.2: an unknown capability is a warning, as in runc; a malformed name is
    /// still an error naming its JSON path, and nothing is left behind.
    @Test func unknownCapabilityIsAWarningAndAMalformedOneAnError() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"]) {
                $0["process.capabilities.bounding"] = ["CAP_KILL", "CAP_FUTURE_THING"]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.stderr.contains("warning") && run.stderr.contains("CAP_FUTURE_THING"), "\(run)")
            var config = try bundle.config()
            config["process.capabilities.bounding"] = ["CAP_KILL", "cap_future_thing"]
            try bundle.save(config)
            let bad = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(bad.status != 0, "\(bad)")
            #expect(bad.errorLine.contains("process.capabilities.bounding[1]"), "\(bad)")
        }
    }

    // MARK: - The lifecycle, as the other suites check it for berth's own config

    @Test(arguments: ForeignSpec.allCases)
    func exitStatusOfTheProcessIsBerthRunsExitStatus(_ generator: ForeignSpec) async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(generator, ["sh", "-c", "echo out; echo err >&2; exit 7"])
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 7, "\(run)")
            #expect(run.stdout == "out\n" && run.stderr == "err\n", "\(run)")
        }
    }

    @Test(arguments: ForeignSpec.allCases)
    func execRunsInTheContainerWithItsOwnExitStatus(_ generator: ForeignSpec) async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(generator, ["sleep", "1000"]) { $0["hostname"] = "foreign-exec" }
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let exec = try await s.berth("exec", id, "sh", "-c", "hostname; grep ^CapEff /proc/self/status; exit 3")
            #expect(exec.status == 3, "\(exec)")
            #expect(exec.lines.first == "foreign-exec", "\(exec)")
            let caps = try #require(try bundle.config()["process.capabilities.effective"] as? [String])
            #expect(Self.capabilityMasks(exec.lines)["CapEff"] == (try Self.mask(caps)), "\(exec)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test(arguments: ForeignSpec.allCases)
    func killStopsTheContainerAndDeleteRemovesIt(_ generator: ForeignSpec) async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(generator, ["sleep", "1000"])
            let id = s.newID()
            let create = try await s.berth("create", "--bundle", bundle.path, id)
            try #require(create.succeeded, "\(create)")
            #expect(try await s.status(id) == "created")
            try #require(try await s.berth("start", id).succeeded)
            #expect(try await s.status(id) == "running")
            let refused = try await s.berth("delete", id)
            #expect(refused.status != 0, "delete without --force of a running container: \(refused)")
            let kill = try await s.berth("kill", id, "KILL")
            #expect(kill.succeeded, "\(kill)")
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(try await s.berth("delete", id).succeeded)
            #expect(try await s.state(id) == nil)
        }
    }

    @Test(arguments: ForeignSpec.allCases)
    func forceDeleteRemovesARunningContainer(_ generator: ForeignSpec) async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(generator, ["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let pid = pid_t(try #require(try await s.state(id)?["pid"] as? Int))
            #expect(try await s.berth("delete", "--force", id).succeeded)
            #expect(await HostProcesses.waitGone(pid), "init \(pid) survived delete --force")
            #expect(try await s.state(id) == nil)
        }
    }
}
