import BerthCore
import CShim
import Glibc
import Linux

/// Blocks the signals `waitForwardingSignals` forwards. Called before `start`, a signal that
/// arrives while poststart hooks run waits for the forwarding instead of killing berth and
/// leaving the container behind: the signalfd made later still reads it.
public func holdForwardedSignals() throws(BerthError) {
    Glibc.close(try sys("signalfd") { berth_forwarding_signalfd() })
}

/// Waits for a child of ours while forwarding every signal berth receives to it: what `run` and
/// `exec` do in the foreground. SIGCHLD and SIGWINCH are ours and not forwarded.
public func waitForwardingSignals(pid: pid_t, pidfd: FileDescriptor) throws(BerthError) -> ProcessControl.Termination {
    let signals = try sys("signalfd") { berth_forwarding_signalfd() }
    defer { Glibc.close(signals) }
    while true {
        var entries = [pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: pidfd.rawValue, events: Int16(POLLIN), revents: 0)]
        _ = try sys("poll") { Glibc.poll(&entries, 2, -1) }
        if entries[0].revents != 0 {
            while case let signal = berth_read_signalfd(signals), signal != 0 {
                if signal == SIGCHLD || signal == SIGWINCH { continue }
                try? ProcessControl.signal(pidfd: pidfd, signal)
            }
        }
        if entries[1].revents != 0 {
            return try ProcessControl.wait(pid)
        }
    }
}

/// A foreground process on a terminal of its own (`berth run` and `berth exec -t` without
/// --console-socket, `ctr exec -t`): the runtime sent us the pty master. The master is copied
/// to stdout and (when `interactive`) stdin to the master, window size changes are passed on,
/// signals forwarded, and the process's status returned once it has exited and its output has
/// been read.
public struct ForegroundTerminal {
    public let master: FileDescriptor
    public let interactive: Bool

    /// How long output may still come after the process exited, while something it left
    /// behind keeps the terminal open.
    static let drainMilliseconds: Int32 = 200

    public init(master: FileDescriptor, interactive: Bool) {
        self.master = master
        self.interactive = interactive
    }

    /// Receives the pty master the runtime sent over `socket` (our end of a socket pair handed
    /// to `Launcher` or `Exec` as `consoleConnection`).
    public static func receiveMaster(_ socket: FileDescriptor) throws(BerthError) -> FileDescriptor {
        FileDescriptor(rawValue: try sys("recvmsg", "console") { berth_receive_fd(socket.rawValue) })
    }

    /// Gives the pty the size of the caller's terminal, if it has one.
    public func copyWindowSize() {
        if let size = Terminal.size() { _ = berth_set_window_size(master.rawValue, size.rows, size.columns) }
    }

    /// Runs the proxy until the process has exited. The forwarded signals must already be held
    /// (`holdForwardedSignals`): they arrive on a signalfd, so none ends berth with the
    /// caller's terminal left in raw mode.
    public func run(pid: pid_t, pidfd: FileDescriptor) throws(BerthError) -> ProcessControl.Termination {
        try Terminal.setNonBlocking(master)
        var raw = interactive ? try RawMode.enter() : RawMode()
        defer { raw.restore() }
        let signals = try sys("signalfd") { berth_forwarding_signalfd() }
        defer { Glibc.close(signals) }
        var input = interactive ? InputCopy(source: .standardInput, target: master, typesEndOfFile: true) : nil
        var outputOpen = true
        var exited = false
        // Negative descriptors are skipped by poll: the pidfd once the process has exited, the
        // master once its terminal has closed.
        while !(exited && !outputOpen) {
            var entries = [pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: exited ? -1 : pidfd.rawValue, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: outputOpen ? master.rawValue : -1, events: Int16(POLLIN), revents: 0)]
            if !exited && outputOpen, let entry = input?.entry { entries.append(entry) }
            let ready = try sys("poll") { Glibc.poll(&entries, nfds_t(entries.count), exited ? ForegroundTerminal.drainMilliseconds : -1) }
            if ready == 0 { break }
            if entries[0].revents != 0 {
                while case let signal = berth_read_signalfd(signals), signal != 0 {
                    if signal == SIGWINCH {
                        copyWindowSize()
                    } else if signal != SIGCHLD && !exited {
                        try? ProcessControl.signal(pidfd: pidfd, signal)
                    }
                }
            }
            if entries[1].revents != 0 { exited = true }
            if entries[2].revents != 0 { outputOpen = copyOutput() }
            if entries.count > 3 && entries[3].revents != 0 { input?.step() }
        }
        raw.restore()
        return try ProcessControl.wait(pid)
    }

    /// Copies what the master holds to stdout; false once the terminal has closed (EIO: every
    /// process holding it has gone).
    private func copyOutput() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let got = buffer.withUnsafeMutableBytes { Glibc.read(master.rawValue, $0.baseAddress, $0.count) }
            if got < 0 && Glibc.errno == EINTR { continue }
            if got < 0 && Glibc.errno == EAGAIN { return true }
            if got <= 0 { return false }
            // stdout gone (a closed pipe): the output is dropped, the process still runs to its end.
            _ = try? FileDescriptor.standardOutput.writeAll(buffer[0..<got])
        }
    }
}

/// The caller's own terminal: its window size, and raw mode while a container's terminal is
/// attached.
public enum Terminal {
    /// The window size of the first of stdin and stdout that is a terminal.
    public static func size() -> (rows: UInt16, columns: UInt16)? {
        for fd: Int32 in [0, 1] where Glibc.isatty(fd) == 1 {
            var rows: UInt16 = 0, columns: UInt16 = 0
            if berth_get_window_size(fd, &rows, &columns) == 0 && rows > 0 && columns > 0 { return (rows, columns) }
        }
        return nil
    }

    /// Sets `fd` non-blocking: for descriptors we own alone (a pty master, a fifo end), never
    /// for stdin, whose file status flags are shared with the shell.
    public static func setNonBlocking(_ fd: FileDescriptor) throws(BerthError) {
        let flags = try sys("fcntl") { berth_fcntl_int(fd.rawValue, F_GETFL, 0) }
        try sys("fcntl") { berth_fcntl_int(fd.rawValue, F_SETFL, flags | O_NONBLOCK) }
    }
}

/// stdin in raw mode while it feeds a container's terminal, so that every key (Ctrl-C
/// included) goes to the container as it is typed. `restore()` puts the saved mode back; the
/// signals that would end the caller are blocked (they arrive on a signalfd), so every way out
/// of the attached loop goes through it.
public struct RawMode {
    private var saved = termios()
    private var active = false

    public init() {}

    /// Raw mode when stdin is a terminal; nothing otherwise.
    public static func enter() throws(BerthError) -> RawMode {
        var mode = RawMode()
        guard Glibc.isatty(0) == 1 else { return mode }
        try sys("tcgetattr", "stdin") { Glibc.tcgetattr(0, &mode.saved) }
        var raw = mode.saved
        Glibc.cfmakeraw(&raw)
        // TCSANOW, not TCSAFLUSH: what was typed ahead belongs to the container.
        try sys("tcsetattr", "stdin") { Glibc.tcsetattr(0, TCSANOW, &raw) }
        mode.active = true
        return mode
    }

    public mutating func restore() {
        guard active else { return }
        active = false
        _ = Glibc.tcsetattr(0, TCSANOW, &saved)
    }
}
