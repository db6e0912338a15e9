import Foundation
import Glibc
import Testing

// The harness for tests that drive the real `berth` binary: where the binary and the busybox
// rootfs are, bundles made with `berth spec` and edited as JSON, `berth` runs with a timeout,
// and the leftover check every sandboxed test ends with.

/// Where the checkout, the debug `berth` binary and the busybox rootfs are.
public enum BerthPaths {
    /// The checkout: this file is Tests/TestSupport/BerthHarness.swift.
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The `berth` next to the running test binary (.build/<triple>/debug), else .build/debug/berth.
    public static let berthCandidates: [String] = {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((exe as NSString).deletingLastPathComponent + "/berth")
        }
        candidates.append(repositoryRoot + "/.build/debug/berth")
        return candidates
    }()

    public static let rootfs = repositoryRoot + "/rootfs-examples/busybox/rootfs"

    /// The berth binary; fails the test when it is not built.
    public static func berth(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let found = berthCandidates.first { FileManager.default.isExecutableFile(atPath: $0) }
        return try #require(found, "no berth binary at \(berthCandidates.joined(separator: " or ")): run 'swift build' first",
                            sourceLocation: sourceLocation)
    }

    /// The busybox rootfs; fails the test when it has not been built.
    public static func busyboxRootfs(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        var isDirectory: ObjCBool = false
        let built = FileManager.default.fileExists(atPath: rootfs + "/bin/busybox")
            && FileManager.default.fileExists(atPath: rootfs, isDirectory: &isDirectory) && isDirectory.boolValue
        try #require(built, "no busybox rootfs at \(rootfs): run 'bash rootfs-examples/busybox/build.sh' (make rootfs)",
                     sourceLocation: sourceLocation)
        return rootfs
    }
}

/// How much slower things are here: software emulation in the VM is about ten times slower.
public enum TestTiming {
    public static let scale: Double = CgroupV2Host.inVM ? 10 : 1
    /// The default limit for one `berth` command.
    public static let command: Double = 20 * scale
    /// How long to wait for something asynchronous (a process ending, a file appearing).
    public static let settle: Double = 10 * scale
}

/// How many `berth` commands the harness runs at once. In the VM two emulated CPUs are all
/// there is: dozens of parallel commands would starve the timing-sensitive VM tests that run
/// alongside (and each other).
actor CommandGate {
    static let shared = CommandGate(limit: CgroupV2Host.inVM ? 3 : 64)

    private let limit: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = limit }

    func enter() async {
        if running < limit {
            running += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func leave() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}

/// What a finished command left: its exit status (128+N when killed by signal N) and output.
public struct CommandResult: Sendable, CustomStringConvertible {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var timedOut: Bool

    public var succeeded: Bool { status == 0 && !timedOut }

    public var description: String {
        "status \(status)\(timedOut ? " (timed out, killed)" : "")\nstdout: \(stdout.debugDescription)\nstderr: \(stderr.debugDescription)"
    }

    /// stderr without its final newline: what a one-line error message should be.
    public var errorLine: String {
        stderr.hasSuffix("\n") ? String(stderr.dropLast()) : stderr
    }

    /// stdout split into lines, without the empty line after the final newline.
    public var lines: [String] {
        stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLastIfEmpty()
    }
}

extension Array where Element == String {
    fileprivate func dropLastIfEmpty() -> [String] { last == "" ? Array(dropLast()) : self }
}

/// A child process started with posix_spawn: a new process group, default signal dispositions,
/// an empty signal mask, stdin from /dev/null and stdout/stderr into files. Not Foundation's
/// Process: the dispositions and the descriptors a container inherits must not depend on the
/// test runner's, and a timed-out command must be killable with everything it started.
public final class SpawnedProcess: @unchecked Sendable {
    public let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    private let lock = NSLock()
    private var finished: (status: Int32, timedOut: Bool)?

    /// `extraFiles` are opened in the child at the given descriptor numbers (3 and up), without
    /// close-on-exec: descriptors a caller passes on, as an engine does with --preserve-fds.
    public init(_ executable: String, _ arguments: [String], environment: [String], stdoutPath: String, stderrPath: String,
                extraFiles: [ExtraFile] = []) throws {
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Nothing of the test runner's beyond stdio: a hook or container holding one of its
        // pipes open could keep `swift test` waiting.
        _ = SpawnedProcess.addCloseFrom?(&actions, 3)
        for file in extraFiles { posix_spawn_file_actions_addopen(&actions, file.descriptor, file.path, file.flags, 0o644) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        pid = child
    }

    /// A file the child gets open at `descriptor`.
    public struct ExtraFile: Sendable {
        public var descriptor: Int32
        public var path: String
        public var flags: Int32
        public init(_ descriptor: Int32, _ path: String, flags: Int32 = O_RDONLY) {
            self.descriptor = descriptor
            self.path = path
            self.flags = flags
        }
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34), which Swift does not import.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Reaps the process if it has ended; true once it has.
    public func poll() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if finished != nil { return true }
        var status: Int32 = 0
        let got = waitpid(pid, &status, WNOHANG)
        if got == pid {
            let signal = status & 0x7f
            finished = (signal == 0 ? (status >> 8) & 0xff : 128 + signal, false)
            return true
        }
        if got < 0 && errno == ECHILD {
            finished = (-1, false)
            return true
        }
        return false
    }

    /// What the process has written to stdout so far.
    public var stdoutSoFar: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }

    /// Signals the process and, with `group`, its process group: whatever it started and did
    /// not move out, a container's init included.
    public func kill(_ signal: Int32 = SIGKILL, group: Bool = true) {
        guard !poll() else { return }
        if group { Glibc.kill(-pid, signal) }
        Glibc.kill(pid, signal)
    }

    /// Waits up to `timeout` seconds for the process to end; past that, kills its process group.
    public func wait(timeout: Double = TestTiming.command) async -> CommandResult {
        let deadline = Date().addingTimeInterval(timeout)
        var pause: UInt64 = 1_000_000
        var timedOut = false
        while !poll() {
            if Date() > deadline {
                kill()
                timedOut = true
                while !poll() { try? await Task.sleep(nanoseconds: 1_000_000) }
                break
            }
            try? await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 20_000_000)
        }
        let status = lock.withLock { finished?.status ?? -1 }
        let out = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return CommandResult(status: status, stdout: out, stderr: err, timedOut: timedOut)
    }
}

/// A config.json as JSON values, edited by dotted paths: `config["process.user.uid"] = 1000`,
/// `config["linux.namespaces.0.type"]`. Missing objects on the way are created.
public struct BundleConfig {
    public var json: [String: Any]

    public init(json: [String: Any]) { self.json = json }

    public subscript(path: String) -> Any? {
        get {
            var node: Any? = json
            for key in path.split(separator: ".") {
                if let index = Int(key), let array = node as? [Any] {
                    node = array.indices.contains(index) ? array[index] : nil
                } else {
                    node = (node as? [String: Any])?[String(key)]
                }
            }
            return node
        }
        set {
            json = BundleConfig.set(json, path.split(separator: ".").map(String.init), newValue) as? [String: Any] ?? json
        }
    }

    private static func set(_ node: Any?, _ keys: [String], _ value: Any?) -> Any? {
        guard let key = keys.first else { return value }
        let rest = Array(keys.dropFirst())
        if let index = Int(key), var array = node as? [Any] {
            if index == array.count, let element = set(nil, rest, value) {
                array.append(element)
            } else if array.indices.contains(index) {
                if let element = set(array[index], rest, value) { array[index] = element } else { array.remove(at: index) }
            }
            return array
        }
        var object = node as? [String: Any] ?? [:]
        object[key] = set(object[key], rest, value)
        return object
    }

    public var args: [String] {
        get { self["process.args"] as? [String] ?? [] }
        set { self["process.args"] = newValue }
    }

    public var env: [String] {
        get { self["process.env"] as? [String] ?? [] }
        set { self["process.env"] = newValue }
    }

    /// Appends to the `mounts` list.
    public mutating func addMount(destination: String, type: String? = nil, source: String? = nil, options: [String] = []) {
        var mount: [String: Any] = ["destination": destination, "options": options]
        if let type { mount["type"] = type }
        if let source { mount["source"] = source }
        self["mounts"] = (self["mounts"] as? [Any] ?? []) + [mount]
    }

    /// A rw bind mount of `source` plus a tmpfs on /tmp under it, so the mount point is made in
    /// the tmpfs and never in the shared rootfs (which is read-only in the VM anyway).
    public mutating func bindUnderTmp(_ source: String, at destination: String, options: [String] = ["rbind", "rw"]) {
        let tmps = (self["mounts"] as? [[String: Any]] ?? []).filter { $0["destination"] as? String == "/tmp" }
        if tmps.isEmpty { addMount(destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777", "size=4m"]) }
        addMount(destination: destination, type: "bind", source: source, options: options)
    }

    public mutating func removeNamespace(_ type: String) {
        self["linux.namespaces"] = (self["linux.namespaces"] as? [[String: Any]] ?? []).filter { $0["type"] as? String != type }
    }

    /// Adds a hook of `kind` (prestart, createRuntime, ...).
    public mutating func addHook(_ kind: String, path: String, args: [String]? = nil, env: [String] = [], timeout: Int? = nil) {
        var hook: [String: Any] = ["path": path, "env": env]
        if let args { hook["args"] = args }
        if let timeout { hook["timeout"] = timeout }
        self["hooks.\(kind)"] = (self["hooks.\(kind)"] as? [Any] ?? []) + [hook]
    }
}

/// A bundle directory with its config.json.
public struct TestBundle: Sendable {
    public let path: String

    public init(path: String) { self.path = path }
    public var configPath: String { path + "/config.json" }

    public func write(_ relativePath: String, _ contents: String, mode: Int = 0o644) throws {
        let full = path + "/" + relativePath
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try contents.write(toFile: full, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: full)
    }

    public func read(_ relativePath: String) -> String? {
        try? String(contentsOfFile: path + "/" + relativePath, encoding: .utf8)
    }

    public func exists(_ relativePath: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/" + relativePath)
    }

    public func makeDirectory(_ relativePath: String) throws -> String {
        let full = path + "/" + relativePath
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }

    public func config() throws -> BundleConfig {
        let data = try Data(contentsOf: URL(fileURLWithPath: configPath))
        return BundleConfig(json: try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]))
    }

    public func save(_ config: BundleConfig) throws {
        let data = try JSONSerialization.data(withJSONObject: config.json, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: configPath))
    }
}

/// The runtimes whose `spec` command writes a config.json berth must run as they would.
public enum ForeignSpec: String, Sendable, CaseIterable {
    case runc, crun

    /// The tool in the usual places; fails the test when it is not installed (`make deps` installs both).
    public static func executable(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"].map { $0 + "/" + name }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        return try #require(found, "\(name) is not installed: run 'make deps'", sourceLocation: sourceLocation)
    }
}

/// Engines whose generated config.json is kept as a fixture, captured from a real run with a
/// wrapper runtime that copied the bundle's config.json and then ran runc (docs/engines.md).
public enum EngineConfig: String, Sendable, CaseIterable {
    /// podman 4.3.1 (Debian 12), `podman run --rm --network none IMAGE echo hi`.
    case podman = "podman-4.3.1"
    /// containerd 1.6.20 (Debian 12) through its runc shim, `ctr run --rm --rootfs DIR ID echo hi`.
    case containerd = "containerd-1.6.20"

    public var fixturePath: String { BerthPaths.repositoryRoot + "/Tests/Fixtures/engine-configs/\(rawValue).json" }

    static let rlimitResources: [String: Int32] = ["RLIMIT_NOFILE": 7, "RLIMIT_NPROC": 6]
}

/// One test's world: a temp directory, its own `--root` state directory and container IDs, and
/// a leftover check at the end. Use through `withBerthSandbox`.
public final class BerthSandbox: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let stateRoot: String
    public let berthPath: String
    public let rootfs: String
    /// Put in berth's environment and every container's: any process still carrying it at the
    /// end (a berth, a container init before or after exec, a hook) is a leftover of this test.
    public let marker: String
    private let lock = NSLock()
    private var counter = 0
    private var ids: [String] = []

    init(berthPath: String, rootfs: String) throws {
        directory = try TemporaryDirectory("berth-it")
        stateRoot = directory.path + "/state"
        // As on a host where berth has run: `--root MISSING list` fails, as in runc 1.5.
        try FileManager.default.createDirectory(atPath: stateRoot, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        self.berthPath = berthPath
        self.rootfs = rootfs
        marker = "BERTH_TEST_SANDBOX=" + (directory.path as NSString).lastPathComponent
    }

    private func next() -> Int { lock.withLock { counter += 1; return counter } }

    /// A container ID unique across parallel tests, remembered for the leftover check.
    public func newID(_ prefix: String = "c") -> String {
        let id = uniqueName(prefix)
        lock.withLock { ids.append(id) }
        return id
    }

    /// The IDs handed out so far.
    public var containerIDs: [String] { lock.withLock { ids } }

    /// Starts `berth --root <stateRoot> ARGS...` without waiting.
    public func spawnBerth(_ arguments: [String], root: String? = nil, extraFiles: [SpawnedProcess.ExtraFile] = []) throws -> SpawnedProcess {
        let n = next()
        var environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        environment.append(marker)
        return try SpawnedProcess(berthPath, ["--root", root ?? stateRoot] + arguments, environment: environment,
                                  stdoutPath: directory.path + "/berth-\(n).out", stderrPath: directory.path + "/berth-\(n).err",
                                  extraFiles: extraFiles)
    }

    /// Runs `berth --root <stateRoot> ARGS...` and waits for it, killing it after `timeout` seconds.
    @discardableResult
    public func berth(_ arguments: String..., timeout: Double = TestTiming.command) async throws -> CommandResult {
        try await berth(arguments, timeout: timeout)
    }

    @discardableResult
    public func berth(_ arguments: [String], root: String? = nil, timeout: Double = TestTiming.command,
                      extraFiles: [SpawnedProcess.ExtraFile] = []) async throws -> CommandResult {
        await CommandGate.shared.enter()
        let process: SpawnedProcess
        do { process = try spawnBerth(arguments, root: root, extraFiles: extraFiles) } catch {
            await CommandGate.shared.leave()
            throw error
        }
        let result = await process.wait(timeout: timeout)
        await CommandGate.shared.leave()
        return result
    }

    /// A bundle whose config.json is `berth spec`'s, with the busybox rootfs, `args` as the
    /// process without a terminal (`berth spec` writes runc's interactive one), the sandbox
    /// marker in the environment, then `edit` applied.
    public func bundle(_ args: [String], name: String? = nil, edit: (inout BundleConfig) throws -> Void = { _ in }) async throws -> TestBundle {
        let path = directory.path + "/" + (name ?? "bundle-\(next())")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let spec = try await berth(["spec", "--bundle", path])
        try #require(spec.succeeded, "berth spec failed: \(spec)")
        let bundle = TestBundle(path: path)
        var config = try bundle.config()
        config["root.path"] = rootfs
        config["process.terminal"] = false
        config.args = args
        config.env = config.env + [marker]
        try edit(&config)
        try bundle.save(config)
        return bundle
    }

    /// A bundle whose config.json another runtime wrote: `runc spec` (or `crun spec`) as it
    /// comes, with only what a user must change: root.path set to the busybox rootfs (runc's is
    /// "rootfs" and read-only), `process.terminal` off, `args` as the process, the sandbox marker
    /// appended to runc's environment. Then `edit`. Tests of behaviour that others' configs
    /// trigger start here rather than from `berth spec`.
    public func foreignBundle(_ generator: ForeignSpec = .runc, _ args: [String], name: String? = nil,
                              edit: (inout BundleConfig) throws -> Void = { _ in }) async throws -> TestBundle {
        let path = directory.path + "/" + (name ?? "\(generator.rawValue)-bundle-\(next())")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let tool = try ForeignSpec.executable(generator.rawValue)
        let process = try SpawnedProcess(tool, ["spec", "--bundle", path], environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                                         stdoutPath: path + "/.spec.out", stderrPath: path + "/.spec.err")
        let result = await process.wait()
        try #require(result.succeeded, "\(generator.rawValue) spec failed: \(result)")
        let bundle = TestBundle(path: path)
        var config = try bundle.config()
        config["root.path"] = rootfs
        config["process.terminal"] = false
        config.args = args
        config.env = config.env + [marker]
        try edit(&config)
        try bundle.save(config)
        return bundle
    }

    /// A bundle whose config.json an engine generated: podman's or containerd's, captured from a
    /// real run (Tests/Fixtures/engine-configs; docs/engines.md says how). What ties it to the
    /// run it came from is replaced: root.path (the busybox rootfs), `args`, the bind sources
    /// (podman's hosts, hostname, .containerenv and shm, made empty in the bundle; /run gets a
    /// tmpfs for the mount point of .containerenv), and the cgroupsPath (berth's default, so
    /// that parallel tests do not share one). What this host
    /// cannot give is lowered: rlimits above this process's hard limits, and limits whose
    /// controller the host lacks (a hybrid host binds them to cgroup v1). Then `edit`.
    public func engineBundle(_ engine: EngineConfig, _ args: [String], name: String? = nil,
                             edit: (inout BundleConfig) throws -> Void = { _ in }) async throws -> TestBundle {
        let path = directory.path + "/" + (name ?? "\(engine.rawValue)-bundle-\(next())")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let data = try Data(contentsOf: URL(fileURLWithPath: engine.fixturePath))
        var config = BundleConfig(json: try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]))
        config["root.path"] = rootfs
        config.args = args
        config.env = config.env + [marker]
        config["linux.cgroupsPath"] = nil
        var mounts = config["mounts"] as? [[String: Any]] ?? []
        for index in mounts.indices where mounts[index]["type"] as? String == "bind" {
            guard let destination = mounts[index]["destination"] as? String else { continue }
            let source = path + "/binds" + destination
            try FileManager.default.createDirectory(atPath: (source as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if destination == "/dev/shm" {
                try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            } else {
                FileManager.default.createFile(atPath: source, contents: Data())
            }
            mounts[index]["source"] = source
        }
        // podman binds /run/.containerenv, whose mount point it makes in the container's own
        // layer; the busybox rootfs is shared (and read-only in the VM), so it goes in a tmpfs.
        if let first = mounts.firstIndex(where: { ($0["destination"] as? String)?.hasPrefix("/run/") == true }) {
            mounts.insert(["destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=755", "size=1m"]], at: first)
        }
        config["mounts"] = mounts
        var rlimits = config["process.rlimits"] as? [[String: Any]] ?? []
        for index in rlimits.indices {
            guard let type = rlimits[index]["type"] as? String, let resource = EngineConfig.rlimitResources[type] else { continue }
            var limit = rlimit()
            getrlimit(__rlimit_resource_t(UInt32(resource)), &limit)
            for key in ["soft", "hard"] {
                if let value = rlimits[index][key] as? UInt64, value > UInt64(limit.rlim_max) { rlimits[index][key] = UInt64(limit.rlim_max) }
            }
        }
        if !rlimits.isEmpty { config["process.rlimits"] = rlimits }
        if var resources = config["linux.resources"] as? [String: Any] {
            for (key, controller) in [("pids", "pids"), ("memory", "memory"), ("cpu", "cpu"), ("blockIO", "io")]
            where !HostCgroup.controllers.contains(controller) {
                resources[key] = nil
            }
            config["linux.resources"] = resources
        }
        try edit(&config)
        let bundle = TestBundle(path: path)
        try bundle.save(config)
        return bundle
    }

    /// `berth state ID` parsed; nil when berth fails (no such container).
    public func state(_ id: String) async throws -> [String: Any]? {
        let result = try await berth("state", id)
        guard result.succeeded else { return nil }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    }

    public func status(_ id: String) async throws -> String? {
        try await state(id)?["status"] as? String
    }

    /// Polls `berth state` until the container reaches `status`; returns the last status seen.
    @discardableResult
    public func waitForStatus(_ id: String, _ status: String, timeout: Double = TestTiming.settle) async throws -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var seen = try await self.status(id)
        // Backing off: each poll is a berth run, which costs a lot under emulation.
        var pause: UInt64 = 5_000_000
        while seen != status && Date() < deadline {
            try await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 200_000_000)
            seen = try await self.status(id)
        }
        return seen
    }

    /// The container's cgroup directory as berth makes it by default: berth/<id> under the cgroup2 mount.
    public func cgroupDirectory(_ id: String) -> String? {
        HostCgroup.mount.map { $0 + "/berth/" + id }
    }

    /// Entries of the state root that name containers. Names with a leading dot can never be
    /// container IDs: those are berth's own (the seccomp filter cache), shared by all containers.
    public var stateEntries: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: stateRoot)) ?? []).filter { !$0.hasPrefix(".") }
    }

    /// What is left of this test: state entries, cgroups of its containers, marked processes.
    public func leftovers() -> [String] {
        var found: [String] = []
        found += stateEntries.map { "state entry \(stateRoot)/\($0)" }
        for id in containerIDs {
            if let cgroup = cgroupDirectory(id), FileManager.default.fileExists(atPath: cgroup) { found.append("cgroup \(cgroup)") }
        }
        found += HostProcesses.carrying(marker).map { "process \($0.pid) (\($0.command))" }
        return found
    }

    /// Kills and removes whatever the test left, so one failure does not spill into others.
    func cleanUp() async {
        for id in stateEntries { _ = try? await berth(["delete", "--force", id]) }
        for process in HostProcesses.carrying(marker) { kill(process.pid, SIGKILL) }
        for id in containerIDs {
            if let cgroup = cgroupDirectory(id), FileManager.default.fileExists(atPath: cgroup) {
                try? "1".write(toFile: cgroup + "/cgroup.kill", atomically: false, encoding: .utf8)
                for _ in 0..<100 where rmdir(cgroup) != 0 { try? await Task.sleep(nanoseconds: 10_000_000) }
            }
        }
        directory.remove()
    }
}

/// Runs `body` in a fresh sandbox, then checks that nothing is left: no state directory entry
/// under its --root, no cgroup of its containers, no process of its containers. The check runs
/// even when `body` fails; the sandbox is cleaned up after it either way.
/// `berthPath` runs another berth binary than the built one (a copy a test may let be attacked).
public func withBerthSandbox(checkLeftovers: Bool = true, berthPath: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
                             _ body: (BerthSandbox) async throws -> Void) async throws {
    let sandbox = try BerthSandbox(berthPath: try berthPath ?? BerthPaths.berth(sourceLocation: sourceLocation),
                                   rootfs: try BerthPaths.busyboxRootfs(sourceLocation: sourceLocation))
    var failure: (any Error)?
    do { try await body(sandbox) } catch { failure = error }
    if checkLeftovers {
        let left = await settledLeftovers(sandbox.leftovers)
        #expect(left.isEmpty, "left behind: \(left.joined(separator: "; "))", sourceLocation: sourceLocation)
    }
    await sandbox.cleanUp()
    if let failure { throw failure }
}

/// What `leftovers` still finds once things had a moment to go: processes killed by a delete or
/// a stop may still be on their way out. Polls until empty or TestTiming.settle has passed.
public func settledLeftovers(_ leftovers: () -> [String]) async -> [String] {
    var left = leftovers()
    let deadline = Date().addingTimeInterval(TestTiming.settle)
    while !left.isEmpty && Date() < deadline {
        try? await Task.sleep(nanoseconds: 20_000_000)
        left = leftovers()
    }
    return left
}

/// The cgroup2 mount of this machine, from /proc/self/mountinfo: /sys/fs/cgroup/unified on a
/// hybrid host, /sys/fs/cgroup in the VM.
public enum HostCgroup {
    /// The controllers the cgroup2 mount offers: none on a hybrid host, all in the VM.
    public static var controllers: Set<String> {
        guard let mount, let text = try? String(contentsOfFile: mount + "/cgroup.controllers", encoding: .utf8) else { return [] }
        return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    public static let mount: String? = {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields.count > 4 else { continue }
            if fields[dash + 1] == "cgroup2" { return String(fields[4]) }
        }
        return nil
    }()
}

/// Processes of the host, read from /proc.
public enum HostProcesses {
    /// Live (not zombie) processes whose environment holds `variable` (`NAME=value`).
    public static func carrying(_ variable: String) -> [(pid: pid_t, command: String)] {
        let needle = Array(variable.utf8) + [0]
        var found: [(pid_t, String)] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name), pid != getpid(), isAlive(pid) else { continue }
            guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let bytes = [UInt8](environ)
            if bytes.starts(with: needle) || bytes.containsSubsequence([0] + needle) {
                found.append((pid, command(pid)))
            }
        }
        return found
    }

    /// True while `pid` exists and is not a zombie.
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].dropFirst().first
        return state != "Z" && state != "X"
    }

    public static func command(_ pid: pid_t) -> String {
        let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
        return String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "\0", with: " ").trimmingCharacters(in: .whitespaces)
    }

    /// Polls until `pid` is gone or a zombie; false on timeout.
    public static func waitGone(_ pid: pid_t, timeout: Double = TestTiming.settle) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while isAlive(pid) {
            if Date() > deadline { return false }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return true
    }
}

extension Array where Element == UInt8 {
    fileprivate func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if self[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass; returns its last value.
public func eventually(timeout: Double = TestTiming.settle, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try await condition() { return true }
        if Date() > deadline { return false }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
}
