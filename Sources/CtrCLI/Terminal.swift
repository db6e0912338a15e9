import CShim
import Glibc
import Linux

/// ctr's own terminal for `-t` and `-i`: its window size, and raw mode while a container's
/// terminal is attached (the copy of stdin into the container is `InputCopy`).
enum Terminal {
    /// The window size of the first of stdin and stdout that is a terminal.
    static func size() -> (rows: UInt16, columns: UInt16)? {
        for fd: Int32 in [0, 1] where Glibc.isatty(fd) == 1 {
            var rows: UInt16 = 0, columns: UInt16 = 0
            if berth_get_window_size(fd, &rows, &columns) == 0 && rows > 0 && columns > 0 { return (rows, columns) }
        }
        return nil
    }

    /// Sets `fd` non-blocking: for descriptors ctr owns alone (a pty master, a fifo end), never
    /// for its stdin, whose file status flags it shares with the shell.
    static func setNonBlocking(_ fd: FileDescriptor) throws(BerthError) {
        let flags = try sys("fcntl") { berth_fcntl_int(fd.rawValue, F_GETFL, 0) }
        try sys("fcntl") { berth_fcntl_int(fd.rawValue, F_SETFL, flags | O_NONBLOCK) }
    }
}

/// ctr's stdin in raw mode while it feeds a container's terminal, so that every key (Ctrl-C
/// included) goes to the container as it is typed. `restore()` puts the saved mode back; ctr
/// blocks the signals that would end it (they arrive on a signalfd), so every way out of the
/// attached loop goes through it.
struct RawMode {
    private var saved = termios()
    private var active = false

    /// Raw mode when stdin is a terminal; nothing otherwise.
    static func enter() throws(BerthError) -> RawMode {
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

    mutating func restore() {
        guard active else { return }
        active = false
        _ = Glibc.tcsetattr(0, TCSANOW, &saved)
    }
}
