import Foundation
import Glibc
import TestSupport
import Testing

/// sd_notify through a container (NOTIFY_SOCKET), as runc does: a datagram socket of the test
/// plays systemd's. The container's process sends with `berth-attack notify` (busybox cannot).
@Suite(.timeLimit(.minutes(5)))
struct NotifySocketIntegrationTests {
    /// systemd's end: a datagram socket bound in the sandbox, read without blocking.
    final class Listener {
        let fd: Int32
        let path: String

        init(_ s: BerthSandbox) throws {
            path = s.directory.path + "/host-notify-\(s.newID("n")).sock"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            try #require(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (index, byte) in bytes.enumerated() { raw[index] = byte } }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(fd >= 0 && bound == 0, "bind \(path): \(String(cString: strerror(errno)))")
        }

        deinit { close(fd) }

        /// The next datagram, or nil after `timeout` seconds. A descriptor sent with it (the
        /// barrier's pipe) is dropped, so closed, as systemd closes it once it has caught up.
        func next(timeout: Double = TestTiming.settle) async -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if count >= 0 { return String(decoding: buffer.prefix(count), as: UTF8.self) }
                try? await Task.sleep(nanoseconds: 5_000_000)
            }
            return nil
        }
    }

    /// `berth ARGS...` with NOTIFY_SOCKET set, not waited for.
    static func spawn(_ s: BerthSandbox, _ listener: Listener, _ arguments: [String]) throws -> SpawnedProcess {
        let n = s.newID("out")
        var environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        environment += [s.marker, "NOTIFY_SOCKET=" + listener.path]
        return try SpawnedProcess(s.berthPath, ["--root", s.stateRoot] + arguments, environment: environment,
                                  stdoutPath: s.directory.path + "/\(n).out", stderrPath: s.directory.path + "/\(n).err")
    }

    /// A bundle running `script` with berth-attack at /tmp/attack and a tmpfs at /run for
    /// /run/notify (the shared rootfs stays untouched).
    static func bundle(_ s: BerthSandbox, _ script: String) async throws -> TestBundle {
        let helper = try await AttackHelper.directory()
        return try await s.bundle(["sh", "-c", script]) { config in
            config.bindUnderTmp(helper, at: "/tmp/attack", options: ["rbind", "ro"])
            config.addMount(destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=755", "size=1m"])
        }
    }

    /// `run -d` returns once the process said READY=1: what it sent before is relayed as it
    /// came, then MAINPID (the init's) and BARRIER=1, whose pipe berth waits on.
    @Test func runDetachedRelaysUntilReadyThenTheMainPidAndABarrier() async throws {
        try await withBerthSandbox { s in
            let listener = try Listener(s)
            let bundle = try await Self.bundle(s, "/tmp/attack/berth-attack notify STATUS=starting READY=1 && exec sleep 1000")
            let id = s.newID()
            let run = try Self.spawn(s, listener, ["run", "--detach", "--bundle", bundle.path, id])
            var messages: [String] = []
            // The first message waits for the whole create and start: a command's bound, not settle's.
            while messages.last != "BARRIER=1", let message = await listener.next(timeout: messages.isEmpty ? TestTiming.command : TestTiming.settle) {
                messages.append(message)
                // berth waits for the barrier's pipe to close: it cannot be done before we read it.
                if message.hasPrefix("MAINPID=") { #expect(!run.poll(), "berth returned before the barrier") }
            }
            let result = await run.wait()
            #expect(result.succeeded, "\(result)")
            let pid = try await s.state(id)?["pid"] as? Int
            #expect(messages == ["STATUS=starting", "READY=1", "MAINPID=\(pid ?? -1)\n", "BARRIER=1"], "\(result)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    /// `create` prepares the socket's directory, `start` binds it, lets the process run and
    /// returns once it said READY=1, as runc's start.
    @Test func startWaitsForReady() async throws {
        try await withBerthSandbox { s in
            let listener = try Listener(s)
            let bundle = try await Self.bundle(s, "sleep 1; /tmp/attack/berth-attack notify READY=1 && exec sleep 1000")
            let id = s.newID()
            let create = try await Self.spawn(s, listener, ["create", "--bundle", bundle.path, id]).wait()
            try #require(create.succeeded, "\(create)")
            let start = try Self.spawn(s, listener, ["start", id])
            #expect(await listener.next(timeout: TestTiming.command) == "READY=1")
            #expect(!start.poll(), "start returned before the barrier")
            let pid = try await s.state(id)?["pid"] as? Int
            #expect(await listener.next() == "MAINPID=\(pid ?? -1)\n")
            #expect(await listener.next() == "BARRIER=1")
            let result = await start.wait()
            #expect(result.succeeded, "\(result)")
            #expect(try await s.status(id) == "running")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    /// The process finds the socket at runc's path, writable by anyone; one that never says
    /// READY does not keep berth waiting once it ends.
    @Test func theProcessSeesTheSocketAtRuncsPath() async throws {
        try await withBerthSandbox { s in
            let listener = try Listener(s)
            let bundle = try await Self.bundle(s, "echo $NOTIFY_SOCKET; stat -c '%A' $NOTIFY_SOCKET; grep -c ' /run/notify ' /proc/self/mountinfo")
            let result = await (try Self.spawn(s, listener, ["run", "--bundle", bundle.path, s.newID()])).wait()
            #expect(result.succeeded, "\(result)")
            #expect(result.stdout == "/run/notify/notify.sock\nsrwxrwxrwx\n1\n", "\(result)")
            #expect(await listener.next(timeout: 0.2) == nil)
        }
    }
}
