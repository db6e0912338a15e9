import Glibc
import Testing

/// A pty made by the test, standing in for the user's terminal: the command under test gets
/// its pts as stdin (`stdin`), the test types into the master.
public final class TestTerminal {
    public let master: Int32
    public let path: String
    /// Open so that the terminal outlives the command, and for reading its mode.
    public let terminal: Int32

    public init(rows: UInt16, columns: UInt16) throws {
        var master: Int32 = -1, terminal: Int32 = -1
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        try #require(openpty(&master, &terminal, nil, nil, &size) == 0, "openpty: \(errno)")
        self.master = master
        self.terminal = terminal
        path = String(cString: try #require(ttyname(terminal)))
        // The test only types into it; a full buffer must not hang the test.
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    public var stdin: SpawnedProcess.ExtraFile { SpawnedProcess.ExtraFile(0, path, flags: O_RDWR) }

    public func type(_ text: String) { _ = text.withCString { write(master, $0, strlen($0)) } }

    /// A new window size, as a terminal emulator sets it (the caller sends SIGWINCH).
    public func resize(rows: UInt16, columns: UInt16) {
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
    }

    public var localModes: tcflag_t {
        var mode = termios()
        _ = tcgetattr(terminal, &mode)
        return mode.c_lflag
    }

    deinit {
        close(terminal)
        close(master)
    }
}
