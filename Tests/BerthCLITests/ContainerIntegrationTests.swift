import Foundation
import Glibc
import TestSupport
import Testing

/// The container's process as `berth run` starts it, checked from inside with busybox, and the
/// lifecycle commands around it. Runs on the host and again in the cgroup v2 VM (the name ends
/// in IntegrationTests), so every test costs a few container runs at most.
@Suite(.timeLimit(.minutes(5)))
struct ContainerIntegrationTests {
    // MARK: - The process's view

    @Test func processIsPIDOneInItsOwnPIDNamespace() async throws {
        try await withBerthSandbox { s in
            // The glob is expanded by the shell itself, so while it runs the shell is alone.
            let bundle = try await s.bundle(["sh", "-c", "echo $$; readlink /proc/self; echo /proc/[0-9]*"])
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines.first == "1", "\(run)")
            #expect(run.lines.count == 3 && Int(run.lines[1]) ?? 0 > 1 && run.lines[2] == "/proc/1", "\(run)")
        }
    }

    @Test func hostnameComesFromTheConfig() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "hostname; cat /proc/sys/kernel/hostname"]) { $0["hostname"] = "berth-it-host" }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == ["berth-it-host", "berth-it-host"], "\(run)")
        }
    }

    @Test func readonlyRootRefusesWrites() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "touch /probe 2>&1; echo touch=$?; grep -E '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / ' /proc/self/mountinfo"])
            #expect(try bundle.config()["root.readonly"] as? Bool == true, "berth spec should make root.readonly true")
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.contains("Read-only file system"), "\(run)")
            #expect(run.lines.contains("touch=1"), "\(run)")
            let rootLine = try #require(run.lines.last, "\(run)")
            let options = rootLine.split(separator: " ")[5].split(separator: ",")
            #expect(options.contains("ro"), "mount options of /: \(rootLine)")
            #expect(!FileManager.default.fileExists(atPath: s.rootfs + "/probe"))
        }
    }

    @Test func tmpfsMountGetsTheConfiguredSizeAndMode() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "stat -c %a /tmp; grep ' /tmp ' /proc/self/mountinfo; df -k /tmp | tail -n 1"]) {
                $0.addMount(destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "size=2m", "mode=1750"])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            try #require(run.lines.count == 3, "\(run)")
            #expect(run.lines[0] == "1750")
            #expect(run.lines[1].contains(" - tmpfs "), "\(run.lines[1])")
            #expect(run.lines[1].contains("size=2048k"), "\(run.lines[1])")
            #expect(run.lines[1].contains("nosuid") && run.lines[1].contains("nodev"), "\(run.lines[1])")
            // df: Filesystem 1K-blocks Used Available Use% Mounted-on
            #expect(run.lines[2].split(separator: " ").dropFirst().first == "2048", "\(run.lines[2])")
        }
    }

    @Test func readOnlyBindMountRefusesWrites() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "cat /tmp/in/hello; touch /tmp/in/new 2>&1; echo touch=$?"])
            let source = try bundle.makeDirectory("ro-source")
            try "from the host\n".write(toFile: source + "/hello", atomically: false, encoding: .utf8)
            var config = try bundle.config()
            config.bindUnderTmp(source, at: "/tmp/in", options: ["rbind", "ro"])
            try bundle.save(config)
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines.first == "from the host", "\(run)")
            #expect(run.stdout.contains("Read-only file system"), "\(run)")
            #expect(run.lines.last == "touch=1", "\(run)")
            #expect(!FileManager.default.fileExists(atPath: source + "/new"))
        }
    }

    @Test func readWriteBindMountWritesReachTheHost() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "echo written inside > /tmp/out/result"])
            let source = try bundle.makeDirectory("rw-source")
            var config = try bundle.config()
            config.bindUnderTmp(source, at: "/tmp/out")
            try bundle.save(config)
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(bundle.read("rw-source/result") == "written inside\n")
        }
    }

    @Test func processRunsAsTheConfiguredUserAndGroups() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "id -u; id -g; grep -E '^(Uid|Gid|Groups):' /proc/self/status"]) {
                $0["process.user"] = ["uid": 1000, "gid": 1001, "additionalGids": [2000, 2001]]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            let fields = run.lines.map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ") }
            #expect(fields == ["1000", "1001", "Uid: 1000 1000 1000 1000", "Gid: 1001 1001 1001 1001", "Groups: 2000 2001"], "\(run)")
        }
    }

    /// The configured environment, and HOME from /etc/passwd when it has none (as in runc).
    @Test func environmentIsExactlyTheConfiguredOne() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["env"]) { $0.env = $0.env + ["GREETING=hello world", "EMPTY="] }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            let configured = try bundle.config().env
            #expect(configured.contains("GREETING=hello world") && !configured.contains { $0.hasPrefix("HOME=") })
            #expect(run.lines.sorted() == (configured + ["HOME=/root"]).sorted(), "\(run)")
        }
    }

    @Test func workingDirectoryComesFromTheConfig() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "pwd; ls -d ./passwd"]) { $0["process.cwd"] = "/etc" }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == ["/etc", "./passwd"], "\(run)")
        }
    }

    @Test func rlimitsComeFromTheConfig() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "ulimit -n; grep 'Max open files' /proc/self/limits"]) {
                $0["process.rlimits"] = [["type": "RLIMIT_NOFILE", "soft": 512, "hard": 768]]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            try #require(run.lines.count == 2, "\(run)")
            #expect(run.lines[0] == "512")
            #expect(run.lines[1].split(separator: " ") == ["Max", "open", "files", "512", "768", "files"], "\(run.lines[1])")
        }
    }

    /// The capability numbers from linux/capability.h, written out here rather than taken from
    /// berth's own table so that a wrong table shows.
    static let capabilityNumbers = ["CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_KILL": 5, "CAP_SETGID": 6,
                                    "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18,
                                    "CAP_AUDIT_WRITE": 29]

    static func mask(_ names: [String]) -> String {
        let bits = names.reduce(UInt64(0)) { $0 | (1 << UInt64(capabilityNumbers[$1]!)) }
        let hex = String(bits, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    @Test func capabilitySetsMatchTheConfig() async throws {
        let bounding = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE"]
        let effective = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        let inheritable = ["CAP_KILL"]
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["grep", "^Cap", "/proc/self/status"]) {
                $0["process.capabilities"] = ["bounding": bounding, "effective": effective, "permitted": effective,
                                              "inheritable": inheritable, "ambient": inheritable]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            var sets: [String: String] = [:]
            for line in run.lines {
                let parts = line.split(separator: "\t")
                if parts.count == 2 { sets[String(parts[0].dropLast())] = String(parts[1]) }
            }
            #expect(sets["CapBnd"] == Self.mask(bounding), "\(run)")
            #expect(sets["CapEff"] == Self.mask(effective), "\(run)")
            #expect(sets["CapPrm"] == Self.mask(effective), "\(run)")
            #expect(sets["CapInh"] == Self.mask(inheritable), "\(run)")
            #expect(sets["CapAmb"] == Self.mask(inheritable), "\(run)")
        }
    }

    @Test func defaultDevicesAndDevLinksAreThere() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "stat -c '%n %F %t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done"])
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == [
                "/dev/null character special file 1:3 666", "/dev/zero character special file 1:5 666",
                "/dev/full character special file 1:7 666", "/dev/random character special file 1:8 666",
                "/dev/urandom character special file 1:9 666", "/dev/tty character special file 5:0 666",
                "/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2", "pts/ptmx",
            ], "\(run)")
        }
    }

    @Test func maskedAndReadonlyPathsAreOutOfReach() async throws {
        try await withBerthSandbox { s in
            // The sysctl is written back with the value it has, so even a failing test changes nothing.
            let script = """
                for p in \(Self.maskedPaths.joined(separator: " ")); do grep -q " $p " /proc/self/mountinfo && echo masked $p; done
                [ -e /proc/keys ] && echo keys=$(wc -c < /proc/keys)
                v=$(cat /proc/sys/kernel/printk_ratelimit); (echo "$v" > /proc/sys/kernel/printk_ratelimit) 2>/dev/null && echo proc-sys-writable || echo proc-sys-readonly
                touch /sys/probe 2>/dev/null && echo sys-writable || echo sys-readonly
                """
            let bundle = try await s.bundle(["sh", "-c", script])
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            // Masked are the default paths this kernel has (the container's procfs is the host's kind).
            let present = Self.maskedPaths.filter { FileManager.default.fileExists(atPath: $0) }
            var expected = present.map { "masked \($0)" }
            if FileManager.default.fileExists(atPath: "/proc/keys") { expected.append("keys=0") }
            expected += ["proc-sys-readonly", "sys-readonly"]
            #expect(run.lines == expected, "\(run)")
        }
    }

    /// `berth spec`'s masked paths.
    static let maskedPaths = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                              "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi", "/sys/devices/virtual/powercap"]

    @Test func umaskOomScoreAdjSysctlAndDomainnameComeFromTheConfig() async throws {
        let hostTTL = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_default_ttl", encoding: .utf8)
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "umask; cat /proc/self/oom_score_adj /proc/sys/net/ipv4/ip_default_ttl /proc/sys/kernel/domainname"]) {
                $0["process.user.umask"] = 0o027
                $0["process.oomScoreAdj"] = 321
                $0["linux.sysctl"] = ["net.ipv4.ip_default_ttl": "42"]
                $0["domainname"] = "berth.example"
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == ["0027", "321", "42", "berth.example"], "\(run)")
        }
        // The container's network namespace had its own copy of the sysctl.
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_default_ttl", encoding: .utf8) == hostTTL)
    }

    // MARK: - Exit status and signals

    @Test func exitStatusOfTheProcessIsBerthRunsExitStatus() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "exit 7"])
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 7, "\(run)")
        }
    }

    /// Without a pid namespace of its own: as PID 1 the shell could not kill itself, the kernel
    /// drops signals to a namespace's init that has no handler for them.
    @Test func processKilledBySignalMakesBerthRunExit128PlusSignal() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "kill -TERM $$; sleep 5"]) { $0.removeNamespace("pid") }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 128 + SIGTERM, "\(run)")
        }
    }

    @Test func foregroundRunForwardsSignalsToTheProcess() async throws {
        try await withBerthSandbox { s in
            // As PID 1 the shell gets TERM only because it has a handler for it.
            let bundle = try await s.bundle(["sh", "-c", "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done"])
            let run = try s.spawnBerth(["run", "--bundle", bundle.path, s.newID()])
            let ready = await eventually { run.stdoutSoFar.contains("ready") || run.poll() }
            guard ready, !run.poll() else {
                run.kill()
                Issue.record("the container never got ready: \(await run.wait())")
                return
            }
            kill(run.pid, SIGTERM)
            let result = await run.wait()
            #expect(result.status == 42, "\(result)")
            #expect(result.lines == ["ready", "got TERM"], "\(result)")
        }
    }

    // MARK: - Lifecycle

    @Test func stateReportsCreatedRunningStoppedThenTheContainerIsGone() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "while [ ! -e /tmp/ctl/go ]; do sleep 0.05; done"])
            let control = try bundle.makeDirectory("ctl")
            var config = try bundle.config()
            config.bindUnderTmp(control, at: "/tmp/ctl")
            try bundle.save(config)
            let id = s.newID()

            let create = try await s.berth("create", "--bundle", bundle.path, id)
            try #require(create.succeeded, "\(create)")
            let created = try #require(try await s.state(id))
            #expect(created["status"] as? String == "created")
            #expect(created["id"] as? String == id)
            #expect(created["bundle"] as? String == bundle.path)
            let pid = try #require(created["pid"] as? Int)
            #expect(pid > 0)
            #expect(HostProcesses.isAlive(pid_t(pid)))

            let start = try await s.berth("start", id)
            try #require(start.succeeded, "\(start)")
            let running = try #require(try await s.state(id))
            #expect(running["status"] as? String == "running")
            #expect(running["pid"] as? Int == pid)

            #expect(FileManager.default.createFile(atPath: control + "/go", contents: nil))
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(try await s.state(id)?["pid"] as? Int == 0)

            let delete = try await s.berth("delete", id)
            #expect(delete.succeeded, "\(delete)")
            let gone = try await s.berth("state", id)
            #expect(gone.status != 0)
            #expect(gone.errorLine.contains("does not exist"), "\(gone)")
        }
    }

    @Test func deleteWithoutForceRefusesARunningContainer() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            let id = s.newID()
            let run = try await s.berth("run", "--detach", "--bundle", bundle.path, id)
            try #require(run.succeeded, "\(run)")
            let refused = try await s.berth("delete", id)
            #expect(refused.status != 0)
            #expect(refused.errorLine.contains("running"), "\(refused)")
            #expect(try await s.status(id) == "running")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test func forceDeleteKillsAndRemovesARunningContainer() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            let id = s.newID()
            let run = try await s.berth("run", "--detach", "--bundle", bundle.path, id)
            try #require(run.succeeded, "\(run)")
            let state = try #require(try await s.state(id))
            #expect(state["status"] as? String == "running")
            let pid = pid_t(try #require(state["pid"] as? Int))
            let cgroup = try #require(s.cgroupDirectory(id))
            let procs = (try? String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)) ?? ""
            #expect(procs.split(separator: "\n").contains(Substring(String(pid))), "cgroup.procs of \(cgroup): \(procs)")

            let delete = try await s.berth("delete", "--force", id)
            #expect(delete.succeeded, "\(delete)")
            #expect(await HostProcesses.waitGone(pid), "init \(pid) survived delete --force")
            #expect(!FileManager.default.fileExists(atPath: cgroup))
            #expect(try await s.state(id) == nil)
        }
    }

    /// Without a pid namespace, so that killing the init alone would leave the child running.
    @Test func killAllSignalsEveryProcessOfTheContainer() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "sleep 1000 & sleep 1001 & wait"]) { $0.removeNamespace("pid") }
            let id = s.newID()
            let run = try await s.berth("run", "--detach", "--bundle", bundle.path, id)
            try #require(run.succeeded, "\(run)")
            let cgroup = try #require(s.cgroupDirectory(id))
            var pids: [pid_t] = []
            let spawned = await eventually {
                pids = ((try? String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0) }
                return pids.count == 3
            }
            try #require(spawned, "expected sh and its two sleeps in \(cgroup), found \(pids)")

            let kill = try await s.berth("kill", "--all", id, "TERM")
            #expect(kill.succeeded, "\(kill)")
            for pid in pids {
                #expect(await HostProcesses.waitGone(pid), "process \(pid) (\(HostProcesses.command(pid))) survived kill --all")
            }
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(try await s.berth("delete", id).succeeded)
        }
    }

    @Test func killSendsTheNamedSignalToTheInit() async throws {
        try await withBerthSandbox { s in
            // As PID 1 the shell only gets the signals it has a handler for.
            let bundle = try await s.bundle(["sh", "-c", "trap 'echo got USR1 > /tmp/ctl/signal; exit 0' USR1; touch /tmp/ctl/ready; while :; do sleep 0.05; done"])
            let control = try bundle.makeDirectory("ctl")
            var config = try bundle.config()
            config.bindUnderTmp(control, at: "/tmp/ctl")
            try bundle.save(config)
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            // Until the trap is set, USR1 would be dropped.
            try #require(await eventually { bundle.exists("ctl/ready") }, "the container never got ready")
            let kill = try await s.berth("kill", id, "SIGUSR1")
            #expect(kill.succeeded, "\(kill)")
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(bundle.read("ctl/signal") == "got USR1\n")
            let unknown = try await s.berth("kill", id, "SIGNOPE")
            #expect(unknown.status != 0)
            #expect(try await s.berth("delete", id).succeeded)
        }
    }

    @Test func pidFileHoldsTheInitsPid() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            let id = s.newID()
            let pidFile = s.directory.path + "/init.pid"
            let create = try await s.berth("create", "--bundle", bundle.path, "--pid-file", pidFile, id)
            try #require(create.succeeded, "\(create)")
            let written = try String(contentsOfFile: pidFile, encoding: .utf8)
            let state = try #require(try await s.state(id))
            #expect(Int(written.trimmingCharacters(in: .whitespacesAndNewlines)) == state["pid"] as? Int, "pid file: \(written.debugDescription)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test func listInJSONShowsTheContainer() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            let id = s.newID()
            try #require(try await s.berth("create", "--bundle", bundle.path, id).succeeded)
            let list = try await s.berth("list", "--format", "json")
            #expect(list.succeeded, "\(list)")
            let entries = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]], "\(list)")
            #expect(entries.count == 1)
            let entry = try #require(entries.first)
            #expect(entry["id"] as? String == id)
            #expect(entry["status"] as? String == "created")
            #expect(entry["bundle"] as? String == bundle.path)
            #expect(entry["pid"] as? Int == (try await s.state(id))?["pid"] as? Int)
            #expect((entry["pid"] as? Int ?? 0) > 0)

            let table = try await s.berth("list")
            #expect(table.lines.count == 2 && table.lines[1].hasPrefix(id + " "), "\(table)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
            let empty = try await s.berth("list", "--format", "json")
            #expect(empty.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "null", "\(empty)")
        }
    }

    /// berth keeps files of its own in the state root (a seccomp filter cache); none may pass
    /// for a container or stand in the way of one.
    @Test func listShowsOnlyContainersAndAnyPlainNameIsFreeForOne() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            let first = s.newID(), second = s.newID()
            // Named "seccomp", in a cgroup of a unique name (cgroups are shared by all tests).
            let named = try await s.bundle(["true"]) { $0["linux.cgroupsPath"] = "berth/" + second }
            try #require(try await s.berth("create", "--bundle", bundle.path, first).succeeded)
            let create = try await s.berth("create", "--bundle", named.path, "seccomp")
            #expect(create.succeeded, "\(create)")
            let list = try await s.berth("list", "--format", "json")
            let entries = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]], "\(list)")
            #expect(Set(entries.compactMap { $0["id"] as? String }) == [first, "seccomp"], "\(list)")
            #expect(entries.allSatisfy { $0["status"] as? String == "created" }, "\(list)")
            #expect(try await s.berth("delete", "--force", first).succeeded)
            #expect(try await s.berth("delete", "--force", "seccomp").succeeded)
            let empty = try await s.berth("list", "--format", "json")
            #expect(empty.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "null", "\(empty)")
        }
    }

    @Test func twentyContainersCreatedStartedAndDeletedInParallel() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            let ids = (0..<20).map { _ in s.newID("p") }
            let failures = await withTaskGroup(of: String?.self) { group in
                for id in ids {
                    group.addTask {
                        do {
                            let create = try await s.berth("create", "--bundle", bundle.path, id)
                            guard create.succeeded else { return "\(id) create: \(create)" }
                            let start = try await s.berth("start", id)
                            guard start.succeeded else { return "\(id) start: \(start)" }
                            let status = try await s.waitForStatus(id, "stopped")
                            guard status == "stopped" else { return "\(id) is \(status ?? "gone"), not stopped" }
                            let delete = try await s.berth("delete", id)
                            guard delete.succeeded else { return "\(id) delete: \(delete)" }
                            return nil
                        } catch {
                            return "\(id): \(error)"
                        }
                    }
                }
                var failures: [String] = []
                for await failure in group { if let failure { failures.append(failure) } }
                return failures
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
            let list = try await s.berth("list", "--format", "json")
            #expect(list.succeeded, "\(list)")
            #expect(list.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "null", "\(list)")
        }
    }

    @Test func secondCreateWithTheSameIDFailsAndLeavesTheFirstUntouched() async throws {
        try await withBerthSandbox { s in
            let first = try await s.bundle(["sh", "-c", "echo first"])
            let second = try await s.bundle(["sh", "-c", "echo second"])
            let id = s.newID()
            try #require(try await s.berth("create", "--bundle", first.path, id).succeeded)
            let before = try #require(try await s.state(id))
            let stateFile = s.stateRoot + "/" + id + "/state.json"
            let recordBefore = try String(contentsOfFile: stateFile, encoding: .utf8)

            let again = try await s.berth("create", "--bundle", second.path, id)
            #expect(again.status != 0)
            #expect(again.errorLine.contains("already exists") && !again.errorLine.contains("\n"), "\(again)")

            let after = try #require(try await s.state(id))
            #expect(after["status"] as? String == "created")
            #expect(after["pid"] as? Int == before["pid"] as? Int)
            #expect(after["bundle"] as? String == first.path)
            #expect(try String(contentsOfFile: stateFile, encoding: .utf8) == recordBefore)
            // The first container still works.
            let start = try await s.berth("start", id)
            #expect(start.succeeded, "\(start)")
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(try await s.berth("delete", id).succeeded)
        }
    }
}
