import Foundation
import Glibc
import Testing
import TestSupport

/// berth's verbs against runc's on the same input: a bundle from `runc spec`, the same container
/// ID under each runtime's own --root. Output that tools parse (list, state, ps, events, version)
/// and exit statuses that engines act on (delete of a created container, kill of a stopped one)
/// are compared with runc's live output where runc runs here, or with runc's documented layout.
/// Ten minutes: in the emulated VM, with other VMs loading the host, a test of a dozen berth and
/// runc commands waited past five for its turn at the command gate.
@Suite(.timeLimit(.minutes(10)))
struct RuncConformanceIntegrationTests {
    /// `runc --root <sandbox>/runc-state ARGS...`, with the sandbox marker in its environment so
    /// that the leftover check sees a runc container left running.
    static func runc(_ s: BerthSandbox, _ arguments: String...) async throws -> CommandResult {
        try await runc(s, arguments)
    }

    static func runc(_ s: BerthSandbox, _ arguments: [String]) async throws -> CommandResult {
        let name = uniqueName("runc")
        let process = try SpawnedProcess(try ForeignSpec.executable("runc"), ["--root", s.directory.path + "/runc-state"] + arguments,
                                         environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", s.marker],
                                         stdoutPath: s.directory.path + "/\(name).out", stderrPath: s.directory.path + "/\(name).err")
        return await process.wait(timeout: TestTiming.command)
    }

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    /// A detached container of a runc spec bundle under berth and, with the same ID, under runc.
    static func runBoth(_ s: BerthSandbox, _ args: [String], edit: (inout BundleConfig) throws -> Void = { _ in })
        async throws -> (id: String, bundle: TestBundle) {
        let bundle = try await s.foreignBundle(.runc, args, edit: edit)
        let id = s.newID()
        let berth = try await s.berth("run", "--detach", "--bundle", bundle.path, id)
        try #require(berth.succeeded, "\(berth)")
        let runc = try await runc(s, "run", "--detach", "--bundle", bundle.path, id)
        if !runc.succeeded { _ = try await s.berth("delete", "--force", id) }
        try #require(runc.succeeded, "\(runc)")
        return (id, bundle)
    }

    static func deleteBoth(_ s: BerthSandbox, _ id: String) async throws {
        #expect(try await s.berth("delete", "--force", id).succeeded)
        #expect(try await runc(s, "delete", "--force", id).succeeded)
    }

    @Test func versionKeepsRuncsFirstLinesThenListsFeaturesAsCrunDoes() async throws {
        try await withBerthSandbox { s in
            let version = try await s.berth("--version")
            #expect(version.succeeded, "\(version)")
            let lines = version.lines
            try #require(lines.count >= 5, "\(version)")
            // go-runc reads the version from the first line, commit and spec from the next two.
            #expect(lines[0].hasPrefix("berth version "), "\(version)")
            #expect(lines[1].hasPrefix("commit: "), "\(version)")
            #expect(lines[2] == "spec: 1.2.0", "\(version)")
            // Both link the system's libseccomp.
            let runc = try await Self.runc(s, "--version")
            let runcSeccomp = runc.lines.first { $0.hasPrefix("libseccomp: ") }
            #expect(runcSeccomp != nil && lines.contains(runcSeccomp ?? ""), "berth: \(version) runc: \(runc)")
            let tokens = (lines.last ?? "").split(separator: " ").map(String.init)
            #expect(tokens.allSatisfy { $0.hasPrefix("+") }, "\(version)")
            #expect(tokens.contains("+CAP") && tokens.contains("+SECCOMP") && tokens.contains("+EBPF"), "\(version)")
            #expect(!tokens.contains("+SYSTEMD") && !tokens.contains("+CRIU"), "only what berth has: \(version)")
            #expect(try await s.berth("-v").stdout == version.stdout)
        }
    }

    @Test func helpSucceedsAndAnUnknownCommandFailsAsInRunc() async throws {
        try await withBerthSandbox { s in
            for arguments in [["--help"], ["help"], ["h"], [], ["help", "kill"], ["kill", "--help"], ["create", "-h"]] {
                let berth = try await s.berth(arguments)
                #expect(berth.succeeded && berth.stdout.contains("USAGE:\n   berth "), "\(arguments): \(berth)")
            }
            let berth = try await s.berth("checkpoint", "--help")
            let runc = try await Self.runc(s, "nonsense")
            // podman asks `checkpoint --help` to learn whether the runtime can checkpoint.
            #expect(berth.status != 0 && runc.status != 0, "berth: \(berth) runc: \(runc)")
        }
    }

    @Test func listPrintsRuncsTableJSONAndQuietForms() async throws {
        try await withBerthSandbox { s in
            let empty = try await s.berth("list")
            let runcEmpty = try await Self.runc(s, "list")
            #expect(empty.stdout == runcEmpty.stdout, "berth: \(empty) runc: \(runcEmpty)")
            let (id, bundle) = try await Self.runBoth(s, ["sleep", "1000"])
            let table = try await s.berth("list")
            let runcTable = try await Self.runc(s, "list")
            // Laid out by the same rule; the widths follow the values, and runc's creation time
            // drops trailing zeros of its nanoseconds.
            #expect(Self.tabwriterLayout(table.lines) == table.lines, "\(table)")
            #expect(Self.tabwriterLayout(runcTable.lines) == runcTable.lines, "the rule is runc's: \(runcTable)")
            let row = try #require(table.lines.last)
            #expect(row.hasPrefix(id + " ") && row.contains(" running ") && row.contains(bundle.path) && row.hasSuffix(" root"), "\(row)")
            let list = try #require(try Self.json(try await s.berth("list", "--format", "json").stdout) as? [[String: Any]])
            let runcList = try #require(try Self.json(try await Self.runc(s, "list", "--format", "json").stdout) as? [[String: Any]])
            let entry = try #require(list.first), runcEntry = try #require(runcList.first)
            #expect(Set(entry.keys) == Set(runcEntry.keys), "berth: \(entry) runc: \(runcEntry)")
            for key in ["id", "status", "bundle", "rootfs", "owner"] {
                #expect(entry[key] as? String == runcEntry[key] as? String, "\(key): berth \(entry) runc \(runcEntry)")
            }
            #expect((entry["pid"] as? Int ?? 0) > 0)
            #expect(try await s.berth("list", "-q").stdout == id + "\n")
            #expect(try await Self.runc(s, "list", "-q").stdout == id + "\n")
            try await Self.deleteBoth(s, id)
        }
    }

    /// `lines` laid out again as runc's tabwriter does: each column but the last as wide as its
    /// longest cell plus 3, at least 12.
    static func tabwriterLayout(_ lines: [String]) -> [String] {
        let rows = lines.map { $0.split(separator: " ").map(String.init) }
        guard let columns = rows.first?.count, rows.allSatisfy({ $0.count == columns }) else { return [] }
        let widths = (0..<columns).map { column in max(12, (rows.map { $0[column].count }.max() ?? 0) + 3) }
        return rows.map { cells in
            cells.enumerated().map { column, cell in
                column == columns - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined()
        }
    }

    @Test func stateHasRuncsFieldsAndValues() async throws {
        try await withBerthSandbox { s in
            let (id, _) = try await Self.runBoth(s, ["sleep", "1000"])
            let state = try #require(try await s.state(id))
            let runc = try #require(try Self.json(try await Self.runc(s, "state", id).stdout) as? [String: Any])
            #expect(Set(runc.keys).isSubset(of: Set(state.keys)), "berth: \(state) runc: \(runc)")
            for key in ["id", "status", "bundle", "rootfs", "owner"] {
                #expect(state[key] as? String == runc[key] as? String, "\(key): berth \(state) runc \(runc)")
            }
            let pid = try #require(state["pid"] as? Int32)
            #expect(HostProcesses.isAlive(pid))
            try await Self.deleteBoth(s, id)
            let gone = try await s.berth("state", id)
            let runcGone = try await Self.runc(s, "state", id)
            #expect(gone.status != 0 && runcGone.status != 0 && gone.errorLine.contains("does not exist"), "berth: \(gone) runc: \(runcGone)")
        }
    }

    @Test func psPrintsTheHostsPsLinesOfTheContainerAsRuncDoes() async throws {
        try await withBerthSandbox { s in
            let (id, _) = try await Self.runBoth(s, ["sh", "-c", "sleep 1001 & sleep 1002 & wait"])
            #expect(await eventually { (try? await s.berth("ps", "--format", "json", id).stdout.contains(",")) ?? false })
            let table = try await s.berth("ps", id)
            let runc = try await Self.runc(s, "ps", id)
            #expect(table.succeeded && table.lines.first == runc.lines.first, "berth: \(table) runc: \(runc)")
            #expect(table.lines.count == 4 && runc.lines.count == 4, "berth: \(table) runc: \(runc)")
            #expect(table.stdout.contains("sleep 1001") && table.stdout.contains("sleep 1002"), "\(table)")
            // ps's own arguments after the ID.
            let custom = try await s.berth("ps", id, "-o", "pid,comm")
            let runcCustom = try await Self.runc(s, "ps", id, "-o", "pid,comm")
            #expect(custom.lines.first == runcCustom.lines.first && custom.lines.count == 4, "berth: \(custom) runc: \(runcCustom)")
            let pids = try #require(try Self.json(try await s.berth("ps", "--format", "json", id).stdout) as? [Int])
            let statePid = try #require(try await s.state(id)?["pid"] as? Int)
            #expect(pids.count == 3 && pids.contains(statePid), "\(pids)")
            #expect(try Self.json(try await Self.runc(s, "ps", "--format", "json", id).stdout) as? [Int] != nil)
            try await Self.deleteBoth(s, id)
        }
    }

    @Test func eventsStatsUseRuncsLayoutThenBerthsOwn() async throws {
        try await withBerthSandbox { s in
            // In the VM with a memory limit: berth enables a controller in the container's cgroup
            // for a limit (runc enables every one), and the memory layout is what is compared.
            let (id, _) = try await Self.runBoth(s, ["sleep", "1000"]) { config in
                if CgroupV2Host.inVM { config["linux.resources.memory.limit"] = 64 << 20 }
            }
            let berth = try await s.berth("events", "--stats", id)
            let runc = try await Self.runc(s, "events", "--stats", id)
            let event = try #require(try Self.json(berth.stdout) as? [String: Any], "\(berth)")
            let runcEvent = try #require(try Self.json(runc.stdout) as? [String: Any], "\(runc)")
            #expect(event["type"] as? String == "stats" && event["id"] as? String == id, "\(berth)")
            let data = try #require(event["data"] as? [String: Any]), runcData = try #require(runcEvent["data"] as? [String: Any])
            // runc's objects, but cpuset (berth does not read it) and memory where the host gives
            // berth no memory controller (cgroup v1 has it here).
            let expected = Set(runcData.keys).subtracting(["cpuset"]).subtracting(CgroupV2Host.inVM ? [] : ["memory"])
            #expect(expected.isSubset(of: Set(data.keys)), "berth: \(data.keys.sorted()) runc: \(runcData.keys.sorted())")
            let usage = try #require((data["cpu"] as? [String: Any])?["usage"] as? [String: Any], "\(data)")
            #expect((usage["total"] as? Int ?? 0) > 0 && usage["kernel"] is Int && usage["user"] is Int, "\(usage)")
            #expect((data["cpu"] as? [String: Any])?["throttling"] is [String: Any], "\(data)")
            #expect(((data["pids"] as? [String: Any])?["current"] as? Int) == 1, "\(data)")
            #expect(data["hugetlb"] is [String: Any] && data["blkio"] is [String: Any] && data["intel_rdt"] is [String: Any], "\(data)")
            #expect(data["network_interfaces"] is NSNull, "\(data)")
            if CgroupV2Host.inVM {
                let memory = try #require(data["memory"] as? [String: Any], "\(data)")
                let runcMemory = try #require(runcData["memory"] as? [String: Any], "\(runcData)")
                #expect(Set(runcMemory.keys).subtracting(["cache"]).isSubset(of: Set(memory.keys)), "berth: \(memory) runc: \(runcMemory)")
                #expect(((memory["usage"] as? [String: Any])?["usage"] as? Int ?? 0) > 0, "\(memory)")
                // berth's own fields after runc's, under names runc does not use.
                #expect(memory["current"] is Int && memory["events"] is [String: Any], "\(memory)")
            }
            try await Self.deleteBoth(s, id)
        }
    }

    @Test func eventsStreamsStatsAtTheIntervalUntilTheContainerStops() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let events = try s.spawnBerth(["events", "--interval", "200ms", id])
            #expect(await eventually { events.stdoutSoFar.split(separator: "\n").count >= 2 }, "\(events.stdoutSoFar)")
            #expect(try await s.berth("kill", id, "KILL").succeeded)
            let ended = await events.wait(timeout: TestTiming.settle)
            #expect(ended.status == 0 && !ended.timedOut, "\(ended)")
            for line in ended.lines {
                let event = try #require(try Self.json(line) as? [String: Any], "\(line)")
                #expect(event["type"] as? String == "stats" && event["id"] as? String == id && event["data"] is [String: Any], "\(line)")
            }
            #expect(try await s.berth("delete", id).succeeded)
        }
    }

    @Test func deleteOfACreatedContainerKillsItsInitAndSucceedsAsInRunc() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("create", "--bundle", bundle.path, id).succeeded)
            try #require(try await Self.runc(s, "create", "--bundle", bundle.path, id).succeeded)
            let pid = try #require(try await s.state(id)?["pid"] as? Int32)
            let berth = try await s.berth("delete", id)
            let runc = try await Self.runc(s, "delete", id)
            #expect(berth.status == 0 && runc.status == 0, "berth: \(berth) runc: \(runc)")
            #expect(await HostProcesses.waitGone(pid))
            #expect(try await s.state(id) == nil)
            // A running one still needs --force, in both.
            let (running, _) = try await Self.runBoth(s, ["sleep", "1000"])
            let refused = try await s.berth("delete", running)
            let runcRefused = try await Self.runc(s, "delete", running)
            #expect(refused.status == 1 && runcRefused.status != 0, "berth: \(refused) runc: \(runcRefused)")
            try await Self.deleteBoth(s, running)
        }
    }

    @Test func killOfAStoppedContainerFailsAsInRuncAndKillAllSucceeds() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            try #require(try await Self.runc(s, "run", "--detach", "--bundle", bundle.path, id).succeeded)
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(await eventually { (try? await Self.runc(s, "state", id).stdout.contains("\"stopped\"")) ?? false })
            for signal in ["TERM", "KILL", "0"] {
                let berth = try await s.berth("kill", id, signal)
                let runc = try await Self.runc(s, "kill", id, signal)
                // containerd's shim reads "container not running" as "process already finished".
                #expect(berth.status == 1 && runc.status == 1, "\(signal): berth: \(berth) runc: \(runc)")
                #expect(berth.errorLine.contains("container not running") && runc.stderr.contains("container not running"),
                        "berth: \(berth) runc: \(runc)")
            }
            let all = try await s.berth("kill", "--all", id, "KILL")
            let runcAll = try await Self.runc(s, "kill", "--all", id, "KILL")
            #expect(all.status == 0 && runcAll.status == 0, "berth: \(all) runc: \(runcAll)")
            let missing = try await s.berth("kill", "no-such-container")
            #expect(missing.status == 1 && missing.errorLine.contains("does not exist"), "\(missing)")
            #expect(try await s.berth("delete", id).succeeded)
            #expect(try await Self.runc(s, "delete", id).succeeded)
        }
    }

    @Test func killWithSignalZeroChecksThatTheContainerRunsAsInRunc() async throws {
        try await withBerthSandbox { s in
            let (id, _) = try await Self.runBoth(s, ["sleep", "1000"])
            let berth = try await s.berth("kill", id, "0")
            let runc = try await Self.runc(s, "kill", id, "0")
            #expect(berth.status == 0 && runc.status == 0, "berth: \(berth) runc: \(runc)")
            #expect(try await s.berth("state", id).stdout.contains("\"running\""))
            #expect(try await s.berth("kill", "--all", id, "0").succeeded)
            #expect(try await s.berth("state", id).stdout.contains("\"running\""))
            try await Self.deleteBoth(s, id)
        }
    }

    /// The processes of a container's cgroup, from cgroup.procs.
    static func cgroupProcesses(_ s: BerthSandbox, _ id: String) -> [Int32] {
        guard let directory = s.cgroupDirectory(id),
              let text = try? String(contentsOfFile: directory + "/cgroup.procs", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { Int32($0) }
    }

    @Test func killWithTheHostsPidNamespaceKillsTheWholeCgroup() async throws {
        try await withBerthSandbox { s in
            let withoutPidNamespace: (inout BundleConfig) throws -> Void = { config in
                let namespaces = try #require(config["linux.namespaces"] as? [[String: Any]])
                config["linux.namespaces"] = namespaces.filter { $0["type"] as? String != "pid" }
            }
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "sleep 1001 & sleep 1002 & wait"], edit: withoutPidNamespace)
            // SIGKILL of the init: no namespace's death takes the children along, berth kills the cgroup.
            let first = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, first).succeeded)
            #expect(await eventually { Self.cgroupProcesses(s, first).count == 3 })
            #expect(try await s.berth("kill", first, "KILL").succeeded)
            #expect(await eventually { Self.cgroupProcesses(s, first).isEmpty }, "\(Self.cgroupProcesses(s, first))")
            #expect(try await s.waitForStatus(first, "stopped") == "stopped")
            #expect(try await s.berth("delete", first).succeeded)

            // Another signal goes to the init alone, as in runc; once the init is gone, SIGKILL
            // still reaches what it left behind instead of "container not running".
            let second = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, second).succeeded)
            #expect(await eventually { Self.cgroupProcesses(s, second).count == 3 })
            #expect(try await s.berth("kill", second, "TERM").succeeded)
            #expect(try await s.waitForStatus(second, "stopped") == "stopped")
            #expect(Self.cgroupProcesses(s, second).count == 2, "the sleeps outlive their shell")
            let term = try await s.berth("kill", second, "TERM")
            #expect(term.status == 1 && term.errorLine.contains("container not running"), "\(term)")
            let ps = try await s.berth("ps", "--format", "json", second)
            #expect((try Self.json(ps.stdout) as? [Int])?.count == 2, "ps lists a stopped container's leftovers: \(ps)")
            #expect(try await s.berth("kill", second, "KILL").succeeded)
            #expect(await eventually { Self.cgroupProcesses(s, second).isEmpty }, "\(Self.cgroupProcesses(s, second))")
            #expect(try await s.berth("delete", second).succeeded)
        }
    }

    @Test func killOfTheInitWithAPidNamespaceEndsTheContainer() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "sleep 1001 & sleep 1002 & wait"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            #expect(await eventually { Self.cgroupProcesses(s, id).count == 3 })
            #expect(try await s.berth("kill", id, "KILL").succeeded)
            #expect(await eventually { Self.cgroupProcesses(s, id).isEmpty })
            let again = try await s.berth("kill", id, "KILL")
            #expect(again.status == 1 && again.errorLine.contains("container not running"), "\(again)")
            #expect(try await s.berth("delete", id).succeeded)
        }
    }

    @Test func featuresHasRuncsFields() async throws {
        try await withBerthSandbox { s in
            let berth = try #require(try Self.json(try await s.berth("features").stdout) as? [String: Any])
            let runc = try #require(try Self.json(try await Self.runc(s, "features").stdout) as? [String: Any])
            #expect(Set(runc.keys).isSubset(of: Set(berth.keys)), "berth: \(berth.keys.sorted()) runc: \(runc.keys.sorted())")
            let linux = try #require(berth["linux"] as? [String: Any]), runcLinux = try #require(runc["linux"] as? [String: Any])
            #expect(Set(runcLinux.keys).isSubset(of: Set(linux.keys)), "berth: \(linux.keys.sorted()) runc: \(runcLinux.keys.sorted())")
            let key = "io.github.seccomp.libseccomp.version"
            let version = (berth["annotations"] as? [String: String])?[key]
            #expect(version != nil && version == (runc["annotations"] as? [String: String])?[key], "berth: \(berth) runc: \(runc)")
        }
    }

    /// runc's shape (an interactive sh, and the cgroup namespace exactly where runc adds it: a
    /// cgroup v2 unified host, so in the VM and not on the hybrid host), and no overwriting.
    @Test func specWritesRuncsShapeAndRefusesToOverwriteAConfigAsRuncDoes() async throws {
        try await withBerthSandbox { s in
            let berthBundle = s.directory.path + "/spec-berth", runcBundle = s.directory.path + "/spec-runc"
            for path in [berthBundle, runcBundle] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            #expect(try await s.berth("spec", "--bundle", berthBundle).succeeded)
            #expect(try await Self.runc(s, "spec", "--bundle", runcBundle).succeeded)
            let config = try #require(try Self.json(try String(contentsOfFile: berthBundle + "/config.json", encoding: .utf8)) as? [String: Any])
            let runcConfig = try #require(try Self.json(try String(contentsOfFile: runcBundle + "/config.json", encoding: .utf8)) as? [String: Any])
            #expect(Set(runcConfig.keys).isSubset(of: Set(config.keys)), "berth: \(config.keys.sorted()) runc: \(runcConfig.keys.sorted())")
            let process = config["process"] as? [String: Any], runcProcess = runcConfig["process"] as? [String: Any]
            #expect(process?["terminal"] as? Bool == true && runcProcess?["terminal"] as? Bool == true)
            #expect(process?["args"] as? [String] == ["sh"] && runcProcess?["args"] as? [String] == ["sh"])
            func namespaces(_ config: [String: Any]) -> [String] {
                ((config["linux"] as? [String: Any])?["namespaces"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
            }
            #expect(namespaces(config) == namespaces(runcConfig), "berth: \(namespaces(config)) runc: \(namespaces(runcConfig))")
            #expect(namespaces(config).contains("cgroup") == (CgroupV2Host.inVM || CgroupV2Host.hasControllers))
            let again = try await s.berth("spec", "--bundle", berthBundle)
            let runcAgain = try await Self.runc(s, "spec", "--bundle", runcBundle)
            #expect(again.status == 1 && runcAgain.status == 1, "berth: \(again) runc: \(runcAgain)")
        }
    }

    @Test func startPauseAndResumeRefuseTheWrongStateAsInRunc() async throws {
        try await withBerthSandbox { s in
            let (id, _) = try await Self.runBoth(s, ["sleep", "1000"])
            // Each step: berth and runc with the same arguments, the same outcome.
            let steps: [([String], Bool)] = [
                (["start", id], false), (["resume", id], false), (["pause", id], true), (["pause", id], false),
                (["resume", id], true), (["kill", id, "KILL"], true),
            ]
            for (arguments, succeeds) in steps {
                let berth = try await s.berth(arguments)
                let runc = try await Self.runc(s, arguments)
                #expect(berth.succeeded == succeeds && runc.succeeded == succeeds, "\(arguments): berth: \(berth) runc: \(runc)")
                #expect(berth.status == 0 || berth.status == 1, "one status for every failure: \(berth)")
            }
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(await eventually { (try? await Self.runc(s, "state", id).stdout.contains("\"stopped\"")) ?? false })
            for arguments in [["start", id], ["pause", id], ["exec", id, "true"]] {
                let berth = try await s.berth(arguments)
                let runc = try await Self.runc(s, arguments)
                // exec's failures exit 255, as runc's.
                #expect(berth.status == (arguments[0] == "exec" ? 255 : 1) && runc.status != 0, "\(arguments): berth: \(berth) runc: \(runc)")
            }
            #expect(try await s.berth("delete", id).succeeded)
            #expect(try await Self.runc(s, "delete", id).succeeded)
        }
    }
}
