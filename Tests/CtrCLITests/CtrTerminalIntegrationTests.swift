import Foundation
import Glibc
import Testing
import TestSupport

/// `-t` and `-i` of ctr exec and ctr run, against the real ctr: a terminal in the container,
/// ctr's window size and raw mode, stdin passed through or /dev/null.
@Suite(.timeLimit(.minutes(5)))
struct CtrTerminalIntegrationTests {
    /// A file in the sandbox holding `text`, to be ctr's stdin.
    static func input(_ s: CtrSandbox, _ text: String) throws -> SpawnedProcess.ExtraFile {
        let path = s.directory.path + "/stdin-\(UInt32.random(in: 0...UInt32.max))"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return SpawnedProcess.ExtraFile(0, path)
    }

    static func startService(_ s: CtrSandbox) async throws -> String {
        let name = s.newName("term")
        let run = try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "sleep", "1000")
        try #require(run.succeeded, "\(run)")
        return name
    }

    static func remove(_ s: CtrSandbox, _ name: String) async throws {
        #expect(try await s.ctr("rm", "-f", name).succeeded)
    }

    @Test func execWithTtyRunsOnATerminalAndReturnsTheStatus() async throws {
        try await withCtrSandbox { s in
            let name = try await Self.startService(s)
            let exec = try await s.ctr("exec", "-t", name, "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; exit 3")
            #expect(exec.status == 3, "\(exec)")
            #expect(exec.stdout.contains("/dev/pts/"), "\(exec)")
            #expect(exec.stdout.contains("stdin-is-a-tty"), "\(exec)")
            try await Self.remove(s, name)
        }
    }

    @Test func execWithTtyTakesTheWindowSizeOfCtrsTerminal() async throws {
        try await withCtrSandbox { s in
            let name = try await Self.startService(s)
            let terminal = try TestTerminal(rows: 30, columns: 100)
            let exec = try await s.ctr(["exec", "-t", name, "stty", "size"], stdin: terminal.stdin)
            #expect(exec.succeeded, "\(exec)")
            #expect(exec.stdout.contains("30 100"), "\(exec)")
            try await Self.remove(s, name)
        }
    }

    @Test func execInteractiveTtyTypesIntoTheContainerAndRestoresTheTerminal() async throws {
        try await withCtrSandbox { s in
            let name = try await Self.startService(s)
            let terminal = try TestTerminal(rows: 24, columns: 90)
            let before = terminal.localModes
            #expect(before & tcflag_t(ICANON) != 0)
            let process = try s.spawn(["exec", "-it", name, "sh"], stdin: terminal.stdin)
            // Raw mode: ctr turned canonical input and echo off on its terminal.
            #expect(await eventually(timeout: TestTiming.settle) { terminal.localModes & tcflag_t(ICANON | ECHO) == 0 })
            terminal.type("stty size; echo typed-$((6 * 7)); exit 7\r")
            let exec = await process.wait(timeout: TestTiming.command)
            #expect(exec.status == 7, "\(exec)")
            #expect(exec.stdout.contains("24 90"), "\(exec)")
            #expect(exec.stdout.contains("typed-42"), "\(exec)")
            #expect(terminal.localModes == before, "ctr should restore its terminal's mode")
            try await Self.remove(s, name)
        }
    }

    @Test func execInteractivePassesStdinUntilItsEnd() async throws {
        try await withCtrSandbox { s in
            let name = try await Self.startService(s)
            let exec = try await s.ctr(["exec", "-i", name, "cat"], stdin: try Self.input(s, "line one\nline two\n"))
            #expect(exec.succeeded, "\(exec)")
            #expect(exec.stdout == "line one\nline two\n", "\(exec)")
            try await Self.remove(s, name)
        }
    }

    @Test func execWithoutInteractiveReadsDevNull() async throws {
        try await withCtrSandbox { s in
            let name = try await Self.startService(s)
            let exec = try await s.ctr(["exec", name, "sh", "-c", "cat; echo end"], stdin: try Self.input(s, "not for the container\n"))
            #expect(exec.succeeded, "\(exec)")
            #expect(exec.stdout == "end\n", "\(exec)")
            try await Self.remove(s, name)
        }
    }

    @Test func execDetachedWithATerminalIsRefused() async throws {
        try await withCtrSandbox { s in
            let name = try await Self.startService(s)
            let exec = try await s.ctr("exec", "-d", "-t", name, "true")
            #expect(exec.status == 125, "\(exec)")
            #expect(exec.stderr.contains("flag --detach"), "\(exec)")
            try await Self.remove(s, name)
        }
    }
}
