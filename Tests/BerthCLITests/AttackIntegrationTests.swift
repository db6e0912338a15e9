import Foundation
import Glibc
import TestSupport
import Testing

/// The attacks of /work/shared/design/SECURITY.md (see docs/security.md), each tried against the
/// real binary with a hostile rootfs, config or container process. Every test checks both that
/// the attack failed and that nothing outside the container changed: the host files and
/// directories it aimed at (contents, entries, mtime), the host's mount table, host sysctls.
/// Runs on the host and in the VM.
@Suite(.timeLimit(.minutes(10)))
struct AttackIntegrationTests {
    // MARK: - 3. Rootfs paths resolve inside the rootfs

    @Test func linksInTheRootfsCannotSendMountsOrDevicesOntoTheHost() async throws {
        try await withBerthSandbox { s in
            let hostTarget = try makeHostDirectory(s, "host-target")
            let hostOnly = try makeHostDirectory(s, "host-only")
            let bound = s.directory.path + "/bound-file"
            try "bound\n".write(toFile: bound, atomically: false, encoding: .utf8)
            let rootfs = try await copyRootfs(s)
            // Links to host paths: absolute, a chain of .. far above the rootfs, and a dangling one.
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/abs", withDestinationPath: hostTarget)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/rel", withDestinationPath: String(repeating: "../", count: 16) + hostTarget.dropFirst())
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/dangling", withDestinationPath: hostOnly)
            // Inside the rootfs the same absolute path exists: that is where the mounts must land.
            try FileManager.default.createDirectory(atPath: rootfs + hostTarget, withIntermediateDirectories: true)
            let watch = HostWatch([hostTarget, hostTarget + "/canary", hostOnly, bound], mountsUnder: [s.directory.path])

            let script = "cat \(hostTarget)/m-bind; stat -c '%F %t:%T' \(hostTarget)/m-null; grep -c ' \(hostTarget)/m-' /proc/self/mountinfo"
            let bundle = try await s.bundle(["sh", "-c", script]) {
                $0["root.path"] = rootfs
                $0.addMount(destination: "/abs/m-tmpfs", type: "tmpfs", source: "tmpfs", options: ["size=1m"])
                $0.addMount(destination: "/rel/m-bind", type: "bind", source: bound, options: ["bind", "ro"])
                $0["linux.devices"] = [["path": "/abs/m-null", "type": "c", "major": 1, "minor": 3]]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == ["bound", "character special file 1:3", "2"], "\(run)")
            // Made inside the rootfs copy, where the links lead when resolved in the root.
            for name in ["m-tmpfs", "m-bind", "m-null"] {
                #expect(FileManager.default.fileExists(atPath: rootfs + hostTarget + "/" + name), "\(name) is not in the rootfs")
            }

            // A link to a path only the host has: followed inside the rootfs, as runc does, where
            // the path is made and mounted on; the host's is never touched.
            let dangling = try await s.bundle(["true"]) {
                $0["root.path"] = rootfs
                $0.addMount(destination: "/dangling/m", type: "tmpfs", source: "tmpfs", options: ["size=1m"])
            }
            let followed = try await s.berth("run", "--bundle", dangling.path, s.newID())
            #expect(followed.status == 0, "\(followed)")
            #expect(FileManager.default.fileExists(atPath: rootfs + hostOnly + "/m"), "the dangling link's target is not made in the rootfs")
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }

    /// `etc -> /etc`: the engine's bind of /etc/hosts must not reach the host's /etc.
    @Test func absoluteEtcLinkCannotRedirectTheEnginesEtcHostsMount() async throws {
        try await withBerthSandbox { s in
            let hosts = s.directory.path + "/hosts"
            try "127.0.0.1 container\n".write(toFile: hosts, atomically: false, encoding: .utf8)
            let rootfs = try await copyRootfs(s)
            try FileManager.default.removeItem(atPath: rootfs + "/etc")
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/etc", withDestinationPath: "/etc")
            let probe = "/etc/berth-attack-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let watch = HostWatch(["/etc/hosts", probe, hosts], mountsUnder: ["/etc", s.directory.path])
            let bundle = try await s.bundle(["cat", "/etc/hosts"]) {
                $0["root.path"] = rootfs
                $0.addMount(destination: "/etc/hosts", type: "bind", source: hosts, options: ["bind", "ro"])
                $0.addMount(destination: probe, type: "tmpfs", source: "tmpfs", options: ["size=1m"])
            }
            // Resolved in the root, etc -> /etc names itself: a loop, so create fails cleanly.
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status != 0, "\(run)")
            #expect(run.errorLine.contains("mounts[") && run.errorLine.contains("symbolic links"), "\(run)")
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }

    // MARK: - 4. What is bound over

    /// A rootfs whose /dev is its own (no tmpfs on /dev), with a /dev/null that is a file, a link
    /// into procfs (CVE-2025-31133), or the real device: masking either refuses to start the
    /// container or masks; it never shows what it should hide, nor binds another file over it.
    @Test(arguments: ["file", "link", "device"])
    func maskedPathIsCoveredOnlyByTheRealNullDevice(devNull kind: String) async throws {
        try await withBerthSandbox { s in
            let rootfs = try await copyRootfs(s)
            try "SECRET\n".write(toFile: rootfs + "/secret", atomically: false, encoding: .utf8)
            let null = rootfs + "/dev/null"
            switch kind {
            case "file": try "not the null device\n".write(toFile: null, atomically: false, encoding: .utf8)
            case "link": try FileManager.default.createSymbolicLink(atPath: null, withDestinationPath: "/proc/sys/kernel/core_pattern")
            default: try #require(mknod(null, S_IFCHR | 0o666, dev_t((1 << 8) | 3) /* makedev(1, 3) */) == 0, "mknod: \(String(cString: strerror(errno)))")
            }
            let watch = HostWatch(["/proc/sys/kernel/core_pattern", rootfs + "/secret", null], mountsUnder: [s.directory.path])
            let bundle = try await s.bundle(["sh", "-c", "cat /secret; echo done"]) {
                $0["root.path"] = rootfs
                $0["mounts"] = ($0["mounts"] as? [[String: Any]] ?? []).filter { $0["destination"] as? String != "/dev" }
                $0["linux.maskedPaths"] = ["/secret"] + ($0["linux.maskedPaths"] as? [String] ?? [])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(!run.stdout.contains("SECRET"), "the masked file was readable: \(run)")
            if kind == "device" {
                #expect(run.status == 0 && run.lines == ["done"], "\(run)")
            } else {
                #expect(run.status != 0, "\(run)")
                #expect(run.errorLine == "berth: /dev/null in the container is not the null device", "\(run)")
            }
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }

    /// CVE-2025-52565: /dev/pts and /dev/console planted as links to a host directory, and a
    /// /dev/ptmx that is a plain file, in a rootfs whose /dev is its own.
    @Test func devPtsConsoleAndPtmxLinksStayInsideTheRootfs() async throws {
        try await withBerthSandbox { s in
            let hostTarget = try makeHostDirectory(s, "pts-target")
            let rootfs = try await copyRootfs(s)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/dev/pts", withDestinationPath: hostTarget)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/dev/console", withDestinationPath: hostTarget + "/console")
            try "fake ptmx\n".write(toFile: rootfs + "/dev/ptmx", atomically: false, encoding: .utf8)
            let watch = HostWatch([hostTarget, hostTarget + "/canary"], mountsUnder: [s.directory.path])
            let script = "readlink /dev/ptmx; readlink /dev/console; grep ' - devpts ' /proc/self/mountinfo | cut -d' ' -f5"
            func bundle() async throws -> TestBundle {
                try await s.bundle(["sh", "-c", script]) {
                    $0["root.path"] = rootfs
                    $0["mounts"] = ($0["mounts"] as? [[String: Any]] ?? []).filter { $0["destination"] as? String != "/dev" }
                }
            }
            // The link's target, missing inside the rootfs, is made there (as runc does); devpts
            // lands on it, inside the rootfs, and /dev/ptmx is made a link to it.
            let run = try await s.berth("run", "--bundle", try await bundle().path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == ["pts/ptmx", hostTarget + "/console", hostTarget], "\(run)")
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }

    // MARK: - 5. Writes to /proc

    /// A sysctl that is not in a namespace of the container is the host's. Asked with a value
    /// other than the host's, so a write would show; written back should the test ever fail.
    @Test func sysctlsOutsideTheContainersNamespacesAreRefused() async throws {
        let global = "/proc/sys/kernel/printk_ratelimit", ttl = "/proc/sys/net/ipv4/ip_default_ttl"
        let globalBefore = try String(contentsOfFile: global, encoding: .utf8)
        let ttlBefore = try String(contentsOfFile: ttl, encoding: .utf8)
        defer {
            if (try? String(contentsOfFile: global, encoding: .utf8)) != globalBefore { try? globalBefore.write(toFile: global, atomically: false, encoding: .utf8) }
            if (try? String(contentsOfFile: ttl, encoding: .utf8)) != ttlBefore { try? ttlBefore.write(toFile: ttl, atomically: false, encoding: .utf8) }
        }
        let other = { (value: String) in String((Int(value.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) % 200 + 1) }
        try await withBerthSandbox { s in
            let watch = HostWatch([global, ttl], mountsUnder: [s.directory.path])
            let cases: [(String, (inout BundleConfig) -> Void)] = [
                ("linux.sysctl[\"kernel.printk_ratelimit\"]", { $0["linux.sysctl"] = ["kernel.printk_ratelimit": other(globalBefore)] }),
                ("linux.sysctl[\"kernel.hostname\"]", { $0["linux.sysctl"] = ["kernel.hostname": "evil"] }),
                // The host's network namespace: net.* would be the host's.
                ("linux.sysctl[\"net.ipv4.ip_default_ttl\"]", {
                    $0.removeNamespace("network")
                    $0["linux.sysctl"] = ["net.ipv4.ip_default_ttl": other(ttlBefore)]
                }),
                ("linux.sysctl[\"net.ipv4.ip_default_ttl\"]", {
                    $0.removeNamespace("network")
                    $0["linux.namespaces"] = ($0["linux.namespaces"] as? [Any] ?? []) + [["type": "network", "path": "/proc/self/ns/net"]]
                    $0["linux.sysctl"] = ["net.ipv4.ip_default_ttl": other(ttlBefore)]
                }),
            ]
            for (path, edit) in cases {
                let bundle = try await s.bundle(["true"], edit: edit)
                let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
                #expect(run.status != 0 && run.errorLine.contains("config.json: \(path): "), "\(run)")
            }
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }

    /// CVE-2025-52881: the write goes through the procfs berth checked, and refuses to cross
    /// into a mount over /proc/sys (a host directory bound there) or to follow /proc elsewhere.
    @Test func sysctlWriteIsNotRedirectedByAMountOrALink() async throws {
        try await withBerthSandbox { s in
            let fake = try makeHostDirectory(s, "fake-ipv4")
            try "64\n".write(toFile: fake + "/ip_default_ttl", atomically: false, encoding: .utf8)
            let rootfs = try await copyRootfs(s)
            try FileManager.default.removeItem(atPath: rootfs + "/proc")
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/proc", withDestinationPath: "/fakeproc")
            try FileManager.default.createDirectory(atPath: rootfs + "/fakeproc/sys/net/ipv4", withIntermediateDirectories: true)
            try "64\n".write(toFile: rootfs + "/fakeproc/sys/net/ipv4/ip_default_ttl", atomically: false, encoding: .utf8)
            let watch = HostWatch([fake, fake + "/ip_default_ttl", rootfs + "/fakeproc/sys/net/ipv4/ip_default_ttl", "/proc/sys/net/ipv4/ip_default_ttl"],
                                  mountsUnder: [s.directory.path])

            let mounted = try await s.bundle(["true"]) {
                $0.addMount(destination: "/proc/sys/net/ipv4", type: "bind", source: fake, options: ["rbind", "rw"])
                $0["linux.sysctl"] = ["net.ipv4.ip_default_ttl": "99"]
            }
            let throughMount = try await s.berth("run", "--bundle", mounted.path, s.newID())
            #expect(throughMount.status != 0, "\(throughMount)")
            #expect(throughMount.errorLine.contains("linux.sysctl[\"net.ipv4.ip_default_ttl\"]") && throughMount.errorLine.contains("cross-device"),
                    "\(throughMount)")

            // No procfs mounted: /proc is the rootfs's link to a plain directory.
            let linked = try await s.bundle(["true"]) {
                $0["root.path"] = rootfs
                $0["mounts"] = ($0["mounts"] as? [[String: Any]] ?? []).filter { $0["destination"] as? String != "/proc" }
                $0["linux.sysctl"] = ["net.ipv4.ip_default_ttl": "99"]
            }
            let throughLink = try await s.berth("run", "--bundle", linked.path, s.newID())
            #expect(throughLink.status != 0 && throughLink.errorLine == "berth: /proc is not procfs", "\(throughLink)")
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }

    // MARK: - 2. Descriptors

    /// CVE-2024-21626: the container gets stdio, --preserve-fds and LISTEN_FDS, nothing else of
    /// berth's or of the caller's.
    @Test func onlyStdioPreservedAndListenFDsReachTheContainer() async throws {
        try await withBerthSandbox { s in
            let helper = try await AttackHelper.directory()
            var passed: [SpawnedProcess.ExtraFile] = []
            for fd in 3...6 {
                let path = s.directory.path + "/passed-\(fd)"
                try "fd \(fd)\n".write(toFile: path, atomically: false, encoding: .utf8)
                passed.append(.init(Int32(fd), path))
            }
            func descriptors(_ result: CommandResult) -> [String] {
                result.lines.map { line in
                    let parts = line.split(separator: " ", maxSplits: 1)
                    let name = parts.count == 2 ? (parts[1].split(separator: "/").last.map(String.init) ?? "") : ""
                    return parts[0] + (name.hasPrefix("passed-") ? " " + name : "")
                }
            }
            let args = ["/tmp/attack/berth-attack", "fds"]
            let preserved = try await s.bundle(args) { $0.bindUnderTmp(helper, at: "/tmp/attack", options: ["rbind", "ro"]) }
            let run = try await s.berth(["run", "--preserve-fds", "2", "--bundle", preserved.path, s.newID()], extraFiles: passed)
            #expect(run.status == 0, "\(run)")
            #expect(descriptors(run) == ["0", "1", "2", "3 passed-3", "4 passed-4"], "\(run)")

            let listening = try await s.bundle(args) {
                $0.bindUnderTmp(helper, at: "/tmp/attack", options: ["rbind", "ro"])
                $0.env = $0.env + ["LISTEN_FDS=3"]
            }
            let listen = try await s.berth(["run", "--bundle", listening.path, s.newID()], extraFiles: passed)
            #expect(listen.status == 0, "\(listen)")
            #expect(descriptors(listen) == ["0", "1", "2", "3 passed-3", "4 passed-4", "5 passed-5"], "\(listen)")

            // A LISTEN_FDS an image may carry in its environment, as large as it gets: it keeps
            // every descriptor the caller passed (that is what LISTEN_FDS asks), and berth's
            // own are still closed, so the helper sees the four passed ones.
            let huge = try await s.bundle(args) {
                $0.bindUnderTmp(helper, at: "/tmp/attack", options: ["rbind", "ro"])
                $0.env = $0.env + ["LISTEN_FDS=2147483647"]
            }
            let hugeListen = try await s.berth(["run", "--bundle", huge.path, s.newID()], extraFiles: passed)
            #expect(hugeListen.status == 0, "\(hugeListen)")
            #expect(descriptors(hugeListen) == ["0", "1", "2", "3 passed-3", "4 passed-4", "5 passed-5", "6 passed-6"], "\(hugeListen)")

            // exec, into a running container.
            let sleeper = try await s.bundle(["sleep", "1000"]) { $0.bindUnderTmp(helper, at: "/tmp/attack", options: ["rbind", "ro"]) }
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", sleeper.path, id).succeeded)
            let exec = try await s.berth(["exec", "--preserve-fds", "1", id] + args, extraFiles: passed)
            #expect(exec.status == 0, "\(exec)")
            #expect(descriptors(exec) == ["0", "1", "2", "3 passed-3"], "\(exec)")
            let plain = try await s.berth(["exec", id] + args, extraFiles: passed)
            #expect(descriptors(plain) == ["0", "1", "2"], "\(plain)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    /// A cwd of /proc/self/fd/N, N a host directory (passed on purpose, or whatever the init or
    /// exec might still hold): refused, or the process runs somewhere inside the container.
    @Test func cwdThroughADescriptorCannotLeaveTheContainer() async throws {
        try await withBerthSandbox { s in
            let hostDirectory = try makeHostDirectory(s, "cwd-target")
            let watch = HostWatch([hostDirectory, hostDirectory + "/canary"], mountsUnder: [s.directory.path])
            let directoryFD = SpawnedProcess.ExtraFile(3, hostDirectory, flags: O_RDONLY | O_DIRECTORY)
            // pwd prints the cwd as the kernel has it; a cwd outside the root reads "(unreachable)".
            let script = ["sh", "-c", "pwd; touch escaped 2>/dev/null; exit 0"]
            // Refused (the process never ran: nothing printed), or it ran inside the container.
            // Refused by berth, or by the init at start: the cwd is entered after the fifo, when
            // the init holds other descriptors than at create (runc's init prints the bare
            // `chdir P: ...` and exits 255 there too).
            func harmless(_ result: CommandResult, _ fd: Int) -> Bool {
                guard result.status == 0 else {
                    return result.stdout.isEmpty && (result.errorLine.hasPrefix("berth: ") || result.status == 255 && result.errorLine.hasPrefix("chdir /proc/self/fd/\(fd): "))
                }
                return result.lines.count == 1 && result.lines[0].hasPrefix("/") && !result.lines[0].contains("unreachable")
            }

            let passed = try await s.bundle(script) { $0["process.cwd"] = "/proc/self/fd/3" }
            let run = try await s.berth(["run", "--preserve-fds", "1", "--bundle", passed.path, s.newID()], extraFiles: [directoryFD])
            #expect(run.status != 0 && run.errorLine.contains("outside the container's root"), "\(run)")

            let sleeper = try await s.bundle(["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", sleeper.path, id).succeeded)
            let exec = try await s.berth(["exec", "--preserve-fds", "1", "--cwd", "/proc/self/fd/3", id] + script, extraFiles: [directoryFD])
            #expect(exec.status != 0 && exec.errorLine.contains("outside the container's root"), "\(exec)")

            // Descriptors of berth's own, whatever their number.
            for fd in 3...(CgroupV2Host.inVM ? 6 : 9) {
                let bundle = try await s.bundle(script) { $0["process.cwd"] = "/proc/self/fd/\(fd)" }
                let guessed = try await s.berth("run", "--bundle", bundle.path, s.newID())
                #expect(harmless(guessed, fd), "cwd /proc/self/fd/\(fd): \(guessed)")
                let execGuess = try await s.berth(["exec", "--cwd", "/proc/self/fd/\(fd)", id] + script)
                #expect(harmless(execGuess, fd), "exec --cwd /proc/self/fd/\(fd): \(execGuess)")
            }
            #expect(try await s.berth("delete", "--force", id).succeeded)
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }

    // MARK: - 1. The runtime binary (CVE-2019-5736)

    /// A container process races every `berth exec` and every init born into its pid namespace
    /// for /proc/PID/exe (read, write, and the reopen-after-exit of the original exploit),
    /// /proc/PID/root and /proc/PID/fd. It runs a copy of berth, so a failure cannot damage the
    /// binary under test; the copy must be unchanged afterwards.
    @Test func containerProcessCannotReachTheRuntimeDuringExecOrCreate() async throws {
        let original = try BerthPaths.berth()
        let copyDirectory = try TemporaryDirectory("berth-copy")
        defer { copyDirectory.remove() }
        let copy = copyDirectory.path + "/berth"
        try FileManager.default.copyItem(atPath: original, toPath: copy)
        let originalBytes = try Data(contentsOf: URL(fileURLWithPath: original))
        var info = stat()
        try #require(stat(copy, &info) == 0)
        let mtime = info.st_mtim
        let runtime = "\(info.st_dev):\(info.st_ino)"

        try await withBerthSandbox(berthPath: copy) { s in
            let helper = try await AttackHelper.directory()
            let control = try makeHostDirectory(s, "control")
            let racer = try await s.bundle(["sh", "-c", "sleep 1000 & exec /tmp/attack/berth-attack race \(runtime) \(600 * TestTiming.scale) /tmp/ctl/stop /tmp/ctl/report"]) {
                $0.bindUnderTmp(helper, at: "/tmp/attack", options: ["rbind", "ro"])
                $0.bindUnderTmp(control, at: "/tmp/ctl")
            }
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", racer.path, id).succeeded)
            let initPid = try #require(try await s.state(id)?["pid"] as? Int)
            let rounds = CgroupV2Host.inVM ? 8 : 40
            for _ in 0..<rounds {
                let exec = try await s.berth("exec", id, "true")
                #expect(exec.status == 0, "\(exec)")
            }
            // Inits born into the racer's pid namespace (a pod's containers share one).
            let joining = try await s.bundle(["true"]) {
                $0.removeNamespace("pid")
                $0["linux.namespaces"] = ($0["linux.namespaces"] as? [Any] ?? []) + [["type": "pid", "path": "/proc/\(initPid)/ns/pid"]]
            }
            for _ in 0..<(rounds / 4) {
                let run = try await s.berth("run", "--bundle", joining.path, s.newID())
                #expect(run.status == 0, "\(run)")
            }
            #expect(FileManager.default.createFile(atPath: control + "/stop", contents: nil))
            try #require(await eventually(timeout: 30 * TestTiming.scale) { FileManager.default.fileExists(atPath: control + "/report") },
                         "the racer wrote no report")
            let report = try String(contentsOfFile: control + "/report", encoding: .utf8)
            var counts: [String: Int] = [:]
            let words = report.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            for index in stride(from: 0, to: words.count - 1, by: 2) { counts[words[index]] = Int(words[index + 1]) }
            #expect((counts["attempts"] ?? 0) > 0 && (counts["others"] ?? 0) > 0, "the racer saw no process: \(report)")
            for key in ["exe", "exe-read", "exe-write", "reopened", "outside"] {
                #expect(counts[key] == 0, "\(key): \(report)")
            }
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: copy))
        #expect(after == originalBytes, "the berth copy was modified")
        try #require(stat(copy, &info) == 0)
        #expect(info.st_mtim.tv_sec == mtime.tv_sec && info.st_mtim.tv_nsec == mtime.tv_nsec)
    }

    // MARK: - 7. Least privilege by default

    /// The default profile of `berth spec` refuses the dangerous calls with EPERM even to a
    /// process holding every capability, and lets ordinary work run.
    @Test func defaultSeccompProfileRefusesDangerousSyscalls() async throws {
        try await withBerthSandbox { s in
            let helper = try await AttackHelper.directory()
            let watch = HostWatch([], mountsUnder: [s.directory.path, "/nonexistent-berth-attack"])
            let bundle = try await s.bundle(["/tmp/attack/berth-attack", "syscalls"]) {
                $0.bindUnderTmp(helper, at: "/tmp/attack", options: ["rbind", "ro"])
                let all = Self.heldCapabilities()
                $0["process.capabilities"] = ["bounding": all, "effective": all, "permitted": all]
            }
            #expect(try bundle.config()["linux.seccomp.defaultAction"] as? String != nil, "berth spec wrote no seccomp profile")
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            var results: [String: Int32] = [:]
            for line in run.lines {
                let parts = line.split(separator: " ")
                if parts.count == 2 { results[String(parts[0])] = Int32(parts[1]) }
            }
            for name in ["mount", "umount2", "unshare-user", "keyctl", "bpf", "ptrace", "kexec_load", "open_by_handle_at", "reboot", "mknod-block"] {
                #expect(results[name] == EPERM, "\(name): \(run)")
            }
            #expect(results["getpid"] == 0, "\(run)")

            // The same process without the filter: mount(2) of a missing path, allowed, fails with
            // ENOENT, so the EPERM above was the filter's. (Other calls may meet another EPERM
            // here: a device cgroup, a host's lockdown.)
            var config = try bundle.config()
            config["linux.seccomp"] = nil
            try bundle.save(config)
            let unfiltered = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(unfiltered.lines.contains("mount \(ENOENT)") && unfiltered.lines.contains("umount2 \(ENOENT)"), "\(unfiltered)")

            let workload = try await s.bundle(["sh", "-c", """
                grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -s '\\t' ' '
                cd /tmp && echo hello > f && cat f | tr a-z A-Z && sleep 0.01 && ls / | grep -cx bin && ps > /dev/null && echo ok
                """]) { $0.bindUnderTmp(helper, at: "/tmp/attack", options: ["rbind", "ro"]) }
            let normal = try await s.berth("run", "--bundle", workload.path, s.newID())
            #expect(normal.status == 0, "\(normal)")
            #expect(normal.lines == ["NoNewPrivs: 1", "Seccomp: 2", "HELLO", "1", "ok"], "\(normal)")
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }

    /// Every capability this test process holds (a host may have dropped some from its
    /// bounding set: berth cannot grant those).
    static func heldCapabilities() -> [String] {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("CapBnd:") } ?? ""
        let bits = UInt64(line.split(separator: "\t").last ?? "", radix: 16) ?? 0
        return allCapabilities.enumerated().filter { bits & (1 << UInt64($0.offset)) != 0 }.map(\.element)
    }

    /// In capability number order.
    static let allCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// Docker's default set, by number (linux/capability.h), to check berth's table against.
    static let defaultCapabilityNumbers = ["CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_FSETID": 4, "CAP_KILL": 5,
                                           "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_NET_BIND_SERVICE": 10,
                                           "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18, "CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29,
                                           "CAP_SETFCAP": 31]

    @Test func defaultCapabilitiesNoNewPrivsAndNoRawSockets() async throws {
        try await withBerthSandbox { s in
            let helper = try await AttackHelper.directory()
            let status = try await s.bundle(["grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"])
            let configured = try #require(try status.config()["process.capabilities.bounding"] as? [String])
            #expect(Set(configured) == Set(Self.defaultCapabilityNumbers.keys), "berth spec's set: \(configured)")
            let run = try await s.berth("run", "--bundle", status.path, s.newID())
            #expect(run.status == 0, "\(run)")
            let bits = configured.reduce(UInt64(0)) { $0 | (1 << UInt64(Self.defaultCapabilityNumbers[$1] ?? 63)) }
            let hex = String(bits, radix: 16)
            let mask = String(repeating: "0", count: 16 - hex.count) + hex
            let fields = run.lines.map { $0.split(separator: "\t").joined(separator: " ") }
            #expect(fields == ["CapInh: 0000000000000000", "CapPrm: \(mask)", "CapEff: \(mask)", "CapBnd: \(mask)",
                               "CapAmb: 0000000000000000", "NoNewPrivs: 1"], "\(run)")

            // A setuid-root binary, made by root inside the container on a tmpfs that allows
            // setuid, run as uid 1000 by exec: no_new_privs keeps the euid. (busybox would drop
            // the euid itself, so the probe is the helper.)
            let setuid = try await s.bundle(["sh", "-c", "cp /tmp/attack/berth-attack /tmp/suid/probe && chmod 4755 /tmp/suid/probe && exec sleep 1000"]) {
                $0.bindUnderTmp(helper, at: "/tmp/attack", options: ["rbind", "ro"])
                $0.addMount(destination: "/tmp/suid", type: "tmpfs", source: "tmpfs", options: ["mode=755", "size=4m"])
            }
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", setuid.path, id).succeeded)
            try #require(await eventually { (try? await s.berth("exec", id, "test", "-u", "/tmp/suid/probe").succeeded) == true }, "no setuid probe")
            let kept = try await s.berth("exec", "--user", "1000:1000", id, "/tmp/suid/probe", "ids")
            #expect(kept.status == 0 && kept.lines == ["uid 1000 euid 1000"], "\(kept)")
            // Control: without no_new_privs the same binary does become root.
            let processFile = s.directory.path + "/process.json"
            let process: [String: Any] = ["args": ["/tmp/suid/probe", "ids"], "cwd": "/", "user": ["uid": 1000, "gid": 1000],
                                          "env": ["PATH=/bin", s.marker], "noNewPrivileges": false,
                                          "capabilities": ["bounding": Array(Self.defaultCapabilityNumbers.keys)]]
            try JSONSerialization.data(withJSONObject: process).write(to: URL(fileURLWithPath: processFile))
            let gained = try await s.berth("exec", "--process", processFile, id)
            #expect(gained.lines == ["uid 1000 euid 0"], "\(gained)")
            #expect(try await s.berth("delete", "--force", id).succeeded)

            // CAP_NET_RAW is what allows raw sockets: without it, none.
            let noRaw = try await s.bundle(["/tmp/attack/berth-attack", "rawsocket"]) {
                $0.bindUnderTmp(helper, at: "/tmp/attack", options: ["rbind", "ro"])
                let caps = Self.defaultCapabilityNumbers.keys.filter { $0 != "CAP_NET_RAW" }.sorted()
                $0["process.capabilities"] = ["bounding": caps, "effective": caps, "permitted": caps]
            }
            let refused = try await s.berth("run", "--bundle", noRaw.path, s.newID())
            #expect(refused.lines == ["raw \(EPERM)"], "\(refused)")
            let withRaw = try await s.bundle(["/tmp/attack/berth-attack", "rawsocket"]) { $0.bindUnderTmp(helper, at: "/tmp/attack", options: ["rbind", "ro"]) }
            let allowed = try await s.berth("run", "--bundle", withRaw.path, s.newID())
            #expect(allowed.lines == ["raw 0"], "\(allowed)")
        }
    }

    // MARK: - User namespaces

    @Test func rootInAUserNamespaceIsAnUnprivilegedUserOnTheHost() async throws {
        try await withBerthSandbox { s in
            let shared = try makeHostDirectory(s, "userns-out")
            // The bind source is looked at by the container's root, an unprivileged user here.
            chmod(s.directory.path, 0o711)
            chmod(shared, 0o777)
            let bundle = try await s.bundle(["sh", "-c", "id -u; tr -s ' ' < /proc/self/uid_map; echo hi > /tmp/out/created; mkdir /tmp/out/dir"]) {
                $0["linux.namespaces"] = ($0["linux.namespaces"] as? [Any] ?? []) + [["type": "user"]]
                $0["linux.uidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
                $0["linux.gidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
                $0.bindUnderTmp(shared, at: "/tmp/out")
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == ["0", " 0 100000 65536"], "\(run)")
            for name in ["created", "dir"] {
                var info = stat()
                #expect(stat(shared + "/" + name, &info) == 0, "\(name) missing")
                #expect(info.st_uid == 100000 && info.st_gid == 100000, "\(name) is owned by \(info.st_uid):\(info.st_gid)")
            }
        }
    }

    // MARK: - 6. Input validation

    @Test func idsCgroupPathsAndHookPathsCannotEscape() async throws {
        try await withBerthSandbox { s in
            let cgroupEscape = "berth-attack-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let cgroupRoot = HostCgroup.mount ?? "/sys/fs/cgroup"
            let watch = HostWatch([s.directory.path + "/escape", cgroupRoot + "/" + cgroupEscape, (cgroupRoot as NSString).deletingLastPathComponent + "/" + cgroupEscape],
                                  mountsUnder: [s.directory.path])
            let bundle = try await s.bundle(["true"])
            for id in ["../escape", "a/../../escape", "..", ".escape"] {
                let create = try await s.berth("create", "--bundle", bundle.path, id)
                #expect(create.status != 0 && create.errorLine.contains("container id"), "\(id): \(create)")
            }
            for path in ["../../\(cgroupEscape)", "/berth/../../\(cgroupEscape)", "/"] {
                let escaping = try await s.bundle(["true"]) { $0["linux.cgroupsPath"] = path }
                let create = try await s.berth("create", "--bundle", escaping.path, s.newID())
                #expect(create.status != 0 && create.errorLine.contains("linux.cgroupsPath"), "\(path): \(create)")
            }
            let hook = try await s.bundle(["true"]) { $0.addHook("prestart", path: "relative/hook") }
            let create = try await s.berth("create", "--bundle", hook.path, s.newID())
            #expect(create.status != 0 && create.errorLine.contains("hooks.prestart[0].path"), "\(create)")
            // Config text in a message is escaped: one line, and no escape sequence reaches the
            // terminal of whoever reads it.
            let control = try await s.bundle(["true"]) { $0["root.path"] = "no\nsuch\u{1b}[2Jroot" }
            let quoted = try await s.berth("create", "--bundle", control.path, s.newID())
            #expect(quoted.status != 0 && quoted.errorLine.contains("no\\nsuch\\x1b[2Jroot") && !quoted.errorLine.contains("\n")
                    && !quoted.stderr.contains("\u{1b}"), "\(quoted)")
            #expect(s.stateEntries.isEmpty)
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }
}

// MARK: - Helpers

/// A directory of the host with a canary file, for an attack to aim at.
func makeHostDirectory(_ s: BerthSandbox, _ name: String) throws -> String {
    let path = s.directory.path + "/" + name
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    try "host file\n".write(toFile: path + "/canary", atomically: false, encoding: .utf8)
    return path
}

/// A copy of the busybox rootfs in the sandbox, for a test to plant things in. Its contents are
/// copied into a new directory (`cp -a ROOTFS/. COPY`), so a rootfs that is itself a link is
/// never copied as the link: planting things in the copy must not touch the shared rootfs.
func copyRootfs(_ s: BerthSandbox) async throws -> String {
    let destination = s.directory.path + "/rootfs-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: false)
    let cp = try SpawnedProcess("/bin/cp", ["-a", s.rootfs + "/.", destination], environment: ["PATH=/usr/bin:/bin"],
                                stdoutPath: destination + ".out", stderrPath: destination + ".err")
    let result = await cp.wait(timeout: 60 * TestTiming.scale)
    try #require(result.succeeded, "cp -a \(s.rootfs): \(result)")
    var info = stat()
    try #require(lstat(destination, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR && lstat(destination + "/bin/busybox", &info) == 0
                 && (info.st_mode & S_IFMT) == S_IFREG, "the rootfs copy \(destination) is not a plain directory")
    return destination
}

/// What an attack could have changed on the host: the watched paths (kind, link target,
/// contents or entries, mtime; contents only under /proc) and mount points. `changes()` lists
/// the differences since creation, and any new host mount point under `mountsUnder` or at a
/// watched path.
struct HostWatch {
    let paths: [String]
    let mountPrefixes: [String]
    let before: [String: String]
    let mountsBefore: Set<String>

    init(_ paths: [String], mountsUnder prefixes: [String]) {
        self.paths = paths
        mountPrefixes = prefixes
        before = Dictionary(uniqueKeysWithValues: paths.map { ($0, HostWatch.describe($0)) })
        mountsBefore = HostWatch.mountPoints()
    }

    func changes() -> [String] {
        var found: [String] = []
        for path in paths {
            let now = HostWatch.describe(path)
            if now != before[path] { found.append("\(path): \(before[path] ?? "?") -> \(now)") }
        }
        let mounts = HostWatch.mountPoints()
        for point in mounts.subtracting(mountsBefore).sorted()
        where (mountPrefixes + paths).contains(where: { point == $0 || point.hasPrefix($0 + "/") }) {
            found.append("new host mount at \(point)")
        }
        return found
    }

    static func describe(_ path: String) -> String {
        var info = stat()
        guard lstat(path, &info) == 0 else { return "missing" }
        let time = path.hasPrefix("/proc/") ? "" : " mtime \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            let entries = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
            return "directory [\(entries.joined(separator: ","))]\(time)"
        case S_IFLNK:
            return "link -> \((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")"
        case S_IFREG:
            return "file \((try? String(contentsOfFile: path, encoding: .utf8))?.debugDescription ?? "unreadable")\(time)"
        default:
            return "mode \(String(info.st_mode, radix: 8)) rdev \(info.st_rdev)\(time)"
        }
    }

    /// Mount points of the host (this process's mount namespace), with mountinfo's octal escapes undone.
    static func mountPoints() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        var points: Set<String> = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { continue }
            var point = String(fields[4])
            for (escaped, plain) in [("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")] {
                point = point.replacingOccurrences(of: escaped, with: plain)
            }
            points.insert(point)
        }
        return points
    }
}
