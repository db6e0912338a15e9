import Foundation
import Glibc
import TestSupport
import Testing

/// Terminals through --console-socket, as engines use them: berth sends the pty master over the
/// socket and the process gets the pts as its controlling terminal. The receiving end is a small
/// python3 script standing in for containerd's shim or conmon.
@Suite(.timeLimit(.minutes(5)))
struct TerminalIntegrationTests {
    /// Receives the master, types `input` into it, and prints what the terminal shows.
    static let receiver = """
        import os, select, socket, sys, time
        path, input = sys.argv[1], sys.argv[2]
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path); server.listen(1)
        open(path + ".ready", "w").close()
        connection, _ = server.accept()
        message, fds, _, _ = socket.recv_fds(connection, 1024, 1)
        print("name=" + message.decode(), flush=True)
        master = fds[0]
        os.write(master, input.encode())
        output, deadline = b"", time.time() + float(sys.argv[3])
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try: chunk = os.read(master, 4096)
                except OSError: break
                if not chunk: break
                output += chunk
        sys.stdout.write(output.decode(errors="replace"))
        """

    /// Starts the receiver on a socket in the sandbox and waits until it listens.
    static func startReceiver(_ s: BerthSandbox, input: String) throws -> (socket: String, process: Process, output: Pipe) {
        let socket = s.directory.path + "/console-\(UInt32.random(in: 0...UInt32.max)).sock"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", receiver, socket, input, String(30 * TestTiming.scale)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: socket + ".ready") { usleep(10_000) }
        try #require(FileManager.default.fileExists(atPath: socket + ".ready"), "the console receiver did not start")
        return (socket, process, output)
    }

    static func finish(_ receiver: (socket: String, process: Process, output: Pipe)) -> String {
        receiver.process.waitUntilExit()
        return String(decoding: receiver.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    @Test func createSendsThePtyMasterAndTheProcessRunsOnItsTerminal() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh"]) {
                $0["process.terminal"] = true
                $0["process.consoleSize"] = ["height": 30, "width": 100]
            }
            let receiver = try Self.startReceiver(s, input: "tty; stty size; exit 5\n")
            let id = s.newID()
            let create = try await s.berth("create", "--console-socket", receiver.socket, "--bundle", bundle.path, id)
            try #require(create.succeeded, "\(create)")
            #expect(try await s.berth("start", id).succeeded)
            let output = Self.finish(receiver)
            #expect(output.contains("name=/dev/pts/0"), "\(output)")
            #expect(output.contains("\n/dev/pts/0"), "tty should name the container's pts: \(output)")
            #expect(output.contains("30 100"), "the console size should be applied: \(output)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test func execWithTtyGetsItsOwnTerminalAndExitStatus() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let receiver = try Self.startReceiver(s, input: "tty; exit 4\n")
            let exec = try await s.berth("exec", "--tty", "--console-socket", receiver.socket, id, "sh")
            #expect(exec.status == 4, "\(exec)")
            let output = Self.finish(receiver)
            #expect(output.contains("\n/dev/pts/"), "\(output)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test func aTerminalWithoutAConsoleSocketIsRefusedByName() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh"]) { $0["process.terminal"] = true }
            let create = try await s.berth("create", "--bundle", bundle.path, s.newID())
            #expect(create.status != 0)
            #expect(create.errorLine.contains("process.terminal"), "\(create)")
        }
    }

    @Test func aConsoleSocketWithoutATerminalIsRefused() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            let create = try await s.berth("create", "--console-socket", s.directory.path + "/none.sock", "--bundle", bundle.path, s.newID())
            #expect(create.status != 0)
            #expect(create.errorLine.contains("--console-socket"), "\(create)")
        }
    }
}
