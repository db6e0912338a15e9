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

    // MARK: - Descriptors

    /// The descriptors of `pid` and what they name.
    static func openDescriptors(_ pid: Int) -> [Int: String] {
        let directory = "/proc/\(pid)/fd"
        var result: [Int: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let fd = Int(name) else { continue }
            result[fd] = (try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + name)) ?? "?"
        }
        return result
    }

    /// `exec 7>file; berth create`: until `start`, the waiting init held the caller's fd 7
    /// (CVE-2024-21626 class). Only stdio, the preserved descriptors and the exec fifo remain,
    /// and a hook gets only stdio.
    @Test func createdInitHoldsNoDescriptorOfItsCaller() async throws {
        try await withBerthSandbox { s in
            let leaked = s.directory.path + "/leaked-file"
            let preserved = s.directory.path + "/preserved-file"
            FileManager.default.createFile(atPath: leaked, contents: nil)
            FileManager.default.createFile(atPath: preserved, contents: nil)
            let hookOutput = s.directory.path + "/hook-fds"
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "ls /proc/self/fd"]) {
                $0["hooks"] = ["prestart": [["path": "/bin/sh", "args": ["sh", "-c", "ls /proc/self/fd > \(hookOutput)"]]]]
            }
            let id = s.newID()
            let create = try await s.berth(["create", "--preserve-fds", "1", "--bundle", bundle.path, id],
                                           extraFiles: [.init(3, preserved), .init(7, leaked, flags: O_WRONLY)])
            try #require(create.succeeded, "\(create)")
            let pid = try #require(try await s.state(id)?["pid"] as? Int)
            let open = Self.openDescriptors(pid)
            #expect(open[3] == preserved, "the preserved descriptor: \(open)")
            #expect(!open.values.contains(leaked), "the caller's fd 7 reached the init: \(open)")
            let others = open.filter { $0.key > 3 }
            #expect(others.allSatisfy { $0.value.hasSuffix("/exec.fifo") }, "beyond stdio and the preserved one: \(others)")
            try #require(try await s.berth("start", id).succeeded)
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            let hookFDs = (try? String(contentsOfFile: hookOutput, encoding: .utf8)) ?? ""
            // 3 is the directory ls reads.
            #expect(hookFDs == "0\n1\n2\n3\n", "the hook's descriptors: \(hookFDs)")
            #expect(try await s.berth("delete", id).succeeded)
        }
    }

    // MARK: - HOME

    /// Without HOME in process.env, the init and exec get the user's home from the container's
    /// /etc/passwd, as runc and crun set it; "/" for a user without an entry, as runc does.
    @Test func homeComesFromTheContainersPasswdForTheInitAndExec() async throws {
        try await withBerthSandbox { s in
            for (uid, home) in [(0, "/root"), (65534, "/nonexistent"), (1234, "/")] {
                let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "echo \"$HOME\""]) { $0["process.user.uid"] = uid }
                let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
                #expect(run.status == 0 && run.stdout == home + "\n", "uid \(uid): \(run)")
            }
            let configured = try await s.foreignBundle(.runc, ["sh", "-c", "echo \"$HOME\""]) { $0.env = $0.env + ["HOME=/custom"] }
            let run = try await s.berth("run", "--bundle", configured.path, s.newID())
            #expect(run.stdout == "/custom\n", "\(run)")

            let sleeper = try await s.foreignBundle(.runc, ["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", sleeper.path, id).succeeded)
            let root = try await s.berth("exec", id, "sh", "-c", "echo \"$HOME\"")
            #expect(root.stdout == "/root\n", "\(root)")
            let nobody = try await s.berth("exec", "--user", "65534", id, "sh", "-c", "echo \"$HOME\"")
            #expect(nobody.stdout == "/nonexistent\n", "\(nobody)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    /// The image's /etc/passwd is read inside its root: a link to the host's through /proc (no
    /// pid namespace, so /proc/1 is the host's init) and a fifo, which would block, give "/".
    @Test func homeLookupStaysInsideTheRootfsAndNeverBlocks() async throws {
        try await withBerthSandbox { s in
            let escape = s.directory.path + "/etc-escape"
            try FileManager.default.createDirectory(atPath: escape, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: escape + "/passwd", withDestinationPath: "/proc/1/root/etc/passwd")
            let fifo = s.directory.path + "/etc-fifo"
            try FileManager.default.createDirectory(atPath: fifo, withIntermediateDirectories: true)
            #expect(mkfifo(fifo + "/passwd", 0o644) == 0)
            // uid 1 is daemon on the host (home /usr/sbin) and has no entry in the busybox image.
            for etc in [escape, fifo] {
                let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "echo \"$HOME\""]) {
                    $0.removeNamespace("pid")
                    $0["process.user.uid"] = 1
                    $0.addMount(destination: "/etc", type: "bind", source: etc, options: ["rbind", "ro"])
                }
                let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
                #expect(run.status == 0 && run.stdout == "/\n", "\(etc): \(run)")
            }
        }
    }

    // MARK: - Seccomp listener

    /// A listenerPath without any SCMP_ACT_NOTIFY rule: there is no listener to hand over, so
    /// berth neither connects (runc does not either; crun sends the state alone) nor waits.
    @Test func listenerPathWithoutANotifyRuleIsNotConnectedAndNeverHangs() async throws {
        try await withBerthSandbox { s in
            let socketPath = s.directory.path + "/agent.sock"
            let server = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            try #require(server >= 0)
            defer { close(server) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (index, byte) in socketPath.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(bound == 0 && listen(server, 4) == 0, "errno \(errno)")
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "mkdir /tmp/x 2>/dev/null; echo mkdir=$?"]) {
                $0["linux.seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "listenerPath": socketPath, "listenerMetadata": "unused",
                                       "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"]]]
            }
            let run = try await s.berth(["run", "--bundle", bundle.path, s.newID()], timeout: 60)
            #expect(run.status == 0 && !run.timedOut, "\(run)")
            #expect(run.stdout == "mkdir=1\n", "the filter is loaded: \(run)")
            let connection = accept(server, nil, nil)
            #expect(connection < 0 && errno == EAGAIN, "berth connected to the listener path")
            if connection >= 0 { close(connection) }
        }
    }

    // MARK: - Validation before the first side effect

    /// A NUL byte would cut the string where the kernel reads it (`tr\u0000ue` ran /bin/tr):
    /// refused with the JSON path, one line, nothing left behind. runc refuses these too.
    @Test func stringsWithANULByteAreRefusedByTheirPath() async throws {
        try await withBerthSandbox { s in
            let cases: [(String, (inout BundleConfig) -> Void)] = [
                ("process.args[0]", { $0.args = ["tr\u{0}ue"] }),
                ("process.env[", { $0.env = $0.env + ["A=visible\u{0}hidden"] }),
                ("process.cwd", { $0["process.cwd"] = "/\u{0}tmp" }),
                ("hostname", { $0["hostname"] = "host\u{0}name" }),
                ("mounts[0].destination", { $0["mounts.0.destination"] = "/pr\u{0}oc" }),
                ("linux.sysctl", { $0["linux.sysctl"] = ["kernel.shm\u{0}max": "65536"] }),
                ("hooks.prestart[0].path", { $0["hooks"] = ["prestart": [["path": "/bin/tr\u{0}ue"]]] }),
            ]
            for (path, edit) in cases {
                let bundle = try await s.foreignBundle(.runc, ["true"], edit: edit)
                let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
                #expect(run.status != 0, "\(path): \(run)")
                #expect(run.errorLine.contains(path) && run.errorLine.contains("NUL"), "\(path): \(run)")
                #expect(run.stderr.split(separator: "\n").count == 1, "\(path): \(run)")
            }
        }
    }

    /// A 1 MB hostname failed inside the init, and its error line lost the cause; a 65 KB one
    /// echoed the whole value. Now refused up front in one short line.
    @Test func valuesPastTheKernelsLimitsAreRefusedInOneShortLine() async throws {
        try await withBerthSandbox { s in
            let cases: [(String, (inout BundleConfig) -> Void)] = [
                ("hostname", { $0["hostname"] = String(repeating: "h", count: 70_000) }),
                ("hostname", { $0["hostname"] = String(repeating: "h", count: 1_000_000) }),
                ("process.args[1]", { $0.args = ["echo", String(repeating: "a", count: 200_000)] }),
                ("mounts[0].destination", { $0["mounts.0.destination"] = "/" + String(repeating: "d", count: 300) }),
            ]
            for (path, edit) in cases {
                let bundle = try await s.foreignBundle(.runc, ["true"], edit: edit)
                let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
                #expect(run.status != 0, "\(path): \(run.errorLine.prefix(300))")
                #expect(run.errorLine.contains(path) && run.errorLine.contains("limit"), "\(path): \(run.errorLine.prefix(300))")
                #expect(run.stderr.utf8.count < 300, "\(path): \(run.stderr.utf8.count) bytes of stderr")
            }
        }
    }
}
