import BerthCore
import Foundation
import Glibc
import Linux
import SupervisorAPI
import Testing
import TestSupport

/// The real `ctr` on the host (and again in the VM: the name ends in IntegrationTests). No
/// resource limits here: this host's cgroup2 has no controllers (see CtrLimitsVMTests).
/// Eight minutes a test: fifty services one after the other took 309 s in the VM on a host
/// at load 12 (its phase's own limit, 600 s, still bounds the whole suite there).
@Suite(.timeLimit(.minutes(8)))
struct CtrIntegrationTests {
    @Test func detachedServiceRunsLogsExecsStopsAndIsRemoved() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("life")
            // The init ignores SIGTERM, so stop has to wait out the grace period and kill it.
            let run = try await s.ctr("run", "-d", "--name", name, s.rootfs, "--",
                                      "sh", "-c", "trap '' TERM; echo hello; echo oops >&2; while true; do sleep 1; done")
            #expect(run.succeeded, "\(run)")
            let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(id.count == 12 && id.allSatisfy(\.isHexDigit), "\(run)")

            let ps = try await s.ctr("ps")
            let row = try #require(ps.lines.first { $0.hasPrefix(name + " ") }, "\(ps)")
            #expect(row.contains(id) && row.contains("running"), "\(row)")
            let initPid = try #require(s.pid(name))
            #expect(HostProcesses.isAlive(initPid))

            #expect(await eventually { (try? await s.ctr("logs", name))?.stdout == "hello\n" })
            let logs = try await s.ctr("logs", name)
            #expect(logs.stdout == "hello\n" && logs.stderr == "oops\n", "\(logs)")
            let stamped = try await s.ctr("logs", "--timestamps", "--tail", "2", name)
            #expect(stamped.stdout.hasSuffix("Z hello\n") && stamped.stdout.hasPrefix("20"), "\(stamped)")
            #expect(stamped.stderr.hasSuffix("Z oops\n"), "\(stamped)")
            let last = try await s.ctr("logs", "-n", "1", name)
            #expect(last.stdout.isEmpty && last.stderr == "oops\n", "\(last)")

            let exec = try await s.ctr("exec", "-e", "WHO=exec", name, "sh", "-c", "echo $WHO; cat /proc/1/cmdline | head -c 2; exit 4")
            #expect(exec.status == 4 && exec.stdout == "exec\nsh", "\(exec)")

            let began = Date()
            let stop = try await s.ctr("stop", "-t", "1", name)
            let took = Date().timeIntervalSince(began)
            #expect(stop.succeeded && stop.stdout == name + "\n", "\(stop)")
            #expect(took >= 0.9 && took < 1 + 10 * TestTiming.scale, "stop took \(took) s")
            #expect(!HostProcesses.isAlive(initPid))
            #expect(!FileManager.default.fileExists(atPath: "\(s.root)/\(name)/control.sock"))
            if let cgroup = s.cgroupDirectory(id) { #expect(!FileManager.default.fileExists(atPath: cgroup)) }

            let all = try await s.ctr("ps", "-a")
            #expect(all.lines.contains { $0.hasPrefix(name + " ") && $0.contains("exited (137)") }, "\(all)")
            let running = try await s.ctr("ps")
            #expect(!running.stdout.contains(name), "\(running)")
            let inspect = try await s.ctr("inspect", name)
            #expect(inspect.succeeded && inspect.stdout.contains("\"signal\": 9") && inspect.stdout.contains("\"stopRequested\": true"), "\(inspect)")

            let rm = try await s.ctr("rm", name)
            #expect(rm.succeeded && rm.stdout == name + "\n", "\(rm)")
            #expect(s.serviceEntries.isEmpty)
        }
    }

    @Test func foregroundRunReturnsTheExitStatusAndShowsBothStreams() async throws {
        try await withCtrSandbox { s in
            let run = try await s.ctr("run", "--rm", s.rootfs, "--", "sh", "-c", "echo out; echo err >&2; printf tail; exit 7")
            #expect(run.status == 7, "\(run)")
            #expect(run.stdout == "out\ntail" && run.stderr == "err\n", "\(run)")
            #expect(s.serviceEntries.isEmpty, "--rm leaves nothing")
        }
    }

    @Test func foregroundRunForwardsSIGTERMToTheContainer() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("fg")
            let process = try s.spawn(["run", "--name", name, s.rootfs, "--",
                                       "sh", "-c", "trap 'echo got TERM; exit 5' TERM; echo ready; while true; do sleep 0.1; done"])
            #expect(await eventually { process.stdoutSoFar.contains("ready") })
            kill(process.pid, SIGTERM)
            let result = await process.wait()
            #expect(result.status == 5 && result.stdout == "ready\ngot TERM\n", "\(result)")
            #expect(s.state(name) == "exited")
            try await s.ctr("rm", name)
        }
    }

    @Test func onFailureRestartsThreeTimesWithGrowingBackoff() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("restart")
            let run = try await s.ctr("run", "-d", "--name", name, "--restart", "on-failure:3", s.rootfs, "--", "sh", "-c", "echo run; exit 3")
            #expect(run.succeeded, "\(run)")
            #expect(await s.waitForState(name, "exited", timeout: 20 * TestTiming.scale), "state \(s.state(name) ?? "none")")
            let status = try #require(s.status(name))
            #expect(status["restartCount"] as? Int == 3, "\(status)")
            let exits = try #require(status["exits"] as? [[String: Any]])
            try #require(exits.count == 4, "\(exits)")
            #expect(exits.allSatisfy { $0["exitCode"] as? Int == 3 }, "\(exits)")
            // The back-off shows in the exits: each restart is due 0.1, 0.2, then 0.4 s after the
            // exit before it, and the next run starts no earlier.
            func time(_ entry: [String: Any], _ key: String) throws -> Double {
                let text = try #require(entry[key] as? String, "\(key) in \(entry)")
                return Double(try #require(Timestamp(parsing: text)).nanoseconds) / 1e9
            }
            var delays: [Double] = []
            for index in 0..<3 {
                delays.append(try time(exits[index], "restartAt") - time(exits[index], "finishedAt"))
                #expect(try time(exits[index + 1], "startedAt") >= time(exits[index], "restartAt"))
            }
            #expect(zip(delays, [0.1, 0.2, 0.4]).allSatisfy { abs($0 - $1) < 0.001 }, "delays \(delays)")
            #expect(exits[3]["restartAt"] == nil, "no restart after the third")
            let logs = try await s.ctr("logs", name)
            #expect(logs.stdout == String(repeating: "run\n", count: 4), "\(logs)")
            let ps = try await s.ctr("ps", "-a")
            #expect(ps.lines.contains { $0.hasPrefix(name + " ") && $0.contains("exited (3)") }, "\(ps)")
            try await s.ctr("rm", name)
        }
    }

    @Test func killedInitIsRestartedByTheAlwaysPolicyAndStopEndsIt() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("always")
            #expect(try await s.ctr("run", "-d", "--name", name, "--restart", "always", s.rootfs, "--", "sleep", "1000").succeeded)
            let first = try #require(s.pid(name))
            let kill = try await s.ctr("kill", name)
            #expect(kill.succeeded, "\(kill)")
            #expect(await eventually { s.state(name) == "running" && (s.pid(name) ?? first) != first && s.pid(name) != 0 })
            #expect(s.status(name)?["restartCount"] as? Int == 1)
            let stop = try await s.ctr("stop", "-t", "0", name)
            #expect(stop.succeeded, "\(stop)")
            #expect(s.state(name) == "exited", "stop is final, whatever the policy")
            try await s.ctr("rm", name)
        }
    }

    @Test func pauseFreezesAndUnpauseThaws() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("pause")
            #expect(try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "sleep", "1000").succeeded)
            let pause = try await s.ctr("pause", name)
            #expect(pause.succeeded, "\(pause)")
            #expect(try await s.ctr("ps").lines.contains { $0.hasPrefix(name + " ") && $0.contains("paused") })
            #expect(try await s.ctr("unpause", name).succeeded)
            #expect(s.state(name) == "running")
            // A paused container is thawed by stop, so SIGTERM and the kill reach it.
            #expect(try await s.ctr("pause", name).succeeded)
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func aNameInUseIsRefused() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("dup")
            #expect(try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "sleep", "1000").succeeded)
            let again = try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "true")
            #expect(again.status == 125 && again.errorLine.contains("already in use") && again.errorLine.contains("--name"), "\(again)")
            #expect(s.state(name) == "running")
            let rm = try await s.ctr("rm", name)
            #expect(rm.status == 1 && rm.errorLine.contains("stop it first"), "\(rm)")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func killedSupervisorIsNoticedAndItsContainerAdoptedWithLogsAndStopStillWorking() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("orphan")
            // It writes all along: without a supervisor reading, its writes must neither kill it
            // (SIGPIPE) nor be lost.
            let run = try await s.ctr("run", "-d", "--name", name, s.rootfs, "--",
                                      "sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.02; done")
            #expect(run.succeeded, "\(run)")
            #expect(await eventually { (try? await s.ctr("logs", name))?.stdout.contains("tick 3\n") == true })
            let supervisor = try #require(s.pid(name, "supervisorPid"))
            let initPid = try #require(s.pid(name))
            kill(supervisor, SIGKILL)
            #expect(await HostProcesses.waitGone(supervisor))
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(HostProcesses.isAlive(initPid), "the container outlives its supervisor")
            let ps = try await s.ctr("ps")
            #expect(ps.lines.contains { $0.hasPrefix(name + " ") && $0.contains("running (supervisor gone)") }, "\(ps)")

            // The next command that acts on the service says so and adopts it.
            let logs = try await s.ctr("logs", name)
            #expect(logs.succeeded && logs.stderr.contains("supervisor") && logs.stderr.contains("adopt"), "\(logs)")
            let adopter = try #require(s.pid(name, "supervisorPid"))
            #expect(adopter != supervisor && HostProcesses.isAlive(adopter))
            #expect(s.pid(name) == initPid && s.state(name) == "running")
            // Nothing lost: the ticks written while no supervisor read are there, in order, and
            // more keep coming.
            #expect(await eventually {
                let numbers = ((try? await s.ctr("logs", name))?.lines ?? []).compactMap { Int($0.dropFirst("tick ".count)) }
                return numbers.count > 40 && numbers == Array(1...numbers.count)
            })
            let stop = try await s.ctr("stop", "-t", "1", name)
            #expect(stop.succeeded, "\(stop)")
            #expect(!HostProcesses.isAlive(initPid))
            let all = try await s.ctr("ps", "-a")
            #expect(all.lines.contains { $0.hasPrefix(name + " ") && $0.contains("exited (unknown)") }, "\(all)")
            #expect(try await s.ctr("rm", name).succeeded)
        }
    }

    @Test func malformedControlTrafficLeavesTheSupervisorServing() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("fuzz")
            #expect(try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "sleep", "1000").succeeded)
            let service = ServiceDirectory(root: s.root, name: name)
            let supervisor = try #require(s.pid(name, "supervisorPid"))

            // Random bytes, half a request, a wrong type and an unknown request each get an answer.
            var random = [UInt8](repeating: 0, count: 4096)
            for index in random.indices { random[index] = UInt8.random(in: 0...255) }
            for packet in [random, Array("{\"request\":\"st".utf8), Array("{\"request\":\"stop\",\"timeout\":\"soon\"}".utf8),
                           Array("{\"request\":\"reboot\"}".utf8), Array("[]".utf8), [0]] {
                let fd = try ControlSocket.connect(to: service.socketPath)
                try ControlSocket.send(packet, on: fd)
                let answer = try ControlSocket.receive(on: fd)
                guard case .message(let bytes) = answer, case .failed = try ControlResponse(decoding: bytes) else {
                    Issue.record("expected a failed answer, got \(answer)")
                    fd.close()
                    continue
                }
                fd.close()
            }

            // Oversized packets: 10 MB (the send buffer forced large enough), 1 MB and 100 KB. The
            // kernel may refuse the larger ones at the sender (one SEQPACKET packet must fit in
            // one buffer allocation); whatever gets through must be answered, not crash anything.
            var refusedByTheSupervisor = 0
            for size in [10 << 20, 1 << 20, 100 << 10] {
                let big = try ControlSocket.connect(to: service.socketPath)
                defer { big.close() }
                var buffer: Int32 = 32 << 20
                #expect(setsockopt(big.rawValue, SOL_SOCKET, 32 /* SO_SNDBUFFORCE */, &buffer, socklen_t(4)) == 0)
                let refusal = Self.sendError([UInt8](repeating: UInt8(ascii: "x"), count: size), on: big)
                if let refusal, [ENOBUFS, EMSGSIZE, ENOMEM].contains(refusal) { continue }
                #expect(refusal == nil, "send: \(refusal.map(errnoDescription) ?? "")")
                guard case .message(let bytes) = try ControlSocket.receive(on: big), case .failed(let message) = try ControlResponse(decoding: bytes) else {
                    Issue.record("no answer to a \(size)-byte packet")
                    continue
                }
                #expect(message.contains("over the 65536-byte limit"), "\(message)")
                refusedByTheSupervisor += 1
            }
            #expect(refusedByTheSupervisor >= 1)

            // Clients that connect and leave, send and leave without reading, or say nothing.
            try ControlSocket.connect(to: service.socketPath).close()
            let hasty = try ControlSocket.connect(to: service.socketPath)
            try ControlSocket.send(ControlRequest.status.encoded, on: hasty)
            hasty.close()
            let silent = try ControlSocket.connect(to: service.socketPath)
            defer { silent.close() }

            let response = try ControlClient.send(.status, to: service, timeoutMilliseconds: 5000)
            guard case .status(let status) = response else { Issue.record("\(response)"); return }
            #expect(status.state == .running && status.supervisorPid == supervisor)
            #expect(HostProcesses.isAlive(supervisor))
            let stop = try await s.ctr("stop", "-t", "0", name)
            #expect(stop.succeeded, "\(stop)")
            #expect(try await s.ctr("rm", name).succeeded)
        }
    }

    /// The errno of a failed send, nil when it went out.
    static func sendError(_ bytes: [UInt8], on fd: FileDescriptor) -> Int32? {
        do { try ControlSocket.send(bytes, on: fd) } catch { return error.errno }
        return nil
    }

    @Test(arguments: [
        (["-m", "64X"], "--memory"), (["--memory", "1k"], "--memory"), (["--cpus", "abc"], "--cpus"), (["--cpus", "0"], "--cpus"),
        (["--cpus", "4096"], "--cpus"), (["--restart", "sometimes"], "--restart"), (["--restart", "on-failure:x"], "--restart"),
        (["-v", "data:/data"], "--volume"), (["-v", "/nonexistent-ctr-path:/data"], "--volume"), (["-v", "/tmp:data"], "--volume"),
        (["--pids-limit", "0"], "--pids-limit"), (["--name", "../escape"], "--name"), (["--name", ".hidden"], "--name"),
        (["-e", "=oops"], "--env"), (["-w", "relative"], "--workdir"), (["-u", "nosuchuser"], "--user"), (["--bogus"], "--bogus"),
        (["--network", "bridge"], "--network"), (["--memory-swap", "64M"], "--memory-swap"), (["-i"], "--interactive"),
    ])
    func badFlagIsRefusedNamingItAndCreatesNothing(_ flags: [String], _ named: String) async throws {
        try await withCtrSandbox { s in
            let result = try await s.ctr(["run", "-d"] + flags + [s.rootfs, "--", "true"])
            #expect(result.status == 125 && !result.timedOut, "\(result)")
            #expect(result.errorLine.hasPrefix("ctr: ") && !result.errorLine.contains("\n"), "one line: \(result)")
            #expect(result.errorLine.contains(named), "should name \(named): \(result)")
            #expect(result.stdout.isEmpty)
            #expect(s.serviceEntries.isEmpty, "created \(s.serviceEntries)")
        }
    }

    @Test func missingRootfsIsRefusedAndCreatesNothing() async throws {
        try await withCtrSandbox { s in
            let result = try await s.ctr("run", "-d", s.directory.path + "/no-such-rootfs")
            #expect(result.status == 125 && result.errorLine.contains("no-such-rootfs"), "\(result)")
            #expect(s.serviceEntries.isEmpty)
            let missingCommand = try await s.ctr("run", "-d", "--name", s.newName(), s.rootfs, "--", "no-such-command")
            #expect(missingCommand.status == 125 && missingCommand.errorLine.contains("no-such-command"), "\(missingCommand)")
            #expect(s.serviceEntries.isEmpty, "a container that cannot start leaves no service")
        }
    }

    @Test func psJSONListsServicesWithoutAskingSupervisors() async throws {
        try await withCtrSandbox { s in
            let names = [s.newName("a"), s.newName("b")]
            for name in names { #expect(try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "sleep", "1000").succeeded) }
            // A stopped supervisor cannot answer: ps must not need it.
            let supervisor = try #require(s.pid(names[0], "supervisorPid"))
            kill(supervisor, SIGSTOP)
            defer { kill(supervisor, SIGCONT) }
            let ps = try await s.ctr("ps", "--format", "json")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [[String: Any]], "\(ps)")
            #expect(Set(rows.compactMap { $0["name"] as? String }) == Set(names))
            #expect(rows.allSatisfy { $0["status"] as? String == "running" && ($0["pid"] as? Int ?? 0) > 0 })
            kill(supervisor, SIGCONT)
            #expect(try await s.ctr(["rm", "-f"] + names).succeeded)
        }
    }

    @Test func fiftyServicesStartListAndStopLeavingNothing() async throws {
        try await withCtrSandbox { s in
            let names = (0..<50).map { s.newName("many\($0)") }
            for name in names {
                let run = try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "sleep", "1000")
                try #require(run.succeeded, "\(run)")
            }
            let ps = try await s.ctr("ps", "--format", "json")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [[String: Any]], "\(ps)")
            #expect(rows.count == 50 && rows.allSatisfy { $0["status"] as? String == "running" })
            let pids = names.compactMap { s.pid($0) } + names.compactMap { s.pid($0, "supervisorPid") }
            #expect(pids.count == 100)
            // Side by side: fifty grace periods of 1 s take about one.
            let began = Date()
            let stop = try await s.ctr(["stop", "-t", "1"] + names, timeout: 60 * TestTiming.scale)
            #expect(stop.succeeded && stop.lines == names, "\(stop)")
            #expect(Date().timeIntervalSince(began) < 15 * TestTiming.scale)
            #expect(try await s.ctr(["rm"] + names).succeeded)
            #expect(pids.allSatisfy { !HostProcesses.isAlive($0) })
            #expect(s.serviceEntries.isEmpty)
        }
    }

    /// After a quiet second (after a start, a restart or any event) the supervisor unmaps the
    /// executable's pages it no longer uses (InheritedPages), right before it blocks; code it
    /// runs again comes back from the page cache, and goes again after the next quiet second.
    @Test func supervisorDropsTheExecutablePagesAndKeepsServing() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("pages")
            #expect(try await s.ctr("run", "-d", "--name", name, "--restart", "always", s.rootfs, "--",
                                    "sh", "-c", "echo started; exec sleep 100000").succeeded)
            let supervisor = try #require(s.pid(name, "supervisorPid"))
            // Before the drop ctr's code (several MB) is mapped; after it, about 64 kB (the
            // drop's own code), well under the bound on any build.
            let bound = 1024
            #expect(await eventually { (executableFileKB(supervisor) ?? .max) <= bound },
                    "\(executableFileKB(supervisor) ?? -1) kB; supervisor \(processDiagnosis(supervisor))")
            // The loop still works: output is logged, and a killed init is restarted.
            let initPid = try #require(s.pid(name))
            #expect(try await s.ctr("exec", name, "sh", "-c", "echo after > /proc/1/fd/1").succeeded)
            #expect(await eventually { (try? await s.ctr("logs", name))?.stdout == "started\nafter\n" })
            // Pumping that output ran the loop's code again: it is dropped again after a quiet second.
            #expect(await eventually { (executableFileKB(supervisor) ?? .max) <= bound },
                    "\(executableFileKB(supervisor) ?? -1) kB; supervisor \(processDiagnosis(supervisor))")
            kill(initPid, SIGKILL)
            #expect(await eventually { s.pid(name).map { $0 != initPid && $0 > 0 } ?? false })
            #expect(await eventually { (try? await s.ctr("logs", name))?.stdout == "started\nafter\nstarted\n" })
            // The restart mapped the runtime's code again; it is dropped again.
            #expect(await eventually { (executableFileKB(supervisor) ?? .max) <= bound },
                    "\(executableFileKB(supervisor) ?? -1) kB; supervisor \(processDiagnosis(supervisor))")
            let stop = try await s.ctr("stop", "-t", "1", name)
            #expect(stop.succeeded && s.state(name) == "exited", "\(stop)")
            #expect(try await s.ctr("rm", name).succeeded)
        }
    }

    @Test func statsSamplesTheCgroup() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("stats")
            #expect(try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "sh", "-c", "while true; do :; done").succeeded)
            // A busy loop: some CPU (how much depends on what else runs), at most one CPU. A
            // 1 s sample in a loaded VM has read 0.0 %: up to five are taken until one shows some.
            var csv = try await s.ctr("stats", "--no-stream", "--format", "csv", name)
            var fields: [Substring] = []
            for attempt in 0..<5 {
                if attempt > 0 { csv = try await s.ctr("stats", "--no-stream", "--format", "csv", name) }
                fields = csv.lines.last?.split(separator: ",", omittingEmptySubsequences: false) ?? []
                if (Double(fields.count > 3 ? String(fields[3]) : "") ?? 0) > 0 { break }
            }
            #expect(csv.succeeded && csv.lines.count == 2, "\(csv)")
            #expect(fields.count == 14 && fields[1] == Substring(name), "\(csv)")
            let cpu = Double(fields.count > 3 ? String(fields[3]) : "") ?? 0
            #expect(cpu > 0 && cpu < 110, "cpu \(cpu) %")
            let table = try await s.ctr("stats", "--no-stream")
            #expect(table.lines.first?.hasPrefix("NAME") == true && table.lines.contains { $0.hasPrefix(name + " ") }, "\(table)")
            let stopped = try await s.ctr("stats", "--no-stream", "no-such-service")
            #expect(stopped.status == 1 && stopped.errorLine.contains("no-such-service"), "\(stopped)")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }
}

/// What a process is doing, for a failure message: its CPU time in clock ticks (a busy loop
/// shows), where it sleeps in the kernel, and its open descriptors.
private func processDiagnosis(_ pid: pid_t) -> String {
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    // Fields after the command's closing parenthesis: state is the first, utime the 12th, stime the 13th.
    let fields = stat.split(separator: ")").last.map { $0.split(separator: " ") } ?? []
    let ticks = fields.count > 12 ? "\(fields[0]) utime \(fields[11]) stime \(fields[12])" : "no stat"
    let wchan = (try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)) ?? "?"
    let fds = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
        .map { "\($0)->\((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) ?? "?")" }
    return "\(ticks), wchan \(wchan), fds \(fds.joined(separator: " "))"
}

/// kB of a process's executable mapped from the file (Rss less Anonymous over the mappings of
/// /proc/PID/exe), from /proc/PID/smaps; nil when it cannot be read.
private func executableFileKB(_ pid: pid_t) -> Int? {
    guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"),
          let smaps = try? String(contentsOfFile: "/proc/\(pid)/smaps", encoding: .utf8) else { return nil }
    var inExecutable = false, total = 0
    for line in smaps.split(separator: "\n") {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        if let first = fields.first, first.contains("-"), !first.hasSuffix(":") {
            inExecutable = fields.count == 6 && fields[5].trimmingCharacters(in: .whitespaces) == exe
        } else if inExecutable, fields.count >= 2, let kB = Int(fields[1]) {
            if fields[0] == "Rss:" { total += kB } else if fields[0] == "Anonymous:" { total -= kB }
        }
    }
    return total
}
