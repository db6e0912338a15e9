@testable import Cgroup2
import Glibc
import Linux
import OCI
import TestSupport
import Testing

/// The device program compiler, checked by running its output in ``EBPFInterpreter`` against
/// an independent statement of the rules' meaning, and on the host by the kernel's verifier.
@Suite struct DeviceProgramTests {
    typealias Rule = LinuxDeviceCgroup

    /// The meaning of a rule list, written without the compiler: each access bit is decided by
    /// the last rule that matches the device and names it; unnamed bits are denied.
    static func expected(_ rules: [DeviceRule], _ request: DeviceRequest) -> Bool {
        for bit in [DeviceRule.Access.read, .write, .mknod] where request.access.contains(bit) {
            let decider = rules.last { rule in
                (rule.kind == nil || rule.kind == request.kind) && (rule.major == nil || rule.major == request.major)
                    && (rule.minor == nil || rule.minor == request.minor) && rule.access.contains(bit)
            }
            if decider?.allow != true { return false }
        }
        return true
    }

    /// Whether the compiled program for `configured` (defaults appended) allows `request`.
    static func allows(_ configured: [Rule]?, _ request: DeviceRequest) throws -> Bool {
        let program = DeviceProgram.compile(try DeviceRule.rules(for: configured))
        return try EBPFInterpreter(bytes: program.bytes).run(request) == 1
    }

    static func c(_ major: UInt32, _ minor: UInt32, _ access: DeviceRule.Access) -> DeviceRequest {
        DeviceRequest(kind: .char, major: major, minor: minor, access: access)
    }

    static func b(_ major: UInt32, _ minor: UInt32, _ access: DeviceRule.Access) -> DeviceRequest {
        DeviceRequest(kind: .block, major: major, minor: minor, access: access)
    }

    static let denyAll = [Rule(allow: false, access: "rwm")]

    @Test func berthSpecDefaultsAllowTheDefaultDevicesAndNothingElse() throws {
        for (major, minor) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2), (136, 0), (136, 77), (10, 200)] as [(UInt32, UInt32)] {
            for access: DeviceRule.Access in [.read, .write, [.read, .write], .mknod] {
                #expect(try Self.allows(Self.denyAll, Self.c(major, minor, access)), "c \(major):\(minor) \(access.letters)")
            }
        }
        // The VM's disk, the host's first SCSI disk, /dev/mem, /dev/kmsg, the console, a tty:
        // no read, write or mknod, whatever the type bits say.
        for request in [Self.b(254, 0, .read), Self.b(254, 0, .write), Self.b(254, 0, [.read, .write]), Self.b(254, 0, .mknod),
                        Self.b(8, 0, .read), Self.c(1, 1, .read), Self.c(1, 11, .write), Self.c(5, 1, .read), Self.c(4, 1, .write),
                        Self.c(1, 3, [.read, .write]).with(kind: .block), Self.c(10, 201, .read), Self.c(137, 0, .read)] {
            #expect(try !Self.allows(Self.denyAll, request), "\(request)")
        }
    }

    @Test func absentOrEmptyRulesStillDenyAllButTheDefaults() throws {
        for configured in [nil, [Rule]()] {
            #expect(try Self.allows(configured, Self.c(1, 3, [.read, .write])))
            #expect(try !Self.allows(configured, Self.b(254, 0, .read)))
            #expect(try !Self.allows(configured, Self.b(254, 0, .mknod)))
        }
    }

    @Test func laterRulesWinBitByBit() throws {
        let disk = Rule(allow: true, type: .block, major: 254, minor: 0, access: "rw")
        #expect(try Self.allows(Self.denyAll + [disk], Self.b(254, 0, [.read, .write])))
        #expect(try !Self.allows(Self.denyAll + [disk], Self.b(254, 0, .mknod)))
        #expect(try !Self.allows(Self.denyAll + [disk], Self.b(254, 1, .read)))
        // A later deny of one bit takes only that bit back, also from a two-bit open.
        let noWrite = Rule(allow: false, type: .block, major: 254, access: "w")
        #expect(try Self.allows(Self.denyAll + [disk, noWrite], Self.b(254, 0, .read)))
        #expect(try !Self.allows(Self.denyAll + [disk, noWrite], Self.b(254, 0, .write)))
        #expect(try !Self.allows(Self.denyAll + [disk, noWrite], Self.b(254, 0, [.read, .write])))
        // Two allows of one bit each make an open for both.
        let split = [Rule(allow: true, type: .block, major: 254, minor: 0, access: "r"), Rule(allow: true, type: .block, major: 254, minor: 0, access: "w")]
        #expect(try Self.allows(Self.denyAll + split, Self.b(254, 0, [.read, .write])))
        // An earlier deny loses to a later allow.
        #expect(try Self.allows([Rule(allow: false, type: .block, major: 254, minor: 0, access: "r")] + split, Self.b(254, 0, .read)))
    }

    @Test func wildcardAllowOpensEverythingAndADefaultDeviceCannotBeDenied() throws {
        let allowAll = [Rule(allow: true, access: "rwm")]
        #expect(try Self.allows(allowAll, Self.b(8, 0, [.read, .write])))
        #expect(try Self.allows(allowAll, Self.b(254, 0, .mknod)))
        #expect(try Self.allows(allowAll + Self.denyAll, Self.c(1, 3, .read)))
        #expect(try !Self.allows(allowAll + Self.denyAll, Self.b(8, 0, .read)))
        // The defaults come last, as in runc: no rule takes /dev/null or a pts away.
        #expect(try Self.allows([Rule(allow: false, type: .char, major: 1, minor: 3, access: "rwm")], Self.c(1, 3, .read)))
        #expect(try Self.allows([Rule(allow: false, type: .char, major: 136, access: "rw")], Self.c(136, 4, .write)))
    }

    @Test func typeAllWithNumbersMatchesBothTypes() throws {
        let rules = Self.denyAll + [Rule(allow: true, type: .all, major: 7, access: "r")]
        #expect(try Self.allows(rules, Self.b(7, 3, .read)))
        #expect(try Self.allows(rules, Self.c(7, 3, .read)))
        #expect(try !Self.allows(rules, Self.b(7, 3, .write)))
        #expect(try !Self.allows(rules, Self.b(8, 3, .read)))
        // -1 is the same as absent.
        #expect(try Self.allows(Self.denyAll + [Rule(allow: true, type: .block, major: -1, minor: -1, access: "r")], Self.b(9, 9, .read)))
    }

    /// Random rule lists and requests: the program and the statement of the rules agree.
    @Test func randomRuleListsMatchTheirMeaning() throws {
        var rng = SplitMix64(seed: 0xde71ce)
        let accesses = ["r", "w", "m", "rw", "rm", "wm", "rwm", "mr"]
        let majors: [Int64?] = [nil, -1, 1, 5, 7, 254]
        let minors: [Int64?] = [nil, -1, 0, 1, 3]
        let types: [LinuxDeviceCgroupType?] = [nil, .all, .char, .block]
        for _ in 0..<400 {
            let configured = (0..<Int(rng.next() % 7)).map { _ in
                Rule(allow: rng.next() % 2 == 0, type: types[Int(rng.next() % 4)], major: majors[Int(rng.next() % 6)],
                     minor: minors[Int(rng.next() % 5)], access: accesses[Int(rng.next() % 8)])
            }
            let rules = try DeviceRule.rules(for: configured)
            let interpreter = try EBPFInterpreter(bytes: DeviceProgram.compile(rules).bytes)
            for _ in 0..<20 {
                let request = DeviceRequest(kind: rng.next() % 2 == 0 ? .char : .block, major: [1, 5, 7, 254, 136][Int(rng.next() % 5)],
                                            minor: [0, 1, 3, 9][Int(rng.next() % 4)],
                                            access: [.read, .write, [.read, .write], .mknod][Int(rng.next() % 4)])
                #expect(try interpreter.run(request) == (Self.expected(rules, request) ? 1 : 0), "\(rules) for \(request)")
            }
        }
    }

    /// runc 1.1's answer for a list of the shape engines write (an `a` rule, then allows): its
    /// defaults appended, mknod of every char and block device among them, run through its
    /// cgroup v1 emulator (an `a` rule resets to allow-all or deny-all; an allow in deny-all mode
    /// adds an exception) and a program that matches a rule only if it names every asked bit.
    static func runc(_ configured: [Rule], _ request: DeviceRequest) throws -> Bool {
        let defaults = [Rule(allow: true, type: .char, access: "m"), Rule(allow: true, type: .block, access: "m")]
            + [(1, 3), (1, 8), (1, 7), (5, 0), (1, 5), (1, 9)].map { Rule(allow: true, type: .char, major: $0.0, minor: $0.1, access: "rwm") }
            + [Rule(allow: true, type: .char, major: 136, access: "rwm"), Rule(allow: true, type: .char, major: 5, minor: 2, access: "rwm"),
               Rule(allow: true, type: .char, major: 10, minor: 200, access: "rwm")]
        var allowAll = false
        var exceptions: [DeviceRule] = []
        for rule in configured + defaults {
            if rule.type == nil || rule.type == .all {
                allowAll = rule.allow
                exceptions = []
                continue
            }
            try #require(rule.allow && !allowAll, "the model covers allows in deny-all mode only: \(rule)")
            exceptions += try DeviceRule.rules(for: [rule]).prefix(1)
        }
        return allowAll || exceptions.contains { rule in
            rule.kind == request.kind && (rule.major == nil || rule.major == request.major)
                && (rule.minor == nil || rule.minor == request.minor) && rule.access.isSuperset(of: request.access)
        }
    }

    /// podman's and containerd's captured lists (Tests/Fixtures/engine-configs) answer opens as
    /// runc does; mknod differs only where runc's `c *:* m` / `b *:* m` allow it and berth does
    /// not. (DeviceVMTests compares with runc itself.)
    @Test(arguments: EngineConfig.allCases)
    func engineListsAnswerOpensAsRuncDoes(engine: EngineConfig) throws {
        let spec = try decodeJSON(Spec.self, from: try Files.read(engine.fixturePath))
        let configured = try #require(spec.linux?.resources?.devices)
        let nodes: [(DeviceRule.Kind, UInt32, UInt32)] = [
            (.char, 1, 3), (.char, 1, 5), (.char, 1, 9), (.char, 5, 0), (.char, 5, 1), (.char, 5, 2), (.char, 136, 3),
            (.char, 10, 200), (.char, 10, 229), (.char, 10, 232), (.char, 1, 1), (.char, 4, 1), (.block, 254, 0), (.block, 8, 0), (.block, 7, 0),
        ]
        for (kind, major, minor) in nodes {
            for access: DeviceRule.Access in [.read, .write, [.read, .write]] {
                let request = DeviceRequest(kind: kind, major: major, minor: minor, access: access)
                #expect(try Self.allows(configured, request) == Self.runc(configured, request), "\(engine.rawValue): \(request)")
            }
            let mknod = DeviceRequest(kind: kind, major: major, minor: minor, access: .mknod)
            #expect(try Self.runc(configured, mknod), "runc allows mknod of anything: \(mknod)")
            #expect(try Self.allows(configured, mknod) == Self.runc(configured, DeviceRequest(kind: kind, major: major, minor: minor, access: .read)),
                    "berth allows mknod of what may be opened only: \(engine.rawValue) \(mknod)")
        }
    }

    @Test func rulesBeforeACatchAllAreNotEmitted() throws {
        let early = Rule(allow: true, type: .block, major: 8, access: "rw")
        let withCatchAll = DeviceProgram.compile(try DeviceRule.rules(for: [early] + Self.denyAll))
        let catchAllOnly = DeviceProgram.compile(try DeviceRule.rules(for: Self.denyAll))
        #expect(withCatchAll.instructions == catchAllOnly.instructions)
        // Preamble (6), nine default devices (type, major, [minor], 4 verdict), the deny-all (5), the final deny (2).
        #expect(catchAllOnly.instructions.count == 6 + 8 * 7 + 6 + 5 + 2)
    }

    @Test func badRulesAreRefusedWithTheirPath() {
        func error(_ rules: [Rule]) -> String? {
            do { _ = try DeviceRule.rules(for: rules); return nil } catch { return error.description }
        }
        #expect(error([Rule(allow: true, access: "")]) == "linux.resources.devices[0].access: must list at least one of r, w and m")
        #expect(error([Rule(allow: true)]) == "linux.resources.devices[0].access: must list at least one of r, w and m")
        #expect(error(Self.denyAll + [Rule(allow: true, access: "rx")]) == "linux.resources.devices[1].access: \"rx\" may contain only r, w and m")
        #expect(error([Rule(allow: true, major: 4096, access: "r")]) == "linux.resources.devices[0].major: 4096 is neither -1 (any) nor a device number below 4096")
        #expect(error([Rule(allow: true, minor: -2, access: "r")]) == "linux.resources.devices[0].minor: -2 is neither -1 (any) nor a device number below 1048576")
        #expect(planError(LinuxResources(devices: [Rule(allow: true, access: "q")])) == "linux.resources.devices[0].access: \"q\" may contain only r, w and m")
    }

    @Test func planCarriesTheProgramAndTheCacheHandsOutTheSameOne() throws {
        let resources = LinuxResources(devices: Self.denyAll + [Rule(allow: true, type: .char, major: 10, minor: 229, access: "rw")])
        let first = try #require(try plan(resources).devices)
        let second = try #require(try plan(resources).devices)
        #expect(first == second)
        #expect(first.rules.count == 2 + DeviceRule.defaults.count)
        #expect(try plan(LinuxResources()).devices?.rules == DeviceRule.defaults)
    }

    @Test func instructionsEncodeAsTheKernelReadsThem() {
        let jump = EBPFInstruction.jump(EBPFInstruction.jumpNotEqual, 4, 254, offset: 9)
        #expect(jump.bytes == [0x55, 0x04, 9, 0, 254, 0, 0, 0])
        let and = EBPFInstruction.alu32(EBPFInstruction.opAnd, 3, ~6)
        #expect(and.bytes == [0x54, 0x03, 0, 0, 0xf9, 0xff, 0xff, 0xff])
        #expect(EBPFInstruction.move32(1, 3).bytes == [0xbc, 0x31, 0, 0, 0, 0, 0, 0])
    }

    /// Measures compile time for the record (docs/security.md): the defaults plus a typical
    /// engine list. Not an assertion on speed beyond a generous bound.
    @Test func compilingIsCheap() throws {
        let rules = try DeviceRule.rules(for: Self.denyAll + (0..<10).map { Rule(allow: true, type: .char, major: Int64($0 + 20), access: "rwm") })
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        for _ in 0..<1000 { _ = DeviceProgram.instructions(for: rules) }
        clock_gettime(CLOCK_MONOTONIC, &end)
        let microseconds = (Double(end.tv_sec - start.tv_sec) * 1e6 + Double(end.tv_nsec - start.tv_nsec) / 1e3) / 1000
        print("device program: \(rules.count) rules compile in \(microseconds) µs")
        #expect(microseconds < 5000)
    }

    /// The kernel's verifier accepts what the compiler emits (root only: BPF_PROG_LOAD).
    @Test(.enabled(if: geteuid() == 0, "BPF_PROG_LOAD needs root"))
    func kernelLoadsThePrograms() throws {
        var rng = SplitMix64(seed: 42)
        var lists: [[Rule]] = [[], Self.denyAll, [Rule(allow: true, access: "rwm")]]
        for _ in 0..<20 {
            lists.append((0..<Int(rng.next() % 12)).map { _ in
                Rule(allow: rng.next() % 2 == 0, type: [.char, .block, nil][Int(rng.next() % 3)], major: rng.next() % 3 == 0 ? nil : Int64(rng.next() % 4096),
                     minor: rng.next() % 3 == 0 ? nil : Int64(rng.next() % (1 << 20)), access: ["r", "w", "m", "rw", "rwm"][Int(rng.next() % 5)])
            })
        }
        for list in lists {
            let fd = try Cgroup.load(DeviceProgram.compile(try DeviceRule.rules(for: list)))
            fd.close()
        }
    }
}

extension DeviceRequest {
    func with(kind: DeviceRule.Kind) -> DeviceRequest {
        var copy = self
        copy.kind = kind
        return copy
    }
}
