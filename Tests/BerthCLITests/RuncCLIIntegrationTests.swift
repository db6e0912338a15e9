import Foundation
import Glibc
import Testing
import TestSupport

/// berth's command line where engines and scripts read more than the status: the --log file,
/// exit statuses and texts of failures, `list` and `ps`, each beside runc's on the same input
/// (runc 1.1.5 on this host; where runc 1.5 changed, its source is the reference and the test
/// says so).
@Suite(.timeLimit(.minutes(10)))
struct RuncCLIIntegrationTests {
    typealias Runc = RuncConformanceIntegrationTests

    static func logLines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// logrus's JSON line: level, msg and time, time to the second in RFC 3339.
    static func jsonLine(_ line: String) throws -> [String: String] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "\(line)")
        #expect(Set(object.keys) == ["level", "msg", "time"], "\(line)")
        #expect(object["time"]?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil, "\(line)")
        return object
    }

    /// containerd's shim: `--root R --log BUNDLE/log.json --log-format json create --bundle B
    /// --pid-file B/init.pid ID`, then exec with --process and kill. The file holds one JSON
    /// line per error, which the shim shows; stderr has the error too.
    @Test func theShimsJSONLogGetsEachErrorAsALogrusLine() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["/no/such/command"])
            let log = bundle.path + "/log.json"
            let id = s.newID()
            let create = try await s.berth("--log", log, "--log-format", "json", "create", "--bundle", bundle.path,
                                           "--pid-file", bundle.path + "/init.pid", id)
            #expect(create.status == 1 && create.stderr.contains("/no/such/command"), "\(create)")
            let process = bundle.path + "/process.json"
            try Data(#"{"args":["true"],"cwd":"/","user":{"uid":0,"gid":0}}"#.utf8).write(to: URL(fileURLWithPath: process))
            let exec = try await s.berth("--log", log, "--log-format", "json", "exec", "--process", process, "--detach",
                                         "--pid-file", bundle.path + "/exec.pid", id)
            #expect(exec.status == 255 && exec.errorLine.hasSuffix("does not exist"), "\(exec)")
            let kill = try await s.berth("--log", log, "--log-format", "json", "kill", id, "9")
            #expect(kill.status == 1, "\(kill)")
            let lines = try Self.logLines(log).map { line throws in try Self.jsonLine(line) }
            try #require(lines.count == 3, "\(lines)")
            #expect(lines.allSatisfy { $0["level"] == "error" }, "\(lines)")
            #expect(lines[0]["msg"]?.contains("/no/such/command") == true, "\(lines)")
            #expect(lines[1]["msg"] == "exec failed: container \"\(id)\" does not exist", "\(lines)")
            #expect(lines[2]["msg"] == "container \"\(id)\" does not exist", "\(lines)")
            var status = stat()
            #expect(stat(log, &status) == 0 && status.st_mode & 0o777 == 0o644)
        }
    }

    /// Text lines as runc's logrus writes them; the file exists even when nothing failed, as
    /// runc creates it at start; --debug adds the chain as a debug line before the error.
    @Test func textLogMatchesRuncsLineAndIsCreatedUpFront() async throws {
        try await withBerthSandbox { s in
            let quiet = s.directory.path + "/quiet.log"
            #expect(try await s.berth("--log", quiet, "list").succeeded)
            let quietLines = try Self.logLines(quiet)
            #expect(quietLines.isEmpty, "\(quietLines)")
            let runcQuiet = s.directory.path + "/runc-quiet.log"
            #expect(try await Runc.runc(s, "--log", runcQuiet, "list").succeeded)
            #expect(FileManager.default.fileExists(atPath: runcQuiet))

            let log = s.directory.path + "/berth.log"
            let runcLog = s.directory.path + "/runc.log"
            let missing = s.newID()
            let berth = try await s.berth("--log", log, "--log-format", "text", "state", missing)
            let runc = try await Runc.runc(s, "--log", runcLog, "--log-format", "text", "state", missing)
            #expect(berth.status == 1 && runc.status == 1, "berth: \(berth) runc: \(runc)")
            // Only the message differs: berth names the container.
            let line = /time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" level=error msg="(.*)"/
            let runcLine = try #require(try Self.logLines(runcLog).last, "runc wrote no line")
            #expect(try #require(runcLine.wholeMatch(of: line)).1 == "container does not exist", "\(runcLine)")
            let berthLines = try Self.logLines(log)
            try #require(berthLines.count == 1, "\(berthLines)")
            #expect(try #require(berthLines[0].wholeMatch(of: line), "\(berthLines[0])").1 == #"container \"\#(missing)\" does not exist"#)
            // The error reaches stderr too, as runc writes it there when it logs to a file.
            #expect(berth.errorLine.hasSuffix("container \"\(missing)\" does not exist") && runc.errorLine == "container does not exist",
                    "berth: \(berth) runc: \(runc)")

            let debug = s.directory.path + "/debug.log"
            #expect(try await s.berth("--log", debug, "--debug", "kill", missing).status == 1)
            let debugLines = try Self.logLines(debug)
            #expect(debugLines.count == 2 && debugLines[0].contains("level=debug") && debugLines[1].contains("level=error"), "\(debugLines)")
            #expect(try await s.berth("--log", s.directory.path + "/no/such/dir/log", "list").status == 1)
        }
    }

    /// runc's exec fails with 255 once its command line is right (a missing container, a paused
    /// one, a pid file it cannot write, a command that is not there) and 1 before.
    @Test func execFailuresExitWith255AsInRunc() async throws {
        try await withBerthSandbox { s in
            let (id, _) = try await Runc.runBoth(s, ["sleep", "1000"])
            for arguments in [["exec", s.newID(), "true"], ["exec", "--pid-file", "/non-existent/x", id, "sleep", "777"],
                              ["exec", id, "/no/such/command"]] {
                let berth = try await s.berth(arguments)
                let runc = try await Runc.runc(s, arguments)
                #expect(berth.status == 255 && runc.status == 255, "\(arguments): berth: \(berth) runc: \(runc)")
                #expect(berth.errorLine.hasPrefix("berth: exec failed: ") && !berth.errorLine.contains("config.json"), "\(berth)")
            }
            // The process whose pid file failed is not left running, in either runtime.
            for ps in [try await s.berth("ps", "--format", "json", id), try await Runc.runc(s, "ps", "--format", "json", id)] {
                #expect((try Runc.json(ps.stdout) as? [Int])?.count == 1, "\(ps)")
            }
            #expect(try await s.berth("exec", id).status == 1)
            #expect(try await s.berth("pause", id).succeeded)
            #expect(try await Runc.runc(s, "pause", id).succeeded)
            let berth = try await s.berth("exec", id, "true")
            let runc = try await Runc.runc(s, "exec", id, "true")
            #expect(berth.status == 255 && runc.status == 255, "berth: \(berth) runc: \(runc)")
            #expect(berth.errorLine == "berth: exec failed: cannot exec in a paused container (use --ignore-paused to override)"
                    && runc.stderr.contains("cannot exec in a paused container (use --ignore-paused to override)"), "berth: \(berth) runc: \(runc)")
            // --ignore-paused: the process starts frozen and runs once the container resumes.
            let frozen = try s.spawnBerth(["exec", "--ignore-paused", id, "sh", "-c", "exit 7"])
            try await Task.sleep(for: .milliseconds(300))
            #expect(!frozen.poll(), "exec finished while the container was paused")
            #expect(try await s.berth("resume", id).succeeded)
            #expect(try await Runc.runc(s, "resume", id).succeeded)
            let thawed = await frozen.wait()
            #expect(thawed.status == 7, "\(thawed)")
            try await Runc.deleteBoth(s, id)
        }
    }

    /// `exec --cgroup SUB` starts the process in an existing sub-cgroup of the container's;
    /// one that is missing or leaves the container's cgroup is refused, with nothing started.
    @Test func execCgroupStartsTheProcessInASubCgroup() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let directory = try #require(s.cgroupDirectory(id))
            try FileManager.default.createDirectory(atPath: directory + "/sub", withIntermediateDirectories: false)
            let joined = try await s.berth("exec", "--cgroup", "sub", id, "cat", "/proc/self/cgroup")
            // The unified line: 0::/berth/ID/sub, or 0::/sub inside a cgroup namespace.
            #expect(joined.succeeded && joined.lines.contains { $0.hasPrefix("0::/") && $0.hasSuffix("/sub") }, "\(joined)")
            let missing = try await s.berth("exec", "--cgroup", "gone", id, "true")
            #expect(missing.status == 255 && missing.errorLine.contains("flag --cgroup: ") && missing.errorLine.contains("/sub") == false, "\(missing)")
            let escaping = try await s.berth("exec", "--cgroup", "../..", id, "true")
            #expect(escaping.status == 255 && escaping.errorLine.hasSuffix("is not a sub-cgroup of the container's"), "\(escaping)")
            #expect(try await s.berth("ps", "--format", "json", id).stdout.split(separator: ",").count == 1)
            // berth removes the cgroups it made, not those made in it.
            #expect(rmdir(directory + "/sub") == 0)
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    /// An execve that fails in the init, after `create` has returned (the interpreter of a
    /// script is missing): the container's stderr gets runc's bare text and, as runc 1.5's init
    /// (init.go: os.Exit(255)), the process ends with 255.
    @Test func aFailedExecveInTheInitPrintsRuncsText() async throws {
        try await withBerthSandbox { s in
            let script = s.directory.path + "/run.sh"
            try Data("#!/no/such/interpreter\n".utf8).write(to: URL(fileURLWithPath: script))
            chmod(script, 0o755)
            let bundle = try await s.foreignBundle(.runc, ["/tmp/run.sh"]) { $0.bindUnderTmp(script, at: "/tmp/run.sh", options: ["bind", "ro"]) }
            let berth = try await s.berth("run", "--bundle", bundle.path, s.newID())
            let runc = try await Runc.runc(s, "run", "--bundle", bundle.path, s.newID())
            #expect(berth.stderr == "exec /tmp/run.sh: no such file or directory\n" && berth.stderr == runc.stderr, "berth: \(berth) runc: \(runc)")
            #expect(berth.status == 255 && runc.status != 0, "berth: \(berth) runc: \(runc)")
        }
    }

    /// `list`: a --root that is missing fails (runc 1.5's getContainers; runc 1.1.5 would make
    /// the directory, so it is not run here), and no containers in JSON is Go's `null`.
    @Test func listFailsOnAMissingRootAndPrintsNullForNone() async throws {
        try await withBerthSandbox { s in
            let missing = s.directory.path + "/no-such-root"
            let list = try await s.berth(["list"], root: missing)
            #expect(list.status == 1 && list.errorLine == "berth: open \(missing): no such file or directory", "\(list)")
            #expect(!FileManager.default.fileExists(atPath: missing))
            let empty = s.directory.path + "/empty-root"
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
            let berth = try await s.berth(["list", "--format", "json"], root: empty)
            let runc = try await Runc.runc(s, "list", "--format", "json")
            #expect(berth.stdout == "null\n" && berth.stdout == runc.stdout, "berth: \(berth) runc: \(runc)")
        }
    }

    /// `ps ID PS-ARGS...` runs ps with them and keeps its header and the container's lines; a
    /// leading `--` is dropped; a stopped container has no processes, in JSON `null`.
    @Test func psPassesItsOptionsToPsAndToleratesAStoppedContainer() async throws {
        try await withBerthSandbox { s in
            let (id, _) = try await Runc.runBoth(s, ["sleep", "1000"])
            let pid = try #require(try await s.state(id)?["pid"] as? Int)
            let ex = try await s.berth("ps", id, "-e", "-x")
            #expect(ex.succeeded && ex.lines.count == 2 && ex.lines[0].contains("STAT") && ex.lines[1].contains("sleep 1000"), "\(ex)")
            let columns = try await s.berth("ps", id, "--", "-o", "pid,comm")
            #expect(columns.succeeded && columns.lines.map { $0.split(separator: " ").map(String.init) } == [["PID", "COMMAND"], ["\(pid)", "sleep"]],
                    "\(columns)")
            #expect(try await s.berth("kill", id, "KILL").succeeded)
            #expect(try await Runc.runc(s, "kill", id, "KILL").succeeded)
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(await eventually { (try? await Runc.runc(s, "state", id).stdout.contains("\"stopped\"")) ?? false })
            let table = try await s.berth("ps", id)
            let runcTable = try await Runc.runc(s, "ps", id)
            #expect(table.succeeded && table.stdout == runcTable.stdout, "berth: \(table) runc: \(runcTable)")
            let json = try await s.berth("ps", "--format", "json", id)
            let runcJSON = try await Runc.runc(s, "ps", "--format", "json", id)
            #expect(json.succeeded && json.stdout == "null\n" && json.stdout == runcJSON.stdout, "berth: \(json) runc: \(runcJSON)")
            try await Runc.deleteBoth(s, id)
        }
    }
}
