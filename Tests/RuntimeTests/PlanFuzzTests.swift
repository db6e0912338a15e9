import Foundation
import Linux
import OCI
@testable import Runtime
import Seccomp
import TestSupport
import Testing

/// The plan validator (`LaunchPlan(spec:id:bundle:)`) on hostile configs: the decoded Spec's
/// fields mutated (paths with `..`, huge and negative numbers, empty strings, unknown names,
/// duplicated and dropped entries) and config.json bytes mutated before decoding. Nothing may
/// crash or hang; every refusal is a message of its own (one line, unless it quotes the config). Seeded, so a failure reproduces: the failing
/// seed and case are in the message.
///
/// `BERTH_FUZZ_ITERATIONS=N` runs N cases per test instead of the default, `BERTH_FUZZ_SEED=S`
/// another seed (`make fuzz` runs a long one).
@Suite(.timeLimit(.minutes(1)))
struct PlanFuzzTests {
    static let iterations = Int(ProcessInfo.processInfo.environment["BERTH_FUZZ_ITERATIONS"] ?? "") ?? 6_000
    static let seed = UInt64(ProcessInfo.processInfo.environment["BERTH_FUZZ_SEED"] ?? "") ?? 0xB0A7_5EED

    @Test func mutatedSpecFieldsNeverCrashThePlanValidator() throws {
        let fuzz = try PlanFuzzFixture()
        var rng = SplitMix64(seed: Self.seed)
        var tally = PlanTally()
        for index in 0..<Self.iterations {
            var spec = fuzz.bases[rng.index(fuzz.bases.count)]
            for _ in 0...rng.index(4) { PlanMutator.mutate(&spec, &rng) }
            fuzz.validate(spec, &tally, context: "seed \(Self.seed) case \(index)")
        }
        #expect(tally.planned > Self.iterations / 50, "\(tally)")
        #expect(tally.refused > Self.iterations / 4, "\(tally)")
    }

    @Test func mutatedConfigJSONNeverCrashesTheDecoderOrTheValidator() throws {
        let fuzz = try PlanFuzzFixture()
        var rng = SplitMix64(seed: Self.seed ^ 0x4A53_4F4E)
        var tally = PlanTally()
        let documents = try fuzz.bases.map { try encodeJSONBytes($0) }
        for index in 0..<Self.iterations {
            let bytes = PlanMutator.mutate(bytes: documents[rng.index(documents.count)], &rng)
            guard let spec = try? decodeJSON(Spec.self, from: bytes) else { tally.undecodable += 1; continue }
            fuzz.validate(spec, &tally, context: "seed \(Self.seed ^ 0x4A53_4F4E) case \(index)")
        }
        #expect(tally.planned > Self.iterations / 50, "\(tally)")
        #expect(tally.refused > Self.iterations / 50, "\(tally)")
        #expect(tally.undecodable > Self.iterations / 10, "\(tally)")
    }
}

struct PlanTally: CustomStringConvertible {
    var planned = 0, refused = 0, undecodable = 0
    var description: String { "planned \(planned), refused \(refused), undecodable \(undecodable)" }
}

/// A bundle with a rootfs and a bind source, and valid configs that use most of the spec.
final class PlanFuzzFixture: @unchecked Sendable {
    let directory: TemporaryDirectory
    let bases: [Spec]
    let cache: SeccompCache

    init() throws {
        directory = try TemporaryDirectory("berth-plan-fuzz")
        for sub in ["rootfs", "data"] {
            try FileManager.default.createDirectory(atPath: directory.path + "/" + sub, withIntermediateDirectories: false)
        }
        cache = SeccompCache(directory: directory.path + "/seccomp")
        var plain = Spec.defaultConfig()
        plain.root = Root(path: "rootfs", readonly: true)
        let rich = try decodeJSON(Spec.self, from: PlanFuzzFixture.richConfig)
        bases = [plain, rich]
        for base in bases { _ = try LaunchPlan(spec: base, id: "fuzz", bundle: directory.path, seccompCache: cache) }
    }

    deinit { directory.remove() }

    func validate(_ spec: Spec, _ tally: inout PlanTally, context: String) {
        let id = spec.hostname.map { $0.isEmpty ? "fuzz" : String($0.prefix(64)) } ?? "fuzz"
        do {
            _ = try LaunchPlan(spec: spec, id: id, bundle: directory.path, seccompCache: cache)
            tally.planned += 1
        } catch {
            tally.refused += 1
            let message = error.description
            // A newline may only come from the config's own text, which the CLI escapes.
            if message.isEmpty || (message.contains("\n") && (try? encodeJSON(spec))?.contains("\\n") == false) {
                Issue.record("\(context): a refusal must be one non-empty line: \(message.debugDescription)")
            }
        }
    }

    /// Every section the validator reads, valid as a whole (the test checks it plans).
    static let richConfig = #"""
    {"ociVersion": "1.2.0",
     "process": {"terminal": false, "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 6]},
       "args": ["sh", "-c", "true"], "env": ["PATH=/bin", "LISTEN_FDS=2"], "cwd": "/srv",
       "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                        "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
       "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}],
       "noNewPrivileges": true, "oomScoreAdj": 100},
     "root": {"path": "rootfs", "readonly": true},
     "hostname": "fuzz-host", "domainname": "fuzz.example",
     "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=65536k"]},
                {"destination": "/srv/data", "type": "bind", "source": "data", "options": ["rbind", "ro", "nosuid", "rprivate"]},
                {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]}],
     "hooks": {"prestart": [{"path": "/bin/true", "args": ["true"], "env": ["A=b"], "timeout": 5}],
               "poststop": [{"path": "/bin/true"}]},
     "annotations": {"org.example": "x"},
     "linux": {
       "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
       "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
       "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1", "fs.mqueue.msg_max": "10", "kernel.domainname": "x"},
       "resources": {"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
                     "memory": {"limit": 67108864, "swap": 134217728}, "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1"},
                     "pids": {"limit": 64}, "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
                     "hugepageLimits": [{"pageSize": "2MB", "limit": 0}], "unified": {"memory.high": "max"}},
       "cgroupsPath": "/fuzz/tenant",
       "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"},
                      {"type": "cgroup"}, {"type": "time"}],
       "timeOffsets": {"monotonic": {"secs": 10, "nanosecs": 5}},
       "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
                   {"path": "/dev/pipe", "type": "p"}],
       "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64"],
                   "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]},
       "rootfsPropagation": "rslave",
       "maskedPaths": ["/proc/kcore", "/sys/firmware"],
       "readonlyPaths": ["/proc/sys"]}}
    """#
}

/// Field mutations of a decoded Spec, and byte mutations of its JSON.
enum PlanMutator {
    static let paths = ["", "/", ".", "..", "/..", "../..", "/a/../../b", "relative/path", "/proc/self/fd/3", "//", "/./.", "/tmp/\n",
                        "/\u{0}x", "/é/ü", "rootfs", "data", "/" + String(repeating: "x", count: 5000),
                        String(repeating: "/a", count: 2000), "/proc/sys/kernel/core_pattern", "/dev/../../etc", "/\\", " "]
    static let strings = ["", "x", "unknown", "CAP_NOPE", "cap_chown", "CAP_SYS_ADMIN", "..", "a=b", "=", "=x", "NO_EQUALS", "\u{0}",
                          String(repeating: "y", count: 10000), "net.ipv4.ip_forward", "kernel.core_pattern", "net..x", "net/x",
                          "kernel.hostname", "rbind", "ro", "rw", "bind", "bogus", "mode=99999999", "size=-1", "uid=x", "nr_inodes=",
                          "private", "rshared", "unbindable", "tmpfs", "proc", "bind", "cgroup", "sysfs", "é", "1", "-1", "0-",
                          "max", "1:2", "memory.max", "../cpu.max", "cgroup.procs", "a:b:c", "system.slice:berth:x"]
    static let uint32s: [UInt32] = [0, 1, 5, 65534, 65535, 65536, 100000, UInt32.max - 1, UInt32.max]
    static let int64s: [Int64] = [0, -1, 1, 4096, Int64.min, Int64.max, Int64(UInt32.max), 1 << 40, -(1 << 40)]
    static let uint64s: [UInt64] = [0, 1, 1024, UInt64(Int64.max), UInt64.max, UInt64.max - 1, 1 << 32]
    static let ints: [Int] = [0, -1, 1, -1000, 1000, -1001, 1001, Int.min, Int.max]

    static func mutate(_ spec: inout Spec, _ rng: inout SplitMix64) {
        switch rng.index(24) {
        case 0: spec.root?.path = rng.pick(paths)
        case 1: spec.process?.args = rng.pick([[], [""], [rng.pick(paths)], [rng.pick(strings), rng.pick(strings)]])
        case 2: spec.process?.cwd = rng.pick(paths)
        case 3:
            let env = (spec.process?.env ?? []) + [rng.pick(strings)]
            spec.process?.env = env
        case 4:
            spec.process?.user.uid = rng.pick(uint32s)
            spec.process?.user.gid = rng.pick(uint32s)
            spec.process?.user.umask = rng.chance(2) ? rng.pick(uint32s) : nil
            spec.process?.user.additionalGids = rng.chance(3) ? Array(repeating: rng.pick(uint32s), count: rng.index(70_000)) : [rng.pick(uint32s)]
        case 5:
            var caps = spec.process?.capabilities ?? LinuxCapabilities()
            let list = (caps.bounding ?? []) + [rng.pick(strings)]
            switch rng.index(5) {
            case 0: caps.bounding = list
            case 1: caps.effective = list
            case 2: caps.permitted = list
            case 3: caps.inheritable = list
            default: caps.ambient = rng.chance(2) ? [] : list
            }
            spec.process?.capabilities = caps
        case 6:
            guard var limits = spec.process?.rlimits, !limits.isEmpty else { spec.process?.rlimits = nil; break }
            let i = rng.index(limits.count)
            limits[i].soft = rng.pick(uint64s)
            limits[i].hard = rng.pick(uint64s)
            if rng.chance(3) { limits.append(limits[i]) }
            spec.process?.rlimits = limits
        case 7:
            spec.process?.oomScoreAdj = rng.pick(ints)
            spec.process?.terminal = rng.chance(4)
        case 8:
            spec.hostname = rng.chance(2) ? rng.pick(strings) : nil
            spec.domainname = rng.chance(2) ? rng.pick(strings) : nil
        case 9:
            guard var mounts = spec.mounts, !mounts.isEmpty else { spec.mounts = [Mount(destination: rng.pick(paths))]; break }
            let i = rng.index(mounts.count)
            switch rng.index(6) {
            case 0: mounts[i].destination = rng.pick(paths)
            case 1: mounts[i].source = rng.chance(4) ? nil : rng.pick(paths)
            case 2: mounts[i].type = rng.chance(4) ? nil : rng.pick(strings)
            case 3: mounts[i].options = (mounts[i].options ?? []) + [rng.pick(strings)]
            case 4: mounts.append(mounts[i])
            default: mounts.remove(at: i)
            }
            spec.mounts = mounts
        case 10:
            var hooks = spec.hooks ?? Hooks()
            var list = hooks.prestart ?? [Hook(path: "/bin/true")]
            let i = rng.index(list.count)
            if rng.chance(2) { list[i].path = rng.pick(paths) } else { list[i].timeout = rng.pick(ints) }
            if rng.chance(2) { hooks.prestart = list } else { hooks.startContainer = list }
            spec.hooks = hooks
        case 11:
            guard var namespaces = spec.linux?.namespaces, !namespaces.isEmpty else { break }
            let i = rng.index(namespaces.count)
            switch rng.index(4) {
            case 0: namespaces.remove(at: i)
            case 1: namespaces.append(namespaces[i])
            case 2: namespaces[i].path = rng.pick(paths + ["/proc/self/ns/net", "/proc/1/ns/pid", "/proc/self/ns/user"])
            default: namespaces[i].path = ""
            }
            spec.linux?.namespaces = namespaces
        case 12:
            var maps = spec.linux?.uidMappings ?? []
            if maps.isEmpty || rng.chance(4) {
                spec.linux?.uidMappings = rng.chance(2) ? nil : []
                break
            }
            let i = rng.index(maps.count)
            maps[i].containerID = rng.pick(uint32s)
            maps[i].hostID = rng.pick(uint32s)
            maps[i].size = rng.pick(uint32s)
            if rng.chance(2) { spec.linux?.uidMappings = maps } else { spec.linux?.gidMappings = maps }
        case 13:
            var sysctl = spec.linux?.sysctl ?? [:]
            sysctl[rng.pick(strings)] = rng.pick(strings)
            spec.linux?.sysctl = sysctl
        case 14: spec.linux?.cgroupsPath = rng.chance(2) ? rng.pick(paths) : rng.pick(strings)
        case 15:
            guard var devices = spec.linux?.devices, !devices.isEmpty else { break }
            let i = rng.index(devices.count)
            switch rng.index(4) {
            case 0: devices[i].path = rng.pick(paths)
            case 1: devices[i].major = rng.chance(4) ? nil : rng.pick(int64s)
            case 2: devices[i].minor = rng.chance(4) ? nil : rng.pick(int64s)
            default: devices[i].fileMode = rng.pick(uint32s)
            }
            spec.linux?.devices = devices
        case 16:
            let masked = (spec.linux?.maskedPaths ?? []) + [rng.pick(paths)]
            spec.linux?.maskedPaths = masked
        case 17:
            let readonly = (spec.linux?.readonlyPaths ?? []) + [rng.pick(paths)]
            spec.linux?.readonlyPaths = readonly
        case 18: spec.linux?.rootfsPropagation = rng.pick(strings)
        case 19:
            guard var offsets = spec.linux?.timeOffsets, let first = offsets.first else { break }
            var offset = first.value
            offset.secs = rng.chance(3) ? nil : rng.pick(int64s)
            offset.nanosecs = rng.chance(3) ? nil : rng.pick(uint32s)
            offsets[rng.chance(2) ? first.key : rng.pick(strings)] = offset
            spec.linux?.timeOffsets = offsets
        case 20:
            var resources = spec.linux?.resources ?? LinuxResources()
            if var memory = resources.memory {
                memory.limit = rng.pick(int64s)
                memory.swap = rng.chance(2) ? rng.pick(int64s) : nil
                memory.reservation = rng.chance(2) ? rng.pick(int64s) : nil
                memory.swappiness = rng.chance(2) ? rng.pick(uint64s) : nil
                resources.memory = memory
            }
            if var cpu = resources.cpu {
                cpu.shares = rng.chance(2) ? rng.pick(uint64s) : nil
                cpu.quota = rng.chance(2) ? rng.pick(int64s) : nil
                cpu.period = rng.chance(2) ? rng.pick(uint64s) : nil
                cpu.cpus = rng.chance(2) ? rng.pick(strings) : nil
                cpu.idle = rng.chance(2) ? rng.pick(int64s) : nil
                resources.cpu = cpu
            }
            if var pids = resources.pids { pids.limit = rng.pick(int64s); resources.pids = pids }
            spec.linux?.resources = resources
        case 21:
            var resources = spec.linux?.resources ?? LinuxResources()
            if var blockIO = resources.blockIO {
                blockIO.weight = rng.chance(2) ? UInt16(truncatingIfNeeded: rng.next()) : nil
                if var throttle = blockIO.throttleReadBpsDevice, !throttle.isEmpty {
                    throttle[0].major = rng.pick(int64s)
                    throttle[0].minor = rng.pick(int64s)
                    throttle[0].rate = rng.pick(uint64s)
                    blockIO.throttleWriteIOPSDevice = throttle
                }
                resources.blockIO = blockIO
            }
            if var pages = resources.hugepageLimits, !pages.isEmpty {
                pages[0].pageSize = rng.pick(strings)
                pages[0].limit = rng.pick(uint64s)
                resources.hugepageLimits = pages
            }
            var unified = resources.unified ?? [:]
            unified[rng.pick(strings)] = rng.pick(strings)
            resources.unified = unified
            if var rules = resources.devices, !rules.isEmpty {
                let i = rng.index(rules.count)
                rules[i].access = rng.pick(strings)
                rules[i].major = rng.chance(2) ? rng.pick(int64s) : nil
                resources.devices = rules
            }
            spec.linux?.resources = resources
        case 22:
            guard var seccomp = spec.linux?.seccomp, var rules = seccomp.syscalls, !rules.isEmpty else { break }
            let i = rng.index(rules.count)
            // Unknown names are only warned about (on stderr): rarely, to keep the output readable.
            if rng.chance(2) { rules[i].names = rules[i].names + [rng.chance(20) ? rng.pick(strings) : rng.pick(["open", "clone", "socketcall", "read"])] }
            if rng.chance(2) { rules[i].errnoRet = rng.chance(2) ? nil : UInt(truncatingIfNeeded: rng.pick(uint64s)) }
            if var args = rules[i].args, !args.isEmpty {
                args[0].index = UInt(truncatingIfNeeded: rng.pick(uint64s))
                args[0].value = rng.pick(uint64s)
                rules[i].args = args
            }
            seccomp.syscalls = rules
            seccomp.defaultErrnoRet = rng.chance(2) ? nil : UInt(truncatingIfNeeded: rng.pick(uint64s))
            spec.linux?.seccomp = seccomp
        default:
            // Whole sections gone.
            switch rng.index(6) {
            case 0: spec.process = nil
            case 1: spec.root = nil
            case 2: spec.linux = nil
            case 3: spec.mounts = nil
            case 4: spec.linux?.namespaces = nil
            default: spec.linux?.resources = nil
            }
        }
    }

    static let tokens: [[UInt8]] = ["..", "/..", "\"\"", "-1", "18446744073709551615", "18446744073709551616", "4294967296",
                                    "-9223372036854775808", "1e400", "null", "true", "[]", "{}", "\"CAP_NOPE\"", "\"RLIMIT_NOPE\"",
                                    "\"unknown\"", "\"/\"", "\"../../x\"", "0", ",", "\\u0000", "\"type\":\"user\""].map { Array($0.utf8) }

    static func mutate(bytes input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0...rng.index(3) {
            guard !bytes.isEmpty else { break }
            let at = rng.index(bytes.count)
            switch rng.index(5) {
            case 0: bytes[at] ^= UInt8(1) << UInt8(rng.index(8))
            case 1: bytes.insert(contentsOf: rng.pick(tokens), at: at)
            case 2: bytes.removeSubrange(at..<min(bytes.count, at + 1 + rng.index(12)))
            default:
                // Replace the value-like token at `at` (a string or a number) by an interesting one.
                guard let range = valueToken(in: bytes, around: at) else { continue }
                bytes.replaceSubrange(range, with: rng.pick(tokens))
            }
        }
        return bytes
    }

    /// The string or number token around `index`, if there is one.
    static func valueToken(in bytes: [UInt8], around index: Int) -> Range<Int>? {
        let quote = UInt8(ascii: "\"")
        var start = index
        while start > 0 && bytes[start] != quote && !"{}[],:".utf8.contains(bytes[start]) { start -= 1 }
        guard bytes[start] == quote else { return nil }
        var end = start + 1
        while end < bytes.count && bytes[end] != quote { end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1 }
        return end < bytes.count ? start..<(end + 1) : nil
    }
}
