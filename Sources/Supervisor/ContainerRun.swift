import BerthCore
import CShim
import Glibc
import Linux
import Runtime
import SupervisorAPI

/// One run of the service's container: created and started through the runtime library, with
/// stdout and stderr on the service's two fifos, which the supervisor reads, or with a terminal
/// (-t): a pty whose master the supervisor holds and reads.
///
/// Fifos, not pipes: the container holds its end open for reading and writing, so a fifo always
/// has a reader. Should the supervisor die, the container's writes do not raise SIGPIPE (which
/// would kill most programs); they fill the fifo and then wait until a new supervisor adopts the
/// service and opens the fifo again, so nothing written is lost. A terminal has no such backing:
/// the supervisor holds the only master, and its death hangs the terminal up (docs/supervisor.md).
struct ContainerRun {
    var pid: pid_t
    var pidStartTime: UInt64
    /// Readable once the init has exited.
    var pidfd: FileDescriptor
    /// The container's output for the log: its two fifos, or its terminal's master; handed to
    /// the loop (`Supervisor.add`), which closes them at their end, and empty from then on.
    /// Empty too for an adopted run that lost its terminal.
    var pumps: [LogPump]
    /// The pty master of a run with a terminal (a descriptor of its own, besides its pump's), for
    /// input and window sizes; closed when the run ends.
    var terminal: FileDescriptor?
    var startedAt: Timestamp
    /// CLOCK_MONOTONIC at start, for the uptime that resets the back-off.
    var startedMonotonic: Int64
    /// Taken over from a supervisor that died: not our child, so its exit status is out of reach.
    var adopted = false

    /// How much output a fifo holds while no supervisor reads it (the default is 64 KiB).
    static let fifoCapacity: Int32 = 1 << 20

    /// Creates and starts the container. The init inherits the creating process's stdio, so
    /// the fifos' container ends are put on descriptors 1 and 2 for the duration of create, as
    /// engines do with pipes around `runc create`; the supervisor keeps only its read ends.
    /// `passing` goes to the container's process as descriptors 3... (socket activation).
    /// `stdin` is the service's stdin fifo (-i without -t), else the process reads /dev/null.
    /// A process with a terminal gets a pty instead (`startOnTerminal`).
    static func start(store: StateStore, plan: LaunchPlan, configBytes: [UInt8], fifos: (stdout: String, stderr: String),
                      passing: [FileDescriptor] = [], stdin: String? = nil) throws(BerthError) -> ContainerRun {
        if plan.process.terminal { return try startOnTerminal(store: store, plan: plan, configBytes: configBytes, passing: passing) }
        let (stdout, containerStdout) = try openFifo(fifos.stdout)
        defer { containerStdout.close() }
        let stderr: FileDescriptor
        let containerStderr: FileDescriptor
        do { (stderr, containerStderr) = try openFifo(fifos.stderr) } catch {
            stdout.close()
            throw error
        }
        defer { containerStderr.close() }
        let pumps = [LogPump(descriptor: stdout, stream: .stdout), LogPump(descriptor: stderr, stream: .stderr)]
        var created: Launcher.Created
        do throws(BerthError) {
            let input = if let stdin { try openInput(stdin) } else { try FileDescriptor.open("/dev/null", O_RDONLY) }
            defer { input.close() }
            created = try withStandardStreams(input, containerStdout, containerStderr) { () throws(BerthError) in
                var launcher = Launcher(store: store, plan: plan, configBytes: configBytes)
                launcher.passedFiles = passing
                return try launcher.create()
            }
        } catch {
            for pump in pumps { pump.descriptor.close() }
            throw error
        }
        return try begin(created, store: store, plan: plan, pumps: pumps, terminal: nil)
    }

    /// Creates and starts a container whose process has a terminal: a pty made in the
    /// container's devpts by the runtime's console support, whose master comes back over a
    /// socketpair (as with --console-socket). The pts is the process's stdio, so the process
    /// has no fifos; the supervisor pumps the master into the log as stdout.
    private static func startOnTerminal(store: StateStore, plan: LaunchPlan, configBytes: [UInt8],
                                        passing: [FileDescriptor]) throws(BerthError) -> ContainerRun {
        let (ours, theirs) = try makeSocketPair()
        defer { ours.close() }
        var created: Launcher.Created
        do {
            defer { theirs.close() }
            let null = try FileDescriptor.open("/dev/null", O_RDWR)
            defer { null.close() }
            created = try withStandardStreams(null, null, null) { () throws(BerthError) in
                var launcher = Launcher(store: store, plan: plan, configBytes: configBytes)
                launcher.passedFiles = passing
                launcher.consoleConnection = theirs
                return try launcher.create()
            }
        }
        // The init sent the master before it reported ready, so it is already queued.
        let master: FileDescriptor, pumped: FileDescriptor
        do {
            master = FileDescriptor(rawValue: try sys("recvmsg", "console") { berth_receive_fd(ours.rawValue) })
            pumped = FileDescriptor(rawValue: try sys("fcntl", "console") { berth_fcntl_int(master.rawValue, F_DUPFD_CLOEXEC, 3) })
        } catch {
            abandon(created, store: store, plan: plan)
            throw error
        }
        let flags = berth_fcntl_int(master.rawValue, F_GETFL, 0)
        _ = berth_fcntl_int(master.rawValue, F_SETFL, flags | O_NONBLOCK)
        let pump = LogPump(descriptor: pumped, stream: .stdout, flushesEveryChunk: true)
        return try begin(created, store: store, plan: plan, pumps: [pump], terminal: master)
    }

    /// Starts a created container; on failure removes it and closes `pumps` and `terminal`.
    private static func begin(_ created: Launcher.Created, store: StateStore, plan: LaunchPlan, pumps: [LogPump],
                              terminal: FileDescriptor?) throws(BerthError) -> ContainerRun {
        do throws(BerthError) {
            guard let pidfd = created.pidfd else { throw BerthError(.system, "create: no pidfd for the container's init") }
            // Before the process runs, so that it finds its loopback up, as docker's --network
            // none does: published ports are forwarded to it.
            try PortForwarder.bringUpLoopback(of: created.record.pid)
            try Containers(store: store).start(plan.id)
            return ContainerRun(pid: created.record.pid, pidStartTime: created.record.pidStartTime, pidfd: pidfd,
                                pumps: pumps, terminal: terminal, startedAt: .now(), startedMonotonic: monotonicNanoseconds())
        } catch {
            abandon(created, store: store, plan: plan)
            for pump in pumps { pump.descriptor.close() }
            terminal?.close()
            throw error
        }
    }

    private static func abandon(_ created: Launcher.Created, store: StateStore, plan: LaunchPlan) {
        created.pidfd?.close()
        try? Containers(store: store).delete(plan.id, force: true)
        _ = try? ProcessControl.wait(created.record.pid)
    }

    /// The container's end of the stdin fifo: read-only, so that it sees end of file once the
    /// attached ctr (which opened it read-write before the supervisor existed, so there has
    /// always been a writer) closes its end. Opened non-blocking, since a fifo's open waits for
    /// a writer, then made blocking again for the container.
    static func openInput(_ path: String) throws(BerthError) -> FileDescriptor {
        let input = try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK)
        let flags = berth_fcntl_int(input.rawValue, F_GETFL, 0)
        _ = berth_fcntl_int(input.rawValue, F_SETFL, flags & ~O_NONBLOCK)
        return input
    }

    /// Opens the fifo at `path` (made if missing): the supervisor's non-blocking read end, and
    /// the read-write end for the container.
    static func openFifo(_ path: String) throws(BerthError) -> (read: FileDescriptor, container: FileDescriptor) {
        if Glibc.mkfifo(path, 0o600) != 0 && Glibc.errno != EEXIST { throw BerthError(.system, "mkfifo \(path)", errno: Glibc.errno) }
        let read = try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK)
        do {
            let container = try FileDescriptor.open(path, O_RDWR)
            _ = berth_fcntl_int(read.rawValue, 1031 /* F_SETPIPE_SZ */, fifoCapacity)
            return (read, container)
        } catch {
            read.close()
            throw error
        }
    }

    /// Runs `body` with descriptors 0, 1 and 2 set to `stdin`, `stdout` and `stderr`, then puts
    /// the supervisor's own back. The supervisor is single-threaded, so nothing else sees the swap.
    private static func withStandardStreams<T>(_ stdin: FileDescriptor, _ stdout: FileDescriptor, _ stderr: FileDescriptor,
                                               _ body: () throws(BerthError) -> T) throws(BerthError) -> T {
        let saved = try (0...2).map { (fd: Int32) throws(BerthError) in
            FileDescriptor(rawValue: try sys("fcntl") { berth_fcntl_int(fd, F_DUPFD_CLOEXEC, 3) })
        }
        defer {
            for (fd, copy) in saved.enumerated() {
                _ = berth_dup3(copy.rawValue, Int32(fd), 0)
                copy.close()
            }
        }
        try stdin.duplicate(as: 0)
        try stdout.duplicate(as: 1)
        try stderr.duplicate(as: 2)
        return try body()
    }
}
