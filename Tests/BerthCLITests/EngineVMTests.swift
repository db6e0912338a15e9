import Foundation
import Glibc
import TestSupport
import Testing

/// Container engines driving `berth` in place of runc: podman (through conmon) and containerd
/// (through its io.containerd.runc.v2 shim, with `ctr`). Runs in the cgroup v2 VM only
/// (`BERTH_VM_FILTER='EngineVMTests' make test-vm`): on the hybrid host the engines ask for
/// limits (podman's pids limit, ctr's cpu shares) whose controllers are bound to cgroup v1 there.
/// scripts/test-vm.sh runs this suite after the others, alone: it keeps both emulated CPUs busy.
///
/// Every engine keeps all of its state in one temporary directory (tmpfs in the VM): podman's
/// storage (vfs), run root and network config; containerd's root, state, sockets and the
/// runc-root the shim passes to berth. podman calls berth without --root, so its containers are
/// in berth's default /run/berth, which nothing else in the VM uses. docs/engines.md has the
/// commands by hand.
@Suite(.cgroupV2, .serialized, .timeLimit(.minutes(10)))
struct EngineVMTests {
    /// One engine command; emulation makes podman's and ctr's start-up slow.
    static let commandTimeout = 30 * TestTiming.scale

    // MARK: - podman

    @Test func podmanRunPrintsExitsWithTheStatusAndCleansUp() async throws {
        try await withPodman { p in
            let hi = try await p.podman("run", "--rm", "--pull", "never", "--network", "none", Podman.image, "echo", "hi")
            #expect(hi.status == 0 && hi.stdout == "hi\n", "\(hi)")

            // A network namespace by path, as podman passes its networks' (without depending on
            // a network stack being installed): berth joins it.
            let netns = try await p.persistentNetworkNamespace()
            let joined = try await p.podman("run", "--rm", "--pull", "never", "--network", "ns:" + netns.path, Podman.image,
                                            "readlink", "/proc/self/ns/net")
            #expect(joined.status == 0 && joined.stdout == "net:[\(netns.inode)]\n", "\(joined)")

            let three = try await p.podman("run", "--rm", "--pull", "never", "--network", "none", Podman.image, "sh", "-c", "exit 3")
            #expect(three.status == 3, "\(three)")

            // podman mounts the container's own cgroup (cgroupns private) at /sys/fs/cgroup.
            let limited = try await p.podman("run", "--rm", "--pull", "never", "--network", "none", "-m", "64m", Podman.image,
                                             "cat", "/sys/fs/cgroup/memory.max")
            #expect(limited.status == 0 && limited.stdout == "67108864\n", "\(limited)")

            // A missing command: berth logs the error as JSON to conmon's oci-log, podman reports
            // it and exits 127 as with runc.
            let name = uniqueName("eng")
            let missing = try await p.podman("run", "--pull", "never", "--network", "none", "--name", name, Podman.image, "/no/such/command")
            #expect(missing.status == 127 && missing.stderr.contains("/no/such/command"), "\(missing)")
            let id = try await p.podman("inspect", name, "--format", "{{.Id}}").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let log = (try? String(contentsOfFile: p.directory.path + "/run/vfs-containers/\(id)/userdata/oci-log", encoding: .utf8)) ?? ""
            let last = log.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(last?["level"] as? String == "error" && (last?["msg"] as? String)?.contains("/no/such/command") == true,
                    "oci-log of \(id): \(log)")
            let removed = try await p.podman("rm", name)
            #expect(removed.succeeded, "\(removed)")

            // --rm left nothing: no container in podman, no state in berth, no cgroup.
            let all = try await p.podman("ps", "-a", "-q")
            #expect(all.succeeded && all.stdout.isEmpty, "\(all)")
            #expect(p.berthContainers().isEmpty, "berth state left: \(p.berthContainers())")
            #expect(p.containerCgroups().isEmpty, "cgroups left: \(p.containerCgroups())")
        }
    }

    @Test func podmanDetachedContainerTakesExecPauseStopAndRemove() async throws {
        try await withPodman { p in
            let name = uniqueName("eng")
            // The shell forwards TERM: podman stop must deliver it through `berth kill`.
            let run = try await p.podman("run", "-d", "--pull", "never", "--network", "none", "--name", name, Podman.image,
                                         "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
            try #require(run.status == 0, "\(run)")
            let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try #require(id.count == 64, "\(run)")
            #expect(try await p.berthState(id)?["status"] as? String == "running")
            #expect(FileManager.default.fileExists(atPath: p.cgroup(id)), "no cgroup \(p.cgroup(id))")

            let exec = try await p.podman("exec", name, "sh", "-c", "echo inexec; exit 4")
            #expect(exec.status == 4 && exec.stdout == "inexec\n", "\(exec)")

            let listed = try await p.podman("ps", "--format", "{{.Names}}")
            #expect(listed.lines.contains(name), "\(listed)")
            let top = try await p.podman("top", name)
            #expect(top.status == 0 && top.stdout.contains("sleep 1000"), "\(top)")

            let pause = try await p.podman("pause", name)
            #expect(pause.succeeded, "\(pause)")
            #expect(try await p.berthState(id)?["status"] as? String == "paused")
            let unpause = try await p.podman("unpause", name)
            #expect(unpause.succeeded, "\(unpause)")
            #expect(try await p.berthState(id)?["status"] as? String == "running")

            let stop = try await p.podman("stop", "-t", "60", name)
            #expect(stop.succeeded, "\(stop)")
            let exited = try await p.podman("inspect", name, "--format", "{{.State.Status}} {{.State.ExitCode}}")
            #expect(exited.stdout == "exited 0\n", "SIGTERM did not end the container: \(exited)")
            // Killing a stopped container is podman's own refusal, not a runtime error.
            let killStopped = try await p.podman("kill", name)
            #expect(killStopped.status != 0 && !killStopped.stderr.contains("berth"), "\(killStopped)")

            let remove = try await p.podman("rm", name)
            #expect(remove.succeeded, "\(remove)")
            #expect(try await p.berthState(id) == nil, "berth still has \(id)")
            #expect(!FileManager.default.fileExists(atPath: p.cgroup(id)), "cgroup left: \(p.cgroup(id))")
        }
    }

    // MARK: - containerd

    @Test func containerdRunsTasksThroughTheRuncShim() async throws {
        try await withContainerd { c in
            let hi = try await c.run("--rm", id: "hi", ["echo", "hi"])
            #expect(hi.status == 0 && hi.stdout == "hi\n", "\(hi)")
            let three = try await c.run("--rm", id: "three", ["sh", "-c", "exit 3"])
            #expect(three.status == 3, "\(three)")

            let detached = try await c.run("-d", "--memory-limit", "67108864", id: "long", ["sleep", "1000"])
            try #require(detached.succeeded, "\(detached)")
            // ctr's cgroupsPath is /<namespace>/<id>.
            let cgroup = (HostCgroup.mount ?? "/sys/fs/cgroup") + "/default/long"
            #expect((try? String(contentsOfFile: cgroup + "/memory.max", encoding: .utf8)) == "67108864\n")
            #expect(try await c.berthState("long")?["status"] as? String == "running")

            let exec = try await c.ctr("task", "exec", "--exec-id", "e1", "long", "sh", "-c", "echo inexec; exit 4")
            #expect(exec.status == 4 && exec.stdout == "inexec\n", "\(exec)")
            let pid = try #require(try await c.berthState("long")?["pid"] as? Int)
            let ps = try await c.ctr("task", "ps", "long")
            #expect(ps.succeeded && ps.lines.contains { $0.hasPrefix("\(pid) ") }, "\(ps)")

            let pause = try await c.ctr("task", "pause", "long")
            #expect(pause.succeeded, "\(pause)")
            #expect(try await c.berthState("long")?["status"] as? String == "paused")
            let resume = try await c.ctr("task", "resume", "long")
            #expect(resume.succeeded, "\(resume)")

            let kill = try await c.ctr("task", "kill", "--signal", "KILL", "long")
            #expect(kill.succeeded, "\(kill)")
            let stopped = await eventually(timeout: Self.commandTimeout) {
                (try? await c.ctr("task", "ls"))?.lines.contains { $0.hasPrefix("long ") && $0.contains("STOPPED") } == true
            }
            #expect(stopped, "the task did not stop")
            // The shim runs `berth kill` on the stopped container and must read "already finished".
            let again = try await c.ctr("task", "kill", "long")
            #expect(again.stderr.contains("process already finished"), "\(again)")
            let remove = try await c.ctr("task", "rm", "long")
            #expect(remove.succeeded, "\(remove)")
            let removeContainer = try await c.ctr("container", "rm", "long")
            #expect(removeContainer.succeeded, "\(removeContainer)")

            #expect(try await c.berthState("long") == nil)
            #expect(!FileManager.default.fileExists(atPath: cgroup), "cgroup left: \(cgroup)")
            #expect(c.berthContainers().isEmpty, "berth state left: \(c.berthContainers())")
            // The shim deletes twice (delete, then delete --force in its cleanup): the second must
            // not fail for want of the container. (The cleanup may still warn "exit status 255":
            // the shim loses the status of the child it reaps, with runc too.)
            let log = c.daemonLog()
            #expect(!log.contains("does not exist"), "containerd log:\n\(log)")
        }
    }
}

// MARK: - Engines as subprocesses

/// What both engines share: a private directory, commands with their output in files, and the
/// clean-up of whatever they leave (processes naming the directory, mounts under it).
class EngineWorld {
    let directory: TemporaryDirectory
    let berth: String
    var environment: [String]
    private var counter = 0

    init(_ name: String) throws {
        berth = try BerthPaths.berth()
        // Short: conmon's and the shim's socket paths are limited to 108 bytes.
        directory = try TemporaryDirectory(name)
        try FileManager.default.createDirectory(atPath: directory.path + "/tmp", withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = directory.path + "/tmp"
        if environment["PATH"] == nil { environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin" }
        self.environment = environment.map { "\($0.key)=\($0.value)" }
    }

    /// An executable by name from PATH; fails the test when it is missing (`make deps` installs it).
    static func executable(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        let found = path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        return try #require(found, "\(name) is not installed: run 'make deps'")
    }

    /// Starts a command at the lowest CPU priority: the engines (and their daemons, conmon, shims
    /// and containers, which inherit it) are heavy under emulation. scripts/test-vm.sh runs this
    /// suite alone after the others, but a filtered `swift test` in the VM may not.
    func spawn(_ executable: String, _ arguments: [String], output name: String? = nil) throws -> SpawnedProcess {
        counter += 1
        let base = directory.path + "/" + (name ?? "cmd-\(counter)")
        return try SpawnedProcess(try EngineWorld.executable("nice"), ["-n", "19", executable] + arguments, environment: environment,
                                  stdoutPath: base + ".out", stderrPath: base + ".err")
    }

    func command(_ executable: String, _ arguments: [String], timeout: Double = EngineVMTests.commandTimeout) async throws -> CommandResult {
        try await spawn(executable, arguments).wait(timeout: timeout)
    }

    /// `berth --root ROOT state ID` parsed; nil when berth does not know the container.
    func berthState(_ id: String, root: String) async throws -> [String: Any]? {
        let result = try await command(berth, ["--root", root, "state", id])
        guard result.succeeded else {
            #expect(result.stderr.contains("does not exist"), "\(result)")
            return nil
        }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    }

    /// Container directories under a berth state root.
    func berthContainers(root: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { !$0.hasPrefix(".") }
    }

    /// Kills every process whose command line names the directory (conmon, shims, daemons),
    /// unmounts what is mounted under it and removes it.
    func tearDown() async {
        for _ in 0..<3 {
            let stragglers = processesNamingDirectory()
            if stragglers.isEmpty { break }
            for pid in stragglers { kill(pid, SIGKILL) }
            for pid in stragglers { _ = await HostProcesses.waitGone(pid) }
        }
        let mounts = ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst(4).first.map(String.init) }
            .filter { $0.hasPrefix(directory.path + "/") }
        for mount in mounts.reversed() { umount2(mount, Int32(MNT_DETACH)) }
        directory.remove()
    }

    private func processesNamingDirectory() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }.filter { pid in
            pid != getpid() && HostProcesses.isAlive(pid) && HostProcesses.command(pid).contains(directory.path)
        }
    }
}

/// podman with every piece of state in the world's directory and berth as its runtime.
final class Podman: EngineWorld {
    static let image = "localhost/berth-busybox"
    let podmanPath: String
    var globals: [String] {
        let d = directory.path
        return ["--root", d + "/storage", "--runroot", d + "/run", "--tmpdir", d + "/libpod", "--storage-driver", "vfs",
                "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--network-config-dir", d + "/networks",
                "--volumepath", d + "/volumes", "--runtime", "berth"]
    }

    init() throws {
        podmanPath = try EngineWorld.executable("podman")
        try super.init("eng-p")
        // berth by name, and among the runtimes that take --log-format json: conmon then passes
        // `--log-format=json --log <userdata>/oci-log` and podman reports the error from there.
        try directory.write("containers.conf", """
            [engine]
            runtime_supports_json = ["crun", "runc", "berth"]
            [engine.runtimes]
            berth = ["\(berth)"]

            """)
        environment.append("CONTAINERS_CONF=" + directory.path + "/containers.conf")
    }

    func podman(_ arguments: String..., timeout: Double = EngineVMTests.commandTimeout) async throws -> CommandResult {
        try await command(podmanPath, globals + arguments, timeout: timeout)
    }

    /// berth's default state root, where podman's containers are.
    static let berthRoot = "/run/berth"

    func berthState(_ id: String) async throws -> [String: Any]? { try await berthState(id, root: Podman.berthRoot) }
    func berthContainers() -> [String] { berthContainers(root: Podman.berthRoot) }

    /// With --cgroup-manager cgroupfs podman puts containers at /libpod_parent/libpod-<id>.
    func cgroup(_ id: String) -> String { (HostCgroup.mount ?? "/sys/fs/cgroup") + "/libpod_parent/libpod-" + id }

    func containerCgroups() -> [String] {
        let parent = (HostCgroup.mount ?? "/sys/fs/cgroup") + "/libpod_parent"
        return ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).filter { $0.hasPrefix("libpod-") }
    }

    /// A network namespace kept by a bind mount in the directory (unmounted by the tear-down).
    func persistentNetworkNamespace() async throws -> (path: String, inode: UInt64) {
        let path = directory.path + "/netns"
        try #require(FileManager.default.createFile(atPath: path, contents: nil))
        let unshare = try await command(try EngineWorld.executable("unshare"), ["--net=" + path, "true"])
        try #require(unshare.succeeded, "\(unshare)")
        var info = stat()
        try #require(stat(path, &info) == 0, "stat \(path): errno \(errno)")
        return (path, UInt64(info.st_ino))
    }

    /// The busybox rootfs as an image, imported from a tarball (there is no network).
    func importImage() async throws {
        let tarball = directory.path + "/busybox.tar"
        let tar = try await command(try EngineWorld.executable("tar"), ["-C", try BerthPaths.busyboxRootfs(), "-cf", tarball, "."])
        try #require(tar.succeeded, "\(tar)")
        let imported = try await podman("import", tarball, Podman.image, timeout: 2 * EngineVMTests.commandTimeout)
        try #require(imported.succeeded, "\(imported)")
    }
}

/// A private containerd daemon and `ctr` against it, with berth as the shim's runc binary.
final class Containerd: EngineWorld {
    let ctrPath: String
    let containerdPath: String
    private var daemon: SpawnedProcess?
    var socket: String { directory.path + "/c.sock" }
    /// The shim's --runc-root; it calls berth with --root <this>/<namespace>.
    var runcRoot: String { directory.path + "/runc" }
    var rootfs: String { directory.path + "/rootfs" }

    init() throws {
        containerdPath = try EngineWorld.executable("containerd")
        // containerd's own ctr, from the same package (not berth's ctr, should one be on PATH).
        let sibling = (containerdPath as NSString).deletingLastPathComponent + "/ctr"
        ctrPath = FileManager.default.isExecutableFile(atPath: sibling) ? sibling : try EngineWorld.executable("ctr")
        try super.init("eng-c")
    }

    /// `ctr -a SOCKET ARGS...`.
    func ctr(_ arguments: String..., timeout: Double = EngineVMTests.commandTimeout) async throws -> CommandResult {
        try await command(ctrPath, ["-a", socket] + arguments, timeout: timeout)
    }

    /// `ctr run FLAGS --runc-binary berth --runc-root R --rootfs ROOTFS ID COMMAND...`.
    func run(_ flags: String..., id: String, _ command: [String]) async throws -> CommandResult {
        try await self.command(ctrPath, ["-a", socket, "run"] + flags
                               + ["--runc-binary", berth, "--runc-root", runcRoot, "--rootfs", rootfs, id] + command)
    }

    func berthState(_ id: String) async throws -> [String: Any]? { try await berthState(id, root: runcRoot + "/default") }
    func berthContainers() -> [String] { berthContainers(root: runcRoot + "/default") }

    func daemonLog() -> String { (try? directory.read("containerd.err")) ?? "" }

    /// Starts the daemon with a config that keeps everything in the directory, copies the
    /// rootfs (ctr runs it in place) and waits until the daemon answers.
    func start() async throws {
        // Not the CRI plugin: it is Kubernetes' and slow to start under emulation.
        let config = """
            version = 2
            root = "DIR/root"
            state = "DIR/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "DIR/c.sock"
            [ttrpc]
              address = "DIR/c.sock.ttrpc"

            """
        try directory.write("config.toml", config.replacingOccurrences(of: "DIR", with: directory.path))
        let copy = try await command(try EngineWorld.executable("cp"), ["-a", try BerthPaths.busyboxRootfs(), rootfs])
        try #require(copy.succeeded, "\(copy)")
        let daemon = try spawn(containerdPath, ["--config", directory.path + "/config.toml"], output: "containerd")
        self.daemon = daemon
        // Stops polling early when the daemon dies.
        let answered = await eventually(timeout: 4 * EngineVMTests.commandTimeout) {
            if daemon.poll() { return true }
            return (try? await ctr("version"))?.succeeded == true
        }
        try #require(answered && !daemon.poll(), "containerd did not come up; its log:\n\(daemonLog())")
    }

    /// Stops the daemon (TERM; the tear-down kills it and leftover shims if need be).
    func stop() async {
        if let daemon {
            daemon.kill(SIGTERM, group: false)
            _ = await daemon.wait(timeout: EngineVMTests.commandTimeout)
        }
        await tearDown()
    }
}

/// Runs `body` with a podman whose image store has the busybox image; removes every container
/// and the whole state afterwards, even when `body` fails.
func withPodman(_ body: (Podman) async throws -> Void) async throws {
    let podman = try Podman()
    var failure: (any Error)?
    do {
        try await podman.importImage()
        try await body(podman)
    } catch { failure = error }
    _ = try? await podman.podman("rm", "--all", "--force", "--time", "0")
    await podman.tearDown()
    if let failure { throw failure }
}

/// Runs `body` with a private containerd daemon; stops it and its shims afterwards.
func withContainerd(_ body: (Containerd) async throws -> Void) async throws {
    let containerd = try Containerd()
    var failure: (any Error)?
    do {
        try await containerd.start()
        try await body(containerd)
    } catch { failure = error }
    await containerd.stop()
    if let failure { throw failure }
}
