import BerthCore
import CShim
import Glibc
import Linux

/// The container's terminal: a pty made inside the container's devpts, whose master goes to the
/// engine over the console socket (runc's protocol: one SCM_RIGHTS message) and whose pts
/// becomes the process's controlling terminal and stdio.
struct ConsoleSetup {
    /// Connected by the parent before clone: the socket's path is on the host, out of reach
    /// once the init has pivoted.
    let socket: FileDescriptor
    let size: (rows: UInt16, columns: UInt16)?

    static let devptsMagic = 0x1cd1

    /// Connects to the engine's console socket.
    static func connect(_ path: String) throws(BerthError) -> FileDescriptor {
        FileDescriptor(rawValue: try sys("connect", "--console-socket \(path)") { berth_connect_unix(path) })
    }

    /// A copy of a socket the caller already holds (one end of a socketpair, as ctr uses), so
    /// that the setup may close its own like a connected path.
    static func duplicate(_ connection: FileDescriptor) throws(BerthError) -> FileDescriptor {
        FileDescriptor(rawValue: try sys("fcntl", "console connection") { berth_fcntl_int(connection.rawValue, F_DUPFD_CLOEXEC, 3) })
    }

    /// The setup for a process that wants a terminal, from a socket path or a connected
    /// socket; neither or both refused with `missing`/`unwanted` as the error.
    static func make(terminal: Bool, path: String?, connection: FileDescriptor?, size: (rows: UInt16, columns: UInt16)?,
                     missing: String, unwanted: String) throws(BerthError) -> ConsoleSetup? {
        switch (terminal, path, connection) {
        case (false, nil, nil): return nil
        case (false, _, _): throw BerthError(.invalidArgument, unwanted)
        case (true, nil, nil): throw BerthError(.invalidArgument, missing)
        case (true, .some(let path), _): return ConsoleSetup(socket: try connect(path), size: size)
        case (true, nil, .some(let connection)): return ConsoleSetup(socket: try duplicate(connection), size: size)
        }
    }

    /// Runs in the init after pivot_root (or in an exec'd process after joining the mount
    /// namespace), so /dev/ptmx and /dev/pts are the container's.
    func attach<Kernel: KernelCalls>(_ kernel: Kernel) throws(BerthError) {
        // A session of its own: the pts becomes its controlling terminal, and no host terminal
        // can be (TIOCSTI from inside could otherwise type into the host's shell).
        kernel.newSession()
        let master = try kernel.open("/dev/ptmx", O_RDWR | O_NOCTTY, mode: 0, relativeTo: nil)
        defer { kernel.close(master) }
        // The rootfs could have planted /dev/ptmx or /dev/pts as links to host devices
        // (CVE-2025-52565): both ends must be on a devpts.
        try ConsoleSetup.checkDevpts(master, "/dev/ptmx", kernel)
        let number = try kernel.unlockPseudoTerminal(master)
        let terminal = try kernel.open("/dev/pts/\(number)", O_RDWR | O_NOCTTY, mode: 0, relativeTo: nil)
        try ConsoleSetup.checkDevpts(terminal, "/dev/pts/\(number)", kernel)
        if let size {
            try kernel.setWindowSize(master, rows: size.rows, columns: size.columns)
        }
        try kernel.sendDescriptor(master, over: socket, payload: "/dev/pts/\(number)", describing: "console socket")
        kernel.close(socket)
        for target in 0...2 { try kernel.duplicate(terminal, as: Int32(target)) }
        if terminal.rawValue > 2 { kernel.close(terminal) }
        try kernel.setControllingTerminal(.standardInput)
    }

    static func checkDevpts<Kernel: KernelCalls>(_ fd: FileDescriptor, _ path: String, _ kernel: Kernel) throws(BerthError) {
        guard kernel.filesystemType(of: fd) == devptsMagic else {
            throw BerthError(.system, "\(path) in the container is not on a devpts filesystem")
        }
    }
}
