import Foundation
import Linux
import OCI
@testable import Runtime
import TestSupport
import Testing

/// Plans built from the config.json that `runc spec` (or `crun spec`) writes, the one every
/// tool that targets runc starts from.
@Suite struct RuncConfigPlanTests {
    /// The foreign tool's default config with the fixture's rootfs.
    static func foreignSpec(_ fixture: PlanFixture, _ generator: ForeignSpec = .runc) throws -> Spec {
        let directory = fixture.bundle + "/" + generator.rawValue
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: try ForeignSpec.executable(generator.rawValue))
        tool.arguments = ["spec", "--bundle", directory]
        try tool.run()
        tool.waitUntilExit()
        try #require(tool.terminationStatus == 0, "\(generator.rawValue) spec failed")
        var spec = try decodeJSON(Spec.self, from: Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/config.json"))))
        spec.root = Root(path: fixture.rootfs)
        return spec
    }

    /// `runc spec` lists ambient capabilities and no inheritable set: the kernel would refuse to
    /// raise them, so the plan keeps only those that are permitted and inheritable.
    @Test(arguments: ForeignSpec.allCases)
    func ambientCapabilitiesThatCannotBeRaisedAreLeftOut(_ generator: ForeignSpec) throws {
        let fixture = try PlanFixture()
        var spec = try Self.foreignSpec(fixture, generator)
        let configured = spec.process?.capabilities
        if generator == .runc { try #require(configured?.ambient?.isEmpty == false && configured?.inheritable == nil, "runc spec changed: \(String(describing: configured))") }
        var caps = try #require(try fixture.plan(spec).process.capabilities)
        #expect(caps.ambient.isEmpty)
        #expect(caps.bounding == caps.permitted && !caps.permitted.isEmpty)

        spec.process?.capabilities?.inheritable = ["CAP_KILL"]
        spec.process?.capabilities?.ambient = ["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_SYS_ADMIN"]
        caps = try #require(try fixture.plan(spec).process.capabilities)
        #expect(caps.ambient == [try #require(Capability.number("CAP_KILL"))], "only the permitted and inheritable one stays")
    }

    /// runtime-spec 1.2: a capability name the runtime does not know is a warning, not an error
    /// (a newer kernel's); a name that is no capability name at all stays an error.
    @Test func unknownCapabilityNamesAreSkippedAndMalformedOnesRefused() throws {
        let fixture = try PlanFixture()
        var spec = try Self.foreignSpec(fixture)
        let original = spec
        let before = try #require(try fixture.plan(spec).process.capabilities)
        spec.process?.capabilities?.bounding?.append("CAP_FUTURE_THING")
        spec.process?.capabilities?.effective?.insert("CAP_FUTURE_THING", at: 0)
        let after = try #require(try fixture.plan(spec).process.capabilities)
        #expect(after == before)
        for malformed in ["cap_kill", "CAP_", "KILL", "CAP_KILL ", "CAP_KI\u{0}LL", "CAP_kill"] {
            var bad = original
            bad.process?.capabilities?.permitted?.append(malformed)
            let error = try #require(throws: BerthError.self) { try fixture.plan(bad) }
            #expect(error.message.hasPrefix("process.capabilities.permitted[3]: "), "\(error)")
            #expect(!error.description.contains("\n") && !error.description.contains("\u{0}"), "\(error)")
        }
    }
}
