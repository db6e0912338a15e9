import CShim
import Glibc
import Linux
import Supervisor

/// `ctr exec -t`: the process's terminal is a pty whose master the runtime sent us. ctr copies
/// the master to its stdout and (with -i) its stdin to the master, passes window size changes
/// on, forwards signals, and returns the process's status once it has exited and its output
/// has been read.
struct ExecTerminal {
    let master: FileDescriptor
    let interactive: Bool

    /// How long output may still come after the process exited, while something it left
    /// behind keeps the terminal open.
    static let drainMilliseconds: Int32 = 200

    func run(pid: pid_t, pidfd: FileDescriptor) throws(BerthError) -> ProcessControl.Termination {
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
            let ready = try sys("poll") { Glibc.poll(&entries, nfds_t(entries.count), exited ? ExecTerminal.drainMilliseconds : -1) }
            if ready == 0 { break }
            if entries[0].revents != 0 {
                while case let signal = berth_read_signalfd(signals), signal != 0 {
                    if signal == SIGWINCH {
                        if let size = Terminal.size() { _ = berth_set_window_size(master.rawValue, size.rows, size.columns) }
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
