import Foundation
import Glibc
import TestSupport
import Testing

/// Terminals through --console-socket, as engines use them: berth sends the pty master over the
/// socket and the process gets the pts as its controlling terminal. The receiving end is a small
/// python3 script standing in for containerd's shim or conmon. And in the foreground without a
/// socket, as users use them: berth proxies the pty to its own terminal (a test-made pty here).
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
        // Only a bound for a hung shell: the receiver ends when the process does.
        process.arguments = ["python3", "-c", receiver, socket, input, String(max(120, 30 * TestTiming.scale))]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // python3 alone takes seconds to start in the emulated VM while other suites run.
        for _ in 0..<Int(500 * TestTiming.scale) where !FileManager.default.fileExists(atPath: socket + ".ready") { usleep(10_000) }
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

    /// `berth ARGS...` on a terminal of the test's: the pts is its stdin, its stdout a file.
    /// Returns once berth has put the terminal in raw mode, which it does just before it proxies.
    static func spawnOnTerminal(_ s: BerthSandbox, _ terminal: TestTerminal, _ arguments: [String]) async throws -> SpawnedProcess {
        let before = terminal.localModes
        try #require(before & tcflag_t(ICANON) != 0)
        let process = try s.spawnBerth(arguments, extraFiles: [terminal.stdin])
        let raw = await eventually(timeout: TestTiming.settle) { terminal.localModes & tcflag_t(ICANON | ECHO) == 0 }
        if !raw {
            process.kill()
            let result = await process.wait(timeout: 1)
            Issue.record("berth did not put its terminal in raw mode: \(result)")
            throw CancellationError()
        }
        return process
    }

    @Test func runOfARuncSpecBundleWithATerminalGivesAShell() async throws {
        try await withBerthSandbox { s in
            // `runc spec` as it comes (terminal true, `sh`): what a user runs first.
            let bundle = try await s.foreignBundle(.runc, ["sh"]) { $0["process.terminal"] = true }
            let terminal = try TestTerminal(rows: 30, columns: 100)
            let before = terminal.localModes
            let run = try await Self.spawnOnTerminal(s, terminal, ["run", "--bundle", bundle.path, s.newID()])
            terminal.type("stty size; tty; echo hi; exit 3\r")
            let result = await run.wait(timeout: TestTiming.command)
            #expect(result.status == 3, "\(result)")
            #expect(result.stdout.contains("\nhi\r\n"), "\(result)")
            #expect(result.stdout.contains("30 100"), "the window size of berth's terminal: \(result)")
            #expect(result.stdout.contains("/dev/pts/0"), "a pts of the container's devpts: \(result)")
            #expect(terminal.localModes == before, "berth should restore its terminal's mode")
            #expect(s.stateEntries.isEmpty, "run without --keep deletes the container")
        }
    }

    @Test func runOnATerminalPassesWindowChanges() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh"]) { $0["process.terminal"] = true }
            let terminal = try TestTerminal(rows: 24, columns: 80)
            let before = terminal.localModes
            let run = try await Self.spawnOnTerminal(s, terminal, ["run", "--bundle", bundle.path, s.newID()])
            terminal.resize(rows: 40, columns: 120)
            // A terminal emulator's resize reaches the foreground group; berth runs in its own here.
            kill(run.pid, SIGWINCH)
            terminal.type("stty size\r")
            #expect(await eventually(timeout: TestTiming.settle) { run.stdoutSoFar.contains("40 120") }, "\(run.stdoutSoFar)")
            terminal.type("exit 0\r")
            let result = await run.wait(timeout: TestTiming.command)
            #expect(result.status == 0, "\(result)")
            #expect(terminal.localModes == before, "berth should restore its terminal's mode")
        }
    }

    @Test func execWithTtyWithoutAConsoleSocketProxiesTheTerminal() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let terminal = try TestTerminal(rows: 25, columns: 91)
            let before = terminal.localModes
            let exec = try await Self.spawnOnTerminal(s, terminal, ["exec", "-t", id, "sh"])
            terminal.type("stty size; test -t 0 && echo stdin-is-a-tty; exit 4\r")
            let result = await exec.wait(timeout: TestTiming.command)
            #expect(result.status == 4, "\(result)")
            #expect(result.stdout.contains("25 91"), "\(result)")
            #expect(result.stdout.contains("stdin-is-a-tty"), "\(result)")
            #expect(terminal.localModes == before, "berth should restore its terminal's mode")
            // A forwarded signal ends a process that is not the container's pid 1: 128 + 15.
            let terminal2 = try TestTerminal(rows: 25, columns: 91)
            let sleeper = try await Self.spawnOnTerminal(s, terminal2, ["exec", "-t", id, "sleep", "1000"])
            kill(sleeper.pid, SIGTERM)
            let ended = await sleeper.wait(timeout: TestTiming.command)
            #expect(ended.status == 143, "\(ended)")
            #expect(terminal2.localModes & tcflag_t(ICANON) != 0, "restored after a signal")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test func aDetachedTerminalWithoutAConsoleSocketIsRefused() async throws {
        try await withBerthSandbox { s in
            // As runc: nobody would hold the master of a detached container's terminal.
            let bundle = try await s.bundle(["sh"]) { $0["process.terminal"] = true }
            let run = try await s.berth("run", "--detach", "--bundle", bundle.path, s.newID())
            #expect(run.status == 1, "\(run)")
            #expect(run.errorLine.contains("--console-socket"), "\(run)")
            let running = try await s.bundle(["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", running.path, id).succeeded)
            let exec = try await s.berth("exec", "--detach", "--tty", id, "sh")
            // 255, as runc's exec fails (measured: "cannot allocate tty if runc will detach ...").
            #expect(exec.status == 255, "\(exec)")
            #expect(exec.errorLine.contains("--console-socket"), "\(exec)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }
}
