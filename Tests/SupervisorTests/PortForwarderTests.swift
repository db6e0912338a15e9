import BerthCore
import CShim
import Foundation
import Glibc
import Linux
@testable import Supervisor
import SupervisorAPI
import Testing
import TestSupport

/// The forwarder on its own, driven by a loop like the supervisor's on a thread of its own, in
/// front of test servers: bytes arrive intact, half-close and resets cross it, new connections
/// follow the target while open ones stay, and nothing stays open afterwards.
@Suite(.serialized)
struct PortForwarderTests {
    /// A forwarder for one mapping to `containerPort`, listening on a free loopback port.
    final class Running: @unchecked Sendable {
        let forwarder: PortForwarder
        let port: UInt16
        private let lock = NSLock()
        private var stopped = false
        private let done = DispatchSemaphore(value: 0)

        init(containerPort: UInt16, target: PortForwarder.Target? = PortForwarder.Target(version: 1, netns: nil)) throws {
            let listeners = try PortForwarder.bind([PortMapping(address: "127.0.0.1", hostPort: 0, containerPort: containerPort)])
            port = UInt16(berth_socket_port(listeners[0].fd.rawValue))
            forwarder = try PortForwarder(listeners: listeners)
            forwarder.target = target
            Thread.detachNewThread { [self] in loop() }
        }

        private func loop() {
            while lock.withLock({ !stopped }) {
                var entries: [pollfd] = []
                lock.withLock { forwarder.watch(&entries) }
                _ = Glibc.poll(&entries, nfds_t(entries.count), 10)
                lock.withLock {
                    forwarder.handle(entries)
                    forwarder.fireTimers(now: monotonicNanoseconds())
                }
            }
            forwarder.closeAll()
            done.signal()
        }

        func withForwarder<T>(_ body: (PortForwarder) -> T) -> T { lock.withLock { body(forwarder) } }

        /// Waits until the forwarder holds no connection, for at most `seconds`.
        func waitUntilIdle(seconds: Double = 10) -> Int {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if withForwarder({ $0.connectionCount }) == 0 { return 0 }
                usleep(10_000)
            }
            return withForwarder { $0.connectionCount }
        }

        func stop() {
            lock.withLock { stopped = true }
            done.wait()
        }
    }

    /// A server on its own thread: `serve` runs for each accepted connection on a new thread.
    static func server(_ listener: TCPSocket, serve: @escaping @Sendable (TCPSocket) -> Void) {
        Thread.detachNewThread {
            while let client = try? listener.accept() {
                Thread.detachNewThread { serve(client) }
            }
        }
    }

    static func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    @Test func halfCloseIsCarriedAndTheAnswerStillArrives() throws {
        let upstream = try TCPSocket.listen()
        // Reads to end of file, then answers: only possible when the client's half-close came
        // through as an EOF and the other direction stayed open.
        Self.server(upstream) { client in
            let received = (try? client.receiveAll()) ?? []
            try? client.send("got \(received.count) bytes")
            client.close()
        }
        let forward = try Running(containerPort: upstream.port)
        defer { forward.stop(); upstream.close() }
        let client = try TCPSocket.connect(port: forward.port)
        try client.send(Self.pattern(1 << 20, seed: 1))
        client.shutdownWrite()
        #expect(String(decoding: try client.receiveAll(), as: UTF8.self) == "got 1048576 bytes")
        client.close()
        #expect(forward.waitUntilIdle() == 0)
    }

    @Test func oneHundredMegabytesArriveIntact() throws {
        let size = 100 << 20
        let block = Self.pattern(1 << 20, seed: 7)
        let upstream = try TCPSocket.listen()
        Self.server(upstream) { client in
            for index in 0..<(size >> 20) {
                var chunk = block
                chunk[0] = UInt8(truncatingIfNeeded: index)
                guard (try? client.send(chunk)) != nil else { break }
            }
            client.close()
        }
        let forward = try Running(containerPort: upstream.port)
        defer { forward.stop(); upstream.close() }
        let client = try TCPSocket.connect(port: forward.port)
        var expected = Hasher64(), actual = Hasher64()
        var total = 0
        // Read first: hashing 100 MB before reading kept the server blocked past its 10 s send
        // timeout on a loaded host, and it hung up after 9.7 MB.
        while case let chunk = try client.receive(upTo: 1 << 18), !chunk.isEmpty {
            actual.add(chunk)
            total += chunk.count
        }
        for index in 0..<(size >> 20) {
            var chunk = block
            chunk[0] = UInt8(truncatingIfNeeded: index)
            expected.add(chunk)
        }
        #expect(total == size)
        #expect(actual.value == expected.value)
    }

    @Test func aServerResetResetsTheClient() throws {
        let upstream = try TCPSocket.listen()
        Self.server(upstream) { client in
            _ = try? client.receive(upTo: 1)
            client.reset()
        }
        let forward = try Running(containerPort: upstream.port)
        defer { forward.stop(); upstream.close() }
        let client = try TCPSocket.connect(port: forward.port)
        try client.send("x")
        #expect(throws: TCPSocket.Failure.self) {
            // A clean end of file would be the wrong answer: it would look like a whole reply.
            _ = try client.receiveAll()
        }
        #expect(forward.waitUntilIdle() == 0)
    }

    @Test func aClientResetResetsTheServer() throws {
        let upstream = try TCPSocket.listen()
        let outcome = Outcome()
        Self.server(upstream) { client in
            do {
                _ = try client.receiveAll()
                outcome.set("end of file")
            } catch let failure as TCPSocket.Failure {
                outcome.set(failure.errno == ECONNRESET ? "reset" : failure.description)
            } catch {
                outcome.set("\(error)")
            }
        }
        let forward = try Running(containerPort: upstream.port)
        defer { forward.stop(); upstream.close() }
        let client = try TCPSocket.connect(port: forward.port)
        try client.send("x")
        usleep(100_000)
        client.reset()
        #expect(outcome.wait() == "reset")
        #expect(forward.waitUntilIdle() == 0)
    }

    @Test func aThousandShortConnectionsLeaveNothingOpen() throws {
        let upstream = try TCPSocket.listen()
        Self.server(upstream) { client in
            if let bytes = try? client.receive(upTo: 16), !bytes.isEmpty { try? client.send(bytes) }
            client.close()
        }
        let forward = try Running(containerPort: upstream.port)
        defer { forward.stop(); upstream.close() }
        var answered = 0
        for index in 0..<1000 {
            let client = try TCPSocket.connect(port: forward.port)
            try client.send("\(index % 10)")
            if try client.receiveAll() == Array("\(index % 10)".utf8) { answered += 1 }
            client.close()
        }
        #expect(answered == 1000)
        #expect(forward.waitUntilIdle() == 0)
    }

    @Test func aRefusedConnectIsRetriedUntilTheServerListens() throws {
        // A free port with nobody on it yet, as while a container starts.
        let probe = try TCPSocket.listen()
        let port = probe.port
        probe.close()
        let forward = try Running(containerPort: port)
        defer { forward.stop() }
        let client = try TCPSocket.connect(port: forward.port)
        try client.send("hello")
        client.shutdownWrite()
        usleep(300_000)
        let upstream = try TCPSocket.listen("127.0.0.1", port)
        defer { upstream.close() }
        Self.server(upstream) { server in
            let bytes = (try? server.receiveAll()) ?? []
            try? server.send(bytes.reversed())
            server.close()
        }
        #expect(String(decoding: try client.receiveAll(), as: UTF8.self) == "olleh")
    }

    @Test func newConnectionsFollowTheTargetWhileOpenOnesStay() throws {
        let first = try NetworkNamespace(), second = try NetworkNamespace()
        defer { first.remove(); second.remove() }
        try first.serveLines(port: 80, answer: "v1")
        try second.serveLines(port: 80, answer: "v2")
        let forward = try Running(containerPort: 80, target: PortForwarder.Target(version: 1, netns: first.descriptor))
        defer { forward.stop() }

        let old = try TCPSocket.connect(port: forward.port)
        try old.send("a\n")
        #expect(String(decoding: try old.receive(exactly: 5), as: UTF8.self) == "v1 a\n")
        forward.withForwarder { $0.target = PortForwarder.Target(version: 2, netns: second.descriptor) }

        let new = try TCPSocket.connect(port: forward.port)
        try new.send("b\n")
        #expect(String(decoding: try new.receive(exactly: 5), as: UTF8.self) == "v2 b\n")
        try old.send("c\n")
        #expect(String(decoding: try old.receive(exactly: 5), as: UTF8.self) == "v1 c\n")
        #expect(forward.withForwarder { $0.connectionCount(version: 1) } == 1)
        #expect(forward.withForwarder { $0.connectionCount(version: 2) } == 1)

        // The drain deadline: what is left on the old version is reset, the new one untouched.
        forward.withForwarder { $0.resetConnections(version: 1) }
        #expect(throws: TCPSocket.Failure.self) { _ = try old.receiveAll() }
        try new.send("d\n")
        #expect(String(decoding: try new.receive(exactly: 5), as: UTF8.self) == "v2 d\n")
    }

    @Test func aPortInUseIsRefusedNamingIt() throws {
        let taken = try TCPSocket.listen()
        defer { taken.close() }
        #expect(throws: BerthError.self) {
            _ = try PortForwarder.bind([PortMapping(address: "127.0.0.1", hostPort: 1, containerPort: 80),
                                        PortMapping(address: "127.0.0.1", hostPort: taken.port, containerPort: 80)])
        }
        do {
            _ = try PortForwarder.bind([PortMapping(address: "127.0.0.1", hostPort: taken.port, containerPort: 80)])
        } catch {
            #expect(error.description.contains("-p \(taken.port):80"))
            #expect(error.description.contains("address already in use"))
        }
    }
}

/// A value set once by another thread.
final class Outcome: @unchecked Sendable {
    private let ready = DispatchSemaphore(value: 0)
    private var value: String?

    func set(_ text: String) {
        value = text
        ready.signal()
    }

    func wait(seconds: Int = 10) -> String? {
        ready.wait(timeout: .now() + .seconds(seconds)) == .success ? value : nil
    }
}

/// FNV-1a over a stream of chunks.
struct Hasher64 {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ bytes: [UInt8]) {
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x100_0000_01b3
        }
    }
}

/// A network namespace with loopback up, held by a sleeping `unshare -n`, and line servers
/// whose listening sockets are made inside it by a thread that joined it.
final class NetworkNamespace: @unchecked Sendable {
    let holder: Process
    let descriptor: FileDescriptor

    init() throws {
        holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        holder.arguments = ["-n", "sh", "-c", "ip link set lo up && echo ready && exec sleep 300"]
        let output = Pipe()
        holder.standardOutput = output
        try holder.run()
        let line = output.fileHandleForReading.readData(ofLength: 6)
        guard String(decoding: line, as: UTF8.self) == "ready\n" else { throw TCPSocket.Failure(call: "unshare -n", errno: EIO) }
        descriptor = try FileDescriptor.open("/proc/\(holder.processIdentifier)/ns/net", O_RDONLY | O_CLOEXEC)
    }

    /// Answers each line on `port` with "ANSWER LINE".
    func serveLines(port: UInt16, answer: String) throws {
        let ready = Outcome()
        Thread.detachNewThread { [descriptor] in
            // setns changes only this thread's namespace; the socket keeps it for life.
            guard berth_setns(descriptor.rawValue, 0x4000_0000) == 0, let listener = try? TCPSocket.listen("127.0.0.1", port) else {
                ready.set("failed")
                return
            }
            ready.set("ok")
            PortForwarderTests.server(listener) { client in
                var pending: [UInt8] = []
                while let bytes = try? client.receive(), !bytes.isEmpty {
                    pending += bytes
                    while let newline = pending.firstIndex(of: 10) {
                        let line = String(decoding: pending[..<newline], as: UTF8.self)
                        pending.removeSubrange(...newline)
                        try? client.send("\(answer) \(line)\n")
                    }
                }
                client.close()
            }
        }
        guard ready.wait() == "ok" else { throw TCPSocket.Failure(call: "listen in namespace", errno: EIO) }
    }

    func remove() {
        holder.terminate()
        holder.waitUntilExit()
        descriptor.close()
    }
}
