import Foundation
import Glibc
import Testing
import TestSupport

/// `-t` and `-i` of ctr run, against the real ctr: the terminal is a pty the supervisor holds and
/// pumps into the log, stdin comes through stdin.fifo, ctr's window size and raw mode apply, and
/// a terminal service whose supervisor dies is hung up and adopted.
@Suite(.timeLimit(.minutes(5)))
struct CtrRunTerminalIntegrationTests {
    static func logs(_ s: CtrSandbox, _ name: String) async throws -> String {
        try await s.ctr("logs", name).stdout
    }

    /// `ctr run -d -t` of `sh -c SCRIPT`, once its log shows `marker`; returns the name.
    static func startOnTerminal(_ s: CtrSandbox, _ script: String, loggedMarker marker: String) async throws -> String {
        let name = s.newName("tty")
        let run = try await s.ctr("run", "-d", "-t", "--name", name, s.rootfs, "--", "sh", "-c", script)
        try #require(run.succeeded, "\(run)")
        try #require(await eventually(timeout: TestTiming.settle) { ((try? await logs(s, name)) ?? "").contains(marker) })
        return name
    }

    @Test func runWithTtyRunsOnATerminalAndReturnsTheStatus() async throws {
        try await withCtrSandbox { s in
            let run = try await s.ctr("run", "--rm", "-t", s.rootfs, "--", "sh", "-c",
                                      "tty; test -t 0 && echo stdin-is-a-tty; test -t 1 && echo stdout-is-a-tty; exit 3")
            #expect(run.status == 3, "\(run)")
            #expect(run.stdout.contains("/dev/pts/"), "\(run)")
            #expect(run.stdout.contains("stdin-is-a-tty\r\n"), "the terminal's own line endings: \(run)")
            #expect(run.stdout.contains("stdout-is-a-tty"), "\(run)")
        }
    }

    @Test func runWithTtyTakesTheWindowSizeOfCtrsTerminal() async throws {
        try await withCtrSandbox { s in
            let terminal = try TestTerminal(rows: 30, columns: 100)
            let run = try await s.ctr(["run", "--rm", "-t", s.rootfs, "--", "stty", "size"], stdin: terminal.stdin)
            #expect(run.succeeded, "\(run)")
            #expect(run.stdout.contains("30 100"), "\(run)")
        }
    }

    @Test func runInteractivePassesStdinUntilItsEnd() async throws {
        try await withCtrSandbox { s in
            let input = try CtrTerminalIntegrationTests.input(s, "line one\nline two\n")
            let run = try await s.ctr(["run", "--rm", "-i", s.rootfs, "--", "cat"], stdin: input)
            #expect(run.succeeded, "\(run)")
            #expect(run.stdout == "line one\nline two\n", "\(run)")
        }
    }

    @Test func runWithoutInteractiveReadsDevNull() async throws {
        try await withCtrSandbox { s in
            let input = try CtrTerminalIntegrationTests.input(s, "not for the container\n")
            let run = try await s.ctr(["run", "--rm", s.rootfs, "--", "sh", "-c", "cat; echo end"], stdin: input)
            #expect(run.succeeded, "\(run)")
            #expect(run.stdout == "end\n", "\(run)")
        }
    }

    @Test func runInteractiveTtyTypesIntoAShellAndRestoresTheTerminal() async throws {
        try await withCtrSandbox { s in
            let terminal = try TestTerminal(rows: 24, columns: 90)
            let before = terminal.localModes
            #expect(before & tcflag_t(ICANON) != 0)
            let process = try s.spawn(["run", "--rm", "-it", s.rootfs, "--", "sh"], stdin: terminal.stdin)
            // Raw mode: ctr turned canonical input and echo off on its terminal.
            #expect(await eventually(timeout: TestTiming.settle) { terminal.localModes & tcflag_t(ICANON | ECHO) == 0 })
            terminal.type("stty size; echo typed-$((6 * 7)); exit 7\r")
            let run = await process.wait(timeout: TestTiming.command)
            #expect(run.status == 7, "\(run)")
            #expect(run.stdout.contains("24 90"), "\(run)")
            #expect(run.stdout.contains("typed-42"), "\(run)")
            #expect(terminal.localModes == before, "ctr should restore its terminal's mode")
        }
    }

    @Test func aWindowSizeChangeOfCtrsTerminalReachesTheContainer() async throws {
        try await withCtrSandbox { s in
            let terminal = try TestTerminal(rows: 24, columns: 80)
            let process = try s.spawn(["run", "--rm", "-it", s.rootfs, "--", "sh"], stdin: terminal.stdin)
            #expect(await eventually(timeout: TestTiming.settle) { terminal.localModes & tcflag_t(ICANON) == 0 })
            // The shell waits for the new size; without the resize it never ends and the run times out.
            terminal.type("while [ \"$(stty size)\" != '40 120' ]; do sleep 0.05; done; echo resized-$((40 * 3)); exit 0\r")
            var size = winsize(ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0)
            #expect(ioctl(terminal.terminal, UInt(TIOCSWINSZ), &size) == 0)
            // ctr is not in the test terminal's session, so the kernel's SIGWINCH goes elsewhere.
            kill(process.pid, SIGWINCH)
            let run = await process.wait(timeout: TestTiming.command)
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.contains("resized-120"), "\(run)")
        }
    }

    @Test func detachedWithTtyLogsTheTerminalsOutputAndAPromptWithoutNewline() async throws {
        try await withCtrSandbox { s in
            // The prompt has no newline: it reaches the log as a partial line while sh waits.
            let name = try await Self.startOnTerminal(s, "tty; echo hello-from-tty; printf 'prompt> '; sleep 1000", loggedMarker: "prompt> ")
            let logs = try await Self.logs(s, name)
            #expect(logs.hasSuffix("prompt> "), "\(logs)")
            #expect(logs.hasPrefix("/dev/pts/"), "\(logs)")
            #expect(logs.contains("hello-from-tty\r\n"), "\(logs)")
            let definition = try String(contentsOfFile: "\(s.root)/\(name)/service.json", encoding: .utf8)
            #expect(definition.contains("\"terminal\": true"), "\(definition)")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func detachedInteractiveIsRefusedAndCreatesNothing() async throws {
        try await withCtrSandbox { s in
            let run = try await s.ctr("run", "-d", "-i", s.rootfs, "--", "cat")
            #expect(run.status == 125, "\(run)")
            #expect(run.errorLine.contains("flag --interactive"), "\(run)")
            #expect(s.serviceEntries.isEmpty, "created \(s.serviceEntries)")
        }
    }

    @Test func aTerminalServiceWhoseSupervisorIsKilledIsHungUpAndAdopted() async throws {
        try await withCtrSandbox { s in
            let name = try await Self.startOnTerminal(s, "trap 'touch /tmp/hung-up' HUP; echo trap-set; while :; do sleep 0.1; done",
                                                      loggedMarker: "trap-set")
            let supervisor = try #require(s.pid(name, "supervisorPid"))
            kill(supervisor, SIGKILL)
            #expect(await HostProcesses.waitGone(supervisor))
            // The supervisor held the only master: the terminal is hung up and its session
            // leader, the container's init, gets SIGHUP. exec adopts the service first.
            let exec = try await s.ctr("exec", name, "sh", "-c",
                                       "for i in $(seq 100); do [ -e /tmp/hung-up ] && echo hung-up && exit 0; sleep 0.1; done; exit 1")
            #expect(exec.succeeded, "\(exec)")
            #expect(exec.stdout.contains("hung-up"), "\(exec)")
            #expect(s.state(name) == "running")
            let stop = try await s.ctr("stop", "-t", "1", name)
            #expect(stop.succeeded, "\(stop)")
            #expect(s.state(name) == "exited")
            #expect(try await s.ctr("rm", name).succeeded)
        }
    }

    @Test func aTerminalServiceIsNotRolledOut() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("roll")
            #expect(try await s.ctr("run", "-d", "-t", "--name", name, s.rootfs, "--", "sleep", "1000").succeeded)
            let rollout = try await s.ctr("rollout", name, "--rootfs", s.rootfs, "--", "sleep", "1000")
            #expect(rollout.status != 0, "\(rollout)")
            #expect(rollout.stderr.contains("-t/-i"), "\(rollout)")
            #expect(s.state(name) == "running")
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }
}
