import CShim
import Glibc
import Linux

/// ctr's own terminal for `-t` and `-i`: its window size, raw mode while a container's terminal
/// is attached, and the copy of stdin into the container.
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

/// Copies ctr's stdin into `target` (a pty master or the service's stdin fifo), which is
/// non-blocking: what the target cannot take yet waits in `pending`, and stdin is not read
/// meanwhile, so a container that does not read its input cannot make ctr hang.
struct StdinCopy {
    let target: FileDescriptor
    /// The target is a terminal: stdin's end of file is sent as the EOF character.
    let toTerminal: Bool
    private(set) var pending: [UInt8] = []
    /// stdin has ended and everything has been written.
    private(set) var finished = false
    private var stdinEnded = false
    private var lastByte: UInt8 = UInt8(ascii: "\n")

    /// The EOF character of a terminal in its default (canonical) mode, Ctrl-D.
    static let endOfFile: UInt8 = 4

    init(target: FileDescriptor, toTerminal: Bool) {
        self.target = target
        self.toTerminal = toTerminal
    }

    /// The poll entry for this turn: stdin while nothing waits, the target's POLLOUT otherwise.
    var entry: pollfd? {
        if finished { return nil }
        if !pending.isEmpty { return pollfd(fd: target.rawValue, events: Int16(POLLOUT), revents: 0) }
        return stdinEnded ? nil : pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
    }

    /// Called when `entry` was ready: reads stdin or writes what is pending.
    mutating func step() {
        if pending.isEmpty && !stdinEnded {
            var buffer = [UInt8](repeating: 0, count: 16 << 10)
            let got = buffer.withUnsafeMutableBytes { Glibc.read(0, $0.baseAddress, $0.count) }
            if got < 0 && (Glibc.errno == EINTR || Glibc.errno == EAGAIN) { return }
            if got <= 0 {
                stdinEnded = true
                // In canonical mode a first Ctrl-D only ends an unfinished line; a second is
                // the end of file.
                if toTerminal { pending = lastByte == UInt8(ascii: "\n") ? [StdinCopy.endOfFile] : [StdinCopy.endOfFile, StdinCopy.endOfFile] }
            } else {
                pending = Array(buffer[0..<got])
                lastByte = pending[got - 1]
            }
        }
        while !pending.isEmpty {
            let wrote = pending.withUnsafeBytes { Glibc.write(target.rawValue, $0.baseAddress, $0.count) }
            if wrote < 0 && Glibc.errno == EINTR { continue }
            if wrote < 0 && Glibc.errno == EAGAIN { return }
            // The reader is gone (EIO from a master whose terminal closed, EPIPE): drop the input.
            if wrote <= 0 {
                pending = []
                stdinEnded = true
                break
            }
            pending.removeFirst(wrote)
        }
        if stdinEnded && pending.isEmpty { finished = true }
    }
}
