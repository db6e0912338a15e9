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
            try check("prestart", status: "creating", pid: pid)
            try check("createRuntime", status: "creating", pid: pid)
            try check("createContainer", status: "created", pid: pid)
            #expect(bundle.read("hooks/prestart.mnt") == hostMountNamespace + "\n")
            #expect(bundle.read("hooks/createRuntime.mnt") == hostMountNamespace + "\n")
            #expect(bundle.read("hooks/createContainer.mnt") == containerMountNamespace + "\n")

            // start: startContainer in the container before the process, poststart on the host.
            let start = try await s.berth("start", id)
            try #require(start.succeeded, "\(start)")
            try #require(await eventually { order().count == 5 }, "hooks so far: \(order())")
            #expect(Set(order().suffix(2)) == ["startContainer", "poststart"])
            try check("startContainer", status: "running", pid: pid)
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

    @Test func failingStartContainerHookEndsTheContainerBeforeItsProcessRuns() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "echo the process ran"]) {
                $0.addHook("startContainer", path: "/bin/false", env: [s.marker])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status != 0, "\(run)")
            #expect(run.stderr.contains("hooks.startContainer[0]"), "\(run)")
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
            #expect(start.stderr.contains("hooks.poststart[0]"), "\(start)")
            #expect(try await s.status(id) == "running")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }
}
