import Foundation
import Glibc
import Testing
import TestSupport

// The harness for tests that drive the real `ctr`: a sandbox with its own --root, unique
// service names, a marker in the environment of ctr (and so of every supervisor, which is a
// fork of ctr) and of every container, and a leftover check that runs even when a test fails.

enum CtrPaths {
    /// The `ctr` next to the running test binary, else .build/debug/ctr.
    static func ctr(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((exe as NSString).deletingLastPathComponent + "/ctr")
        }
        candidates.append(BerthPaths.repositoryRoot + "/.build/debug/ctr")
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
        return try #require(found, "no ctr binary at \(candidates.joined(separator: " or ")): run 'swift build' first",
                            sourceLocation: sourceLocation)
    }
}

/// One test's world: a temp directory holding the --root, and what the test started.
final class CtrSandbox: @unchecked Sendable {
    let directory: TemporaryDirectory
    let root: String
    let ctrPath: String
    let rootfs: String
    /// In the environment of ctr, its supervisors and (through -e) every container: a process
    /// still carrying it at the end is a leftover of this test.
    let marker: String
    private let lock = NSLock()
    private var counter = 0
    private var seenIDs: Set<String> = []

    init() throws {
        directory = try TemporaryDirectory("ctr-it")
        root = directory.path + "/state"
        ctrPath = try CtrPaths.ctr()
        rootfs = try BerthPaths.busyboxRootfs()
        marker = "BERTH_TEST_SANDBOX=" + (directory.path as NSString).lastPathComponent
    }

    private func next() -> Int { lock.withLock { counter += 1; return counter } }

    func newName(_ prefix: String = "svc") -> String { "\(prefix)-\(next())-\(UInt16.random(in: 0...UInt16.max))" }

    /// `ctr --root ROOT ARGS...` started without waiting. `run` gets the marker as -e.
    /// `stdin` replaces /dev/null as its descriptor 0 (a file, a fifo, a pts).
    func spawn(_ arguments: [String], stdin: SpawnedProcess.ExtraFile? = nil) throws -> SpawnedProcess {
        var arguments = arguments
        if arguments.first == "run" { arguments.insert(contentsOf: ["-e", marker], at: 1) }
        let n = next()
        var environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        environment.append(marker)
        return try SpawnedProcess(ctrPath, ["--root", root] + arguments, environment: environment,
                                  stdoutPath: directory.path + "/ctr-\(n).out", stderrPath: directory.path + "/ctr-\(n).err",
                                  extraFiles: stdin.map { [$0] } ?? [])
    }

    @discardableResult
    func ctr(_ arguments: String..., timeout: Double = TestTiming.command) async throws -> CommandResult {
        try await ctr(arguments, timeout: timeout)
    }

    @discardableResult
    func ctr(_ arguments: [String], stdin: SpawnedProcess.ExtraFile? = nil, timeout: Double = TestTiming.command) async throws -> CommandResult {
        let process = try spawn(arguments, stdin: stdin)
        let result = await process.wait(timeout: timeout)
        rememberIDs()
        return result
    }

    /// The service names under the root (dot entries are ctr's own caches).
    var serviceEntries: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// A service's status.json, parsed.
    func status(_ name: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: "\(root)/\(name)/status.json") else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    func state(_ name: String) -> String? { status(name)?["state"] as? String }

    func pid(_ name: String, _ key: String = "pid") -> pid_t? { (status(name)?[key] as? Int).map { pid_t($0) } }

    /// Polls status.json until the service is in `state`.
    @discardableResult
    func waitForState(_ name: String, _ state: String, timeout: Double = TestTiming.settle) async -> Bool {
        await eventually(timeout: timeout) { self.state(name) == state }
    }

    /// Container ids from the service definitions, kept so that their cgroups can be checked
    /// after the services are removed.
    private func rememberIDs() {
        for name in serviceEntries {
            guard let data = FileManager.default.contents(atPath: "\(root)/\(name)/service.json"),
                  let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                  let id = object["id"] as? String else { continue }
            _ = lock.withLock { seenIDs.insert(id) }
        }
    }

    var ids: Set<String> { lock.withLock { seenIDs } }

    func cgroupDirectory(_ id: String) -> String? { HostCgroup.mount.map { $0 + "/ctr/" + id } }

    /// What is left: service directories, control sockets, cgroups of its containers, marked processes.
    func leftovers() -> [String] {
        rememberIDs()
        var found = serviceEntries.map { "service directory \(root)/\($0)" }
        for id in ids {
            if let cgroup = cgroupDirectory(id), FileManager.default.fileExists(atPath: cgroup) { found.append("cgroup \(cgroup)") }
        }
        found += HostProcesses.carrying(marker).map { "process \($0.pid) (\($0.command))" }
        return found
    }

    /// Kills and removes whatever the test left, so that one failure does not spill into others.
    func cleanUp() async {
        rememberIDs()
        for name in serviceEntries {
            if let supervisor = pid(name, "supervisorPid"), supervisor > 0, HostProcesses.isAlive(supervisor) { kill(supervisor, SIGKILL) }
        }
        for process in HostProcesses.carrying(marker) { kill(process.pid, SIGKILL) }
        for id in ids {
            guard let cgroup = cgroupDirectory(id), FileManager.default.fileExists(atPath: cgroup) else { continue }
            try? "1".write(toFile: cgroup + "/cgroup.kill", atomically: false, encoding: .utf8)
            for _ in 0..<100 where rmdir(cgroup) != 0 { try? await Task.sleep(nanoseconds: 10_000_000) }
        }
        directory.remove()
    }
}

/// Runs `body` in a fresh sandbox, then checks that nothing is left (no service directory,
/// socket, cgroup or process of the test), and cleans up either way.
func withCtrSandbox(sourceLocation: SourceLocation = #_sourceLocation, _ body: (CtrSandbox) async throws -> Void) async throws {
    let sandbox = try CtrSandbox()
    var failure: (any Error)?
    do { try await body(sandbox) } catch { failure = error }
    let left = await settledLeftovers(sandbox.leftovers)
    #expect(left.isEmpty, "left behind: \(left.joined(separator: "; "))", sourceLocation: sourceLocation)
    await sandbox.cleanUp()
    if let failure { throw failure }
}
