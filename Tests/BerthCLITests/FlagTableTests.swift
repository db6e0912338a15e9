@testable import BerthCLI
import CommandLineFlags
import Foundation
import Testing
import TestSupport

/// berth's flag tables: the command lines engines pass parse, `--help` lists each flag, and the
/// completion script offers the verbs, the flags and their values. No container is made.
struct FlagTableTests {
    /// Parses a whole command line as berth's main does, through the global and the verb's table.
    static func parse(_ line: [String]) throws -> (GlobalOptions, String, Arguments) {
        let (globals, command, rest, _, _) = try GlobalOptions.parse(line)
        let verb = try #require(Berth.verbs.first { $0.name == command }, "\(line)")
        return (globals, verb.name, try Arguments(rest, flags: verb.flags, stopAfter: verb.stopAfter))
    }

    /// What containerd's shim and podman's conmon pass (docs/engines.md).
    @Test func theEnginesCommandLinesParse() throws {
        let (globals, _, create) = try Self.parse(["--root", "/run/containerd/runc/default", "--log", "/b/log.json", "--log-format", "json",
                                                   "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "--console-socket", "/s", "id"])
        #expect(globals.root == "/run/containerd/runc/default" && globals.logPath == "/b/log.json" && globals.logFormat == "json")
        #expect(create.value("bundle") == "/b" && create.value("pid-file") == "/b/init.pid" && create.value("console-socket") == "/s")
        #expect(create.positionals == ["id"])
        let conmon = try Self.parse(["--log-format=json", "--log", "/r/oci-log", "create", "--bundle", "/u", "--pid-file", "/r/pidfile", "id"])
        #expect(conmon.0.logFormat == "json" && conmon.2.value("bundle") == "/u")
        let exec = try Self.parse(["exec", "--process", "/tmp/runc-process1", "--detach", "--pid-file", "/b/e.pid", "id"]).2
        #expect(exec.value("process") == "/tmp/runc-process1" && exec.flag("detach") && exec.positionals == ["id"])
        let kill = try Self.parse(["kill", "--all", "id", "SIGSEGV"]).2
        #expect(kill.flag("all") && kill.positionals == ["id", "SIGSEGV"])
        #expect(try Self.parse(["delete", "--force", "id"]).2.flag("force"))
        #expect(try Self.parse(["ps", "--format", "json", "id"]).2.value("format") == "json")
        #expect(try Self.parse(["update", "--resources", "-", "id"]).2.value("resources") == "-")
        #expect(try Self.parse(["update", "--resources=/u/r.json", "id"]).2.value("resources") == "/u/r.json")
        // Go's flag package: one dash is a long flag too.
        #expect(try Self.parse(["-root", "/r", "run", "-bundle", "/b", "-d", "id"]).2.value("bundle") == "/b")
    }

    /// logrus's two formats as runc writes them: keys sorted in JSON, logfmt quoting in text,
    /// time to the second.
    @Test func logLinesAreLogrusShaped() throws {
        #expect(GlobalOptions.logTime("2026-12-05T12:00:00.123456789Z") == "2026-12-05T12:00:00Z")
        #expect(GlobalOptions.logLine(level: "error", "open \"x\": no\nway", time: "T", json: true)
                == #"{"level":"error","msg":"open \"x\": no\nway","time":"T"}"# + "\n")
        #expect(GlobalOptions.logLine(level: "warning", #"a "b" \c"# + "\nd", time: "T", json: false)
                == #"time="T" level=warning msg="a \"b\" \\c\nd""# + "\n")
        let (globals, _, exec) = try Self.parse(["--debug", "--log", "/l", "exec", "--cgroup", "cpu,memory:sub", "--cgroup", "pids:sub",
                                                 "--ignore-paused", "id", "true"])
        #expect(globals.debug && globals.logPath == "/l" && !globals.rootIsSet)
        #expect(exec.all("cgroup") == ["cpu,memory:sub", "pids:sub"] && exec.flag("ignore-paused") && exec.positionals == ["id", "true"])
        #expect(try Self.parse(["--root", "/r", "list"]).0.rootIsSet)
    }

    @Test func execTakesEverythingAfterTheIDAsTheCommand() throws {
        let exec = try Self.parse(["exec", "-t", "id", "sh", "-c", "--help", "--bundle"]).2
        #expect(exec.flag("tty") && exec.positionals == ["id", "sh", "-c", "--help", "--bundle"] && !exec.wantsHelp)
    }

    @Test func everyVerbsHelpListsItsFlags() throws {
        for verb in Berth.verbs {
            let text = try #require(Berth.usage(of: verb.name))
            #expect(text.hasPrefix("NAME:\n   berth \(verb.name) - \(verb.summary)\n\nUSAGE:\n   berth \(verb.name) "), "\(verb.name)")
            for flag in verb.flags where !flag.summary.isEmpty {
                #expect(text.contains(flag.spelled.joined(separator: ", ") + (flag.takesValue ? " " + flag.placeholder : "")),
                        "\(verb.name) --\(flag.name)")
            }
            #expect(text.contains("-h, --help"))
        }
        for flag in GlobalOptions.flags where !flag.summary.isEmpty { #expect(Berth.usage.contains("--" + flag.name), "--\(flag.name)") }
    }

    /// What the bash script offers for `line` (the cursor at its end). `berth` is a stub that
    /// prints two IDs for `list -q`.
    static func bashCompletions(_ line: String) async throws -> [String] {
        let directory = try TemporaryDirectory("berth-completion")
        defer { directory.remove() }
        try directory.write("berth.bash", CompletionVerb.model.script)
        try directory.write("berth", "#!/bin/sh\necho \"$*\" >> \(directory.path)/args\nprintf 'c1\\nc2\\n'\n")
        chmod(directory.path + "/berth", 0o755)
        let words = directory.path + "/berth" + line.dropFirst("berth".count)
        let command = "source \(directory.path)/berth.bash; COMP_LINE='\(words)'; COMP_POINT=${#COMP_LINE}; _berth; printf '%s\\n' \"${COMPREPLY[@]}\""
        let result = await (try SpawnedProcess("/bin/bash", ["-c", command], environment: ["PATH=/usr/bin:/bin"],
                                               stdoutPath: directory.path + "/out", stderrPath: directory.path + "/err")).wait()
        #expect(result.succeeded, "\(result)")
        return result.lines.filter { !$0.isEmpty }
    }

    @Test func bashCompletesVerbsFlagsValuesAndContainerIDs() async throws {
        #expect(try await Self.bashCompletions("berth ki") == ["kill"])
        #expect(try await Self.bashCompletions("berth comp") == ["completion"])
        #expect(try await Self.bashCompletions("berth --log-format ") == ["text", "json"])
        #expect(try await Self.bashCompletions("berth --log /tmp/log st") == ["start", "state"], "--log's value is no verb")
        #expect(try await Self.bashCompletions("berth create --pid") == ["--pid-file", "--pidfd-socket"])
        #expect(try await Self.bashCompletions("berth list --format ") == ["table", "json"])
        #expect(try await Self.bashCompletions("berth --root /tmp kill ") == ["c1", "c2"])
        #expect(try await Self.bashCompletions("berth exec -t c") == ["c1", "c2"])
        #expect(try await Self.bashCompletions("berth exec c1 ") == [], "after the ID comes the command")
        #expect(try await Self.bashCompletions("berth completion ") == ["bash", "zsh", "fish"])
        #expect(try await Self.bashCompletions("berth create ") == [], "a new ID is not completed")
    }

    @Test func bashAcceptsTheScript() async throws {
        let directory = try TemporaryDirectory("berth-completion")
        defer { directory.remove() }
        try directory.write("berth.bash", CompletionVerb.model.script)
        let result = await (try SpawnedProcess("/bin/bash", ["-n", directory.path + "/berth.bash"], environment: [],
                                               stdoutPath: directory.path + "/out", stderrPath: directory.path + "/err")).wait()
        #expect(result.succeeded, "\(result)")
    }
}

extension CompletionModel {
    fileprivate var script: String { CompletionScripts.bash(self) }
}
