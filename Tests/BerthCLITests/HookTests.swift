import Foundation
import Glibc
import TestSupport
import Testing

/// The six OCI hooks, each at its point of the lifecycle with the state JSON on stdin.
@Suite(.timeLimit(.minutes(5)))
struct HookTests {
    /// POSIX sh, so it runs with the host's /bin/sh and with busybox inside the container:
    /// `hook.sh DIR KIND [ARGS...]` records its stdin, its arguments and its mount namespace.
    static let hookScript = """
        #!/bin/sh
        cat > "$1/$2.state"
        echo "$@" > "$1/$2.argv"
        readlink /proc/self/ns/mnt > "$1/$2.mnt"
        echo "$2" >> "$1/order"

        """

    @Test func everyHookRunsAtItsPointWithTheStateOnStdin() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "while [ ! -e /tmp/hooks/go ]; do sleep 0.05; done"])
            let hooks = try bundle.makeDirectory("hooks")
            try bundle.write("hooks/hook.sh", Self.hookScript, mode: 0o755)
            var config = try bundle.config()
            // startContainer runs after pivot_root: its path is the container's view of the
            // same script, bound at /tmp/hooks. The others run before pivot_root or on the host.
            config.bindUnderTmp(hooks, at: "/tmp/hooks")
            let env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", s.marker]
            for kind in ["prestart", "createRuntime", "createContainer", "poststart", "poststop"] {
                config.addHook(kind, path: hooks + "/hook.sh", args: ["hook.sh", hooks, kind, "extra"], env: env)
            }
            config.addHook("startContainer", path: "/tmp/hooks/hook.sh", args: ["hook.sh", "/tmp/hooks", "startContainer", "extra"], env: env)
            try bundle.save(config)
            let id = s.newID()
            let hostMountNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")

            func order() -> [String] { (bundle.read("hooks/order") ?? "").split(separator: "\n").map(String.init) }
            func state(_ kind: String) throws -> [String: Any] {
                let text = try #require(bundle.read("hooks/\(kind).state"), "the \(kind) hook did not run")
                return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(kind) stdin: \(text)")
            }
            func check(_ kind: String, status: String, pid: Int) throws {
                let seen = try state(kind)
                #expect(seen["id"] as? String == id, "\(kind): \(seen)")
                #expect(seen["status"] as? String == status, "\(kind): \(seen)")
                #expect(seen["pid"] as? Int ?? 0 == pid, "\(kind): \(seen)")
                #expect(seen["bundle"] as? String == bundle.path, "\(kind): \(seen)")
                #expect(seen["ociVersion"] as? String != nil, "\(kind): \(seen)")
                let dir = kind == "startContainer" ? "/tmp/hooks" : hooks
                #expect(bundle.read("hooks/\(kind).argv") == "\(dir) \(kind) extra\n")
            }

            // create: prestart and createRuntime on the host, createContainer in the container's
            // mount namespace; nothing of start yet.
            let create = try await s.berth("create", "--bundle", bundle.path, id)
            try #require(create.succeeded, "\(create)")
            #expect(order() == ["prestart", "createRuntime", "createContainer"])
            let pid = try #require(try await s.state(id)?["pid"] as? Int)
            let containerMountNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/mnt")
            #expect(containerMountNamespace != hostMountNamespace)
            // "created", as crun passes and runtime-tools expects; the container-namespace hooks
            // get the pid as the container sees it (runtime-spec), 1 in its own pid namespace.
            try check("prestart", status: "created", pid: pid)
            try check("createRuntime", status: "created", pid: pid)
            try check("createContainer", status: "created", pid: 1)
            #expect(bundle.read("hooks/prestart.mnt") == hostMountNamespace + "\n")
            #expect(bundle.read("hooks/createRuntime.mnt") == hostMountNamespace + "\n")
            #expect(bundle.read("hooks/createContainer.mnt") == containerMountNamespace + "\n")

            // start: startContainer in the container before the process, poststart on the host.
            let start = try await s.berth("start", id)
            try #require(start.succeeded, "\(start)")
            try #require(await eventually { order().count == 5 }, "hooks so far: \(order())")
            #expect(Set(order().suffix(2)) == ["startContainer", "poststart"])
            try check("startContainer", status: "created", pid: 1)
            try check("poststart", status: "running", pid: pid)
            #expect(bundle.read("hooks/startContainer.mnt") == containerMountNamespace + "\n")
            #expect(bundle.read("hooks/poststart.mnt") == hostMountNamespace + "\n")
            #expect(try await s.status(id) == "running")

            // delete: poststop, once the container has stopped.
            #expect(FileManager.default.createFile(atPath: hooks + "/go", contents: nil))
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(!order().contains("poststop"))
            let delete = try await s.berth("delete", id)
            #expect(delete.succeeded, "\(delete)")
            #expect(order().last == "poststop")
            try check("poststop", status: "stopped", pid: 0)
            #expect(bundle.read("hooks/poststop.mnt") == hostMountNamespace + "\n")
        }
    }

    /// runc's text: the hook's kind and index, its status, and what it wrote, on one line.
    @Test func aFailingHookIsReportedInRuncsWordsWithItsOutput() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"])
            try bundle.write("fail.sh", "#!/bin/sh\necho out-line\necho err-line >&2\nexit 3\n", mode: 0o755)
            var config = try bundle.config()
            config.addHook("prestart", path: "/bin/true", env: [s.marker])
            config.addHook("prestart", path: bundle.path + "/fail.sh", env: [s.marker, "PATH=/usr/bin:/bin"])
            config.addHook("createContainer", path: "/no/such/hook", env: [s.marker])
            try bundle.save(config)
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status != 0 && run.stdout.isEmpty, "\(run)")
            #expect(run.errorLine == #"berth: error running prestart hook #1: exit status 3, stdout: out-line\n, stderr: err-line\n"#, "\(run)")
            config["hooks.prestart"] = nil
            try bundle.save(config)
            let missing = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(missing.errorLine == "berth: error running createContainer hook #0: fork/exec /no/such/hook: no such file or directory", "\(missing)")
        }
    }

    /// A hook that writes more than a pipe holds and never reads its stdin still ends with its
    /// own status, not at its timeout; berth keeps the first 64 KiB of what it wrote.
    @Test func aHookThatWritesMoreThanAPipeHoldsIsNotStalled() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"]) {
                $0["annotations"] = ["pad": String(repeating: "A", count: 200_000)]
            }
            var config = try bundle.config()
            config.addHook("createRuntime", path: "/bin/sh", args: ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x; exit 4"],
                           env: [s.marker, "PATH=/usr/bin:/bin"], timeout: 600)
            try bundle.save(config)
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.errorLine.hasPrefix("berth: error running createRuntime hook #0: exit status 4, stdout: xxx"), "\(run.errorLine.prefix(200))")
            #expect(run.errorLine.count < 70_000 && run.errorLine.hasSuffix(", stderr: "), "\(run.errorLine.count)")
        }
    }

    /// runc runs a startContainer hook as the process: its user and environment, in its working
    /// directory, without its dropped capabilities and under its seccomp filter (measured).
    @Test func aStartContainerHookRunsAsTheProcessUnderItsFilter() async throws {
        try await withBerthSandbox { s in
            let script = "echo $(id -u) $(pwd) $FROM_PROCESS; mkdir /tmp/made 2>/dev/null; echo mkdir=$?; grep -E '^(Seccomp|CapEff):' /proc/self/status; exit 1"
            let bundle = try await s.foreignBundle(.runc, ["true"]) {
                $0.env = $0.env + ["FROM_PROCESS=yes"]
                $0["process.user"] = ["uid": 1000, "gid": 1000]
                $0["process.cwd"] = "/tmp"
                $0["linux.seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    ["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"],
                    ["names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38],
                ]]
                $0["hooks.startContainer"] = [["path": "/bin/sh", "args": ["sh", "-c", script]]]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status != 0, "\(run)")
            // Reported by the init, after create, bare as runc's init writes it.
            #expect(run.errorLine.hasPrefix(#"error running startContainer hook #0: exit status 1, stdout: 1000 /tmp yes\nmkdir=1\nCapEff:\t0000000000000000\nSeccomp:\t2\n"#),
                    "\(run)")
        }
    }

    /// A hook gets its state on stdin, stdout, stderr and nothing else, as in runc (ls adds 3,
    /// the directory it lists).
    @Test(arguments: ["prestart", "createRuntime", "createContainer", "startContainer"])
    func aHookSeesOnlyItsStdio(_ kind: String) async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"]) {
                $0["hooks.\(kind)"] = [["path": "/bin/sh", "args": ["sh", "-c", "ls /proc/self/fd; exit 1"], "env": ["PATH=/usr/bin:/bin"]]]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            // startContainer's failure is the init's, written bare as runc's init writes it.
            let prefix = kind == "startContainer" ? "" : "berth: "
            #expect(run.errorLine == prefix + #"error running \#(kind) hook #0: exit status 1, stdout: 0\n1\n2\n3\n, stderr: "#, "\(run)")
        }
    }

    @Test func failingStartContainerHookEndsTheContainerBeforeItsProcessRuns() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "echo the process ran"]) {
                $0.addHook("startContainer", path: "/bin/false", env: [s.marker])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status != 0, "\(run)")
            #expect(run.stderr.contains("error running startContainer hook #0: exit status 1"), "\(run)")
            #expect(!run.stdout.contains("the process ran"), "\(run)")
        }
    }

    /// `berth run` is still in `start` while poststart hooks run; a signal then must reach the
    /// container like any other, not kill berth and leave the container behind.
    @Test func signalToForegroundRunDuringAPoststartHookIsForwarded() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "trap 'echo got TERM; exit 42' TERM; while :; do sleep 0.05; done"])
            try bundle.write("slow.sh", "#!/bin/sh\n: > \"$1\"\nsleep 1\n", mode: 0o755)
            var config = try bundle.config()
            config.addHook("poststart", path: bundle.path + "/slow.sh", args: ["slow.sh", bundle.path + "/in-hook"],
                           env: ["PATH=/usr/bin:/bin", s.marker])
            try bundle.save(config)
            let run = try s.spawnBerth(["run", "--bundle", bundle.path, s.newID()])
            let inHook = await eventually { bundle.exists("in-hook") || run.poll() }
            guard inHook, !run.poll() else {
                run.kill()
                Issue.record("the poststart hook never ran: \(await run.wait())")
                return
            }
            kill(run.pid, SIGTERM)
            let result = await run.wait()
            #expect(result.status == 42, "\(result)")
            #expect(result.stdout == "got TERM\n", "\(result)")
        }
    }

    @Test func failingPoststartHookIsReportedButTheContainerRuns() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            try bundle.write("fail.sh", "#!/bin/sh\nexit 3\n", mode: 0o755)
            var config = try bundle.config()
            config.addHook("poststart", path: bundle.path + "/fail.sh", env: [s.marker])
            try bundle.save(config)
            let id = s.newID()
            try #require(try await s.berth("create", "--bundle", bundle.path, id).succeeded)
            let start = try await s.berth("start", id)
            #expect(start.status == 0, "\(start)")
            #expect(start.stderr.contains("error running poststart hook #0: exit status 3"), "\(start)")
            #expect(try await s.status(id) == "running")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    // MARK: - Bundles from `runc spec`

    /// A hook need not read its stdin, and a state with large annotations does not fit in a pipe:
    /// berth must neither block nor die of SIGPIPE (it did, exit 141, and a poststop hook then
    /// left a container that could never be deleted). runc returns 0 for each.
    @Test func hooksThatDoNotReadALargeStateLeaveBerthUnharmed() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sleep", "1000"]) {
                $0["annotations"] = ["pad": String(repeating: "A", count: 100_000)]
                var hooks: [String: Any] = [:]
                for kind in ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"] {
                    hooks[kind] = [["path": "/bin/true"]]
                }
                $0["hooks"] = hooks
            }
            let id = s.newID()
            let create = try await s.berth("create", "--bundle", bundle.path, id)
            #expect(create.status == 0, "\(create.status) \(create.errorLine)")
            let start = try await s.berth("start", id)
            #expect(start.status == 0, "\(start.status) \(start.errorLine)")
            let delete = try await s.berth("delete", "--force", id)
            #expect(delete.status == 0, "\(delete.status) \(delete.errorLine)")
            #expect(try await s.state(id) == nil)
            #expect(!FileManager.default.fileExists(atPath: s.stateRoot + "/" + id))
        }
    }

    /// A hook that reads its stdin gets the whole state, however large.
    @Test func hookReadsTheWholeLargeState() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"]) {
                $0["annotations"] = ["pad": String(repeating: "A", count: 300_000)]
                $0["hooks"] = ["prestart": [["path": "/bin/sh", "args": ["sh", "-c", "sleep 0.2; cat > \"$0\"", "STATE"]]]]
            }
            var config = try bundle.config()
            config["hooks.prestart.0.args.3"] = bundle.path + "/state.json"
            try bundle.save(config)
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run.status) \(run.errorLine)")
            let text = try #require(bundle.read("state.json"))
            let state = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect((state["annotations"] as? [String: String])?["pad"]?.count == 300_000)
        }
    }

    /// A hook that neither reads nor exits is killed at its timeout; create fails cleanly.
    @Test func hookThatNeverReadsIsKilledAtItsTimeout() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"]) {
                $0["annotations"] = ["pad": String(repeating: "A", count: 100_000)]
                $0["hooks"] = ["createRuntime": [["path": "/bin/sleep", "args": ["sleep", "1000"], "timeout": 1]]]
            }
            let started = Date()
            let create = try await s.berth("create", "--bundle", bundle.path, s.newID())
            #expect(create.status != 0 && !create.timedOut, "\(create)")
            #expect(create.errorLine.contains("error running createRuntime hook #0: hook ran past specified timeout of 1.0s"), "\(create)")
            // Far below the hook's 1000 s, with room for a host at load 12 (32 s seen there).
            #expect(Date().timeIntervalSince(started) < max(120, 30 * TestTiming.scale))
        }
    }

    /// The state each hook kind reads, as crun passes it and runtime-tools checks it (runc gives
    /// prestart and createRuntime "creating", and poststart "created").
    @Test func eachHookKindReadsItsState() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "while [ ! -e /tmp/hooks/go ]; do sleep 0.05; done"])
            let hooks = try bundle.makeDirectory("hooks")
            var config = try bundle.config()
            config.bindUnderTmp(hooks, at: "/tmp/hooks")
            var table: [String: Any] = [:]
            for kind in ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"] {
                let dir = kind == "startContainer" ? "/tmp/hooks" : hooks
                table[kind] = [["path": "/bin/sh", "args": ["sh", "-c", "cat > \(dir)/\(kind)"]]]
            }
            config["hooks"] = table
            try bundle.save(config)
            let id = s.newID()
            try #require(try await s.berth("create", "--bundle", bundle.path, id).succeeded)
            let pid = try #require(try await s.state(id)?["pid"] as? Int)
            try #require(try await s.berth("start", id).succeeded)
            #expect(FileManager.default.createFile(atPath: hooks + "/go", contents: nil))
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            try #require(try await s.berth("delete", id).succeeded)
            let expected: [(String, String, Int)] = [("prestart", "created", pid), ("createRuntime", "created", pid), ("createContainer", "created", 1),
                                                     ("startContainer", "created", 1), ("poststart", "running", pid), ("poststop", "stopped", 0)]
            for (kind, status, pid) in expected {
                let text = try #require(bundle.read("hooks/\(kind)"), "the \(kind) hook did not run")
                let state = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(kind): \(text)")
                #expect(state["status"] as? String == status, "\(kind): \(text)")
                #expect(state["pid"] as? Int ?? 0 == pid, "\(kind): \(text)")
                #expect(state["id"] as? String == id, "\(kind): \(text)")
            }
        }
    }

    /// A hook without `env` gets berth's own environment in the runtime namespace and the
    /// process's in the container's, as in runc; never an empty one.
    @Test func hookWithoutEnvGetsTheRuntimesOrTheProcesssEnvironment() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"]) { $0.env = $0.env + ["ONLY_IN_THE_PROCESS=1"] }
            let hooks = try bundle.makeDirectory("hooks")
            var config = try bundle.config()
            config.bindUnderTmp(hooks, at: "/tmp/hooks")
            var table: [String: Any] = [:]
            for kind in ["prestart", "createContainer", "startContainer", "poststart", "poststop"] {
                let dir = kind == "startContainer" ? "/tmp/hooks" : hooks
                table[kind] = [["path": "/bin/sh", "args": ["sh", "-c", "env > \(dir)/\(kind)"]]]
            }
            table["createRuntime"] = [["path": "/bin/sh", "args": ["sh", "-c", "env > \(hooks)/createRuntime"], "env": ["ONLY=this"]]]
            config["hooks"] = table
            try bundle.save(config)
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            func environment(_ kind: String) -> Set<String> { Set((bundle.read("hooks/\(kind)") ?? "").split(separator: "\n").map(String.init)) }
            for kind in ["prestart", "poststart", "poststop"] {
                #expect(environment(kind).contains(s.marker) && !environment(kind).contains("ONLY_IN_THE_PROCESS=1"), "\(kind): \(environment(kind))")
            }
            for kind in ["createContainer", "startContainer"] {
                #expect(environment(kind).contains("ONLY_IN_THE_PROCESS=1"), "\(kind): \(environment(kind))")
            }
            #expect(environment("createRuntime").contains("ONLY=this") && !environment("createRuntime").contains(s.marker), "\(environment("createRuntime"))")
        }
    }
}
