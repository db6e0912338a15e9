import BerthCore
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

    /// runc spec's config with one of every kind of string that reaches the kernel.
    static func richConfig(_ fixture: PlanFixture) throws -> [String: Any] {
        var spec = try foreignSpec(fixture)
        spec.hostname = "rich"
        spec.domainname = "example"
        spec.mounts?.append(Mount(destination: "/data", type: "tmpfs", source: "tmpfs", options: ["size=1m", "mode=755"]))
        spec.hooks = Hooks(prestart: [Hook(path: "/bin/true", args: ["true", "arg"], env: ["A=b"])],
                           startContainer: [Hook(path: "/bin/true", args: ["true"], env: ["A=b"])])
        spec.process?.env?.append("B=c")
        spec.linux?.sysctl = ["kernel.shmmax": "65536"]
        spec.linux?.maskedPaths = ["/proc/kcore"]
        spec.linux?.readonlyPaths = ["/proc/sys"]
        spec.linux?.devices = [LinuxDevice(path: "/dev/fuse", type: .char, major: 10, minor: 229)]
        spec.linux?.namespaces?[1].path = "/proc/self/ns/net"
        spec.linux?.cgroupsPath = "/berth/rich"
        spec.linux?.seccomp = LinuxSeccomp(defaultAction: .allow, listenerPath: "/run/agent.sock",
                                           syscalls: [LinuxSyscall(names: ["mkdir"], action: .errno)])
        spec.annotations = ["note": "free text"]
        return try #require(try JSONSerialization.jsonObject(with: Data(encodeJSON(spec).utf8)) as? [String: Any])
    }

    /// Every string leaf of `value` with the JSON path berth's errors use for it; the members
    /// of a map (sysctl, unified) are named by the map's path.
    static func stringLeaves(_ value: Any, path: String, keys: [Any] = []) -> [(path: String, keys: [Any])] {
        if value is String { return [(path, keys)] }
        if let array = value as? [Any] {
            return array.indices.flatMap { stringLeaves(array[$0], path: "\(path)[\($0)]", keys: keys + [$0]) }
        }
        guard let object = value as? [String: Any] else { return [] }
        let isMap = ["linux.sysctl", "linux.resources.unified"].contains(path)
        return object.keys.sorted().flatMap { key in
            stringLeaves(object[key] as Any, path: isMap ? path : (path.isEmpty ? key : "\(path).\(key)"), keys: keys + [key])
        }
    }

    static func setting(_ value: Any, at keys: ArraySlice<Any>, to leaf: Any) -> Any {
        guard let key = keys.first else { return leaf }
        if let index = key as? Int, var array = value as? [Any] {
            array[index] = setting(array[index], at: keys.dropFirst(), to: leaf)
            return array
        }
        guard let name = key as? String, var object = value as? [String: Any] else { return value }
        object[name] = setting(object[name] as Any, at: keys.dropFirst(), to: leaf)
        return object
    }

    /// A NUL byte cuts a C string: every string the kernel gets is refused with one, naming
    /// its JSON path; annotations (only ever JSON) are not. runc refuses them too, some only
    /// halfway through setup.
    @Test func everyStringThatReachesTheKernelIsRefusedWithANULByte() throws {
        let fixture = try PlanFixture()
        let config = try Self.richConfig(fixture)
        let clean = try decodeJSON(Spec.self, from: Array(try JSONSerialization.data(withJSONObject: config)))
        _ = try fixture.plan(clean)
        let exempt = ["annotations.note", "ociVersion", "linux.seccomp.listenerMetadata"]
        var checked = 0
        for (path, keys) in Self.stringLeaves(config, path: "") where !exempt.contains(path) {
            let original = try #require(keys.reduce(config as Any?) { node, key in
                (key as? Int).flatMap { (node as? [Any])?[$0] } ?? (key as? String).flatMap { (node as? [String: Any])?[$0] }
            } as? String)
            let edited = Self.setting(config, at: keys[...], to: String(original.prefix(1)) + "\u{0}" + original.dropFirst())
            guard let spec = try? decodeJSON(Spec.self, from: Array(try JSONSerialization.data(withJSONObject: edited))) else {
                checked += 1
                continue
            }
            let error = try #require(throws: BerthError.self, "\(path) with a NUL byte was accepted") { try fixture.plan(spec) }
            #expect(error.message.hasPrefix(path), "\(path): \(error)")
            #expect(!error.description.contains("\n") && !error.description.contains("\u{0}"), "\(path): \(error)")
            checked += 1
        }
        #expect(checked > 30)
        var annotated = clean
        annotated.annotations = ["note": "a\u{0}b"]
        _ = try fixture.plan(annotated)
    }

    /// Kernel limits are checked before anything is made, with a short error line.
    @Test func valuesPastTheKernelsLimitsAreRefusedBeforeAnySideEffect() throws {
        let fixture = try PlanFixture()
        let base = try Self.foreignSpec(fixture)
        let long = String(repeating: "x", count: 1_000_000)
        let cases: [(String, (inout Spec) -> Void)] = [
            ("hostname", { $0.hostname = String(repeating: "h", count: 65) }),
            ("hostname", { $0.hostname = long }),
            ("domainname", { $0.domainname = String(repeating: "d", count: 200_000) }),
            ("process.cwd", { $0.process?.cwd = "/" + String(repeating: "d/", count: 3000) }),
            ("process.args[0]", { $0.process?.args = ["/" + String(repeating: "c", count: 300)] }),
            ("process.args[1]", { $0.process?.args = ["echo", String(repeating: "a", count: 200_000)] }),
            ("process.env[2]", { $0.process?.env?.append("BIG=" + String(repeating: "e", count: 131_072)) }),
            ("process:", { $0.process?.env? += (0..<30).map { "V\($0)=" + String(repeating: "v", count: 100_000) } }),
            ("mounts[0].destination", { $0.mounts?[0].destination = "/" + String(repeating: "m", count: 256) }),
            ("linux.sysctl", { $0.linux?.sysctl = ["net.ipv4." + String(repeating: "n", count: 256): "1"] }),
            ("linux.maskedPaths[0]", { $0.linux?.maskedPaths = ["/" + String(repeating: "p/", count: 2100)] }),
            ("hooks.prestart[0].args[1]", { $0.hooks = Hooks(prestart: [Hook(path: "/bin/true", args: ["true", long])]) }),
            ("linux.seccomp.listenerPath", {
                $0.linux?.seccomp = LinuxSeccomp(defaultAction: .allow, listenerPath: "/" + String(repeating: "s", count: 120))
            }),
        ]
        for (path, edit) in cases {
            var spec = base
            edit(&spec)
            let error = try #require(throws: BerthError.self, "\(path) past its limit was accepted") { try fixture.plan(spec) }
            #expect(error.message.hasPrefix(path), "\(path): \(error.description.prefix(200))")
            #expect(error.description.utf8.count < 320 && !error.description.contains("\n"), "\(path): \(error.description.prefix(200))")
        }
        var fits = base
        fits.hostname = String(repeating: "h", count: 64)
        fits.process?.args = ["echo", String(repeating: "a", count: 131_071)]
        // 300 bytes in all, but no part above NAME_MAX once the dots are directories.
        fits.linux?.sysctl = ["net." + Array(repeating: String(repeating: "n", count: 100), count: 3).joined(separator: "."): "1"]
        _ = try fixture.plan(fits)
    }
}
