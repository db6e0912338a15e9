import CShim
import Glibc
import Linux
import Runtime
import SupervisorAPI

/// One run of the service's container: created and started through the runtime library, with
/// stdout and stderr on the service's two fifos, which the supervisor reads.
///
/// Fifos, not pipes: the container holds its end open for reading and writing, so a fifo always
/// has a reader. Should the supervisor die, the container's writes do not raise SIGPIPE (which
/// would kill most programs); they fill the fifo and then wait until a new supervisor adopts the
/// service and opens the fifo again, so nothing written is lost.
struct ContainerRun {
    var pid: pid_t
    var pidStartTime: UInt64
    /// Readable once the init has exited.
    var pidfd: FileDescriptor
    var stdout: FileDescriptor
    var stderr: FileDescriptor
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
    static func start(store: StateStore, plan: LaunchPlan, configBytes: [UInt8], fifos: (stdout: String, stderr: String),
                      passing: [FileDescriptor] = []) throws(BerthError) -> ContainerRun {
        let (stdout, containerStdout) = try openFifo(fifos.stdout)
        defer { containerStdout.close() }
        let stderr: FileDescriptor
        let containerStderr: FileDescriptor
        do { (stderr, containerStderr) = try openFifo(fifos.stderr) } catch {
            stdout.close()
            throw error
        }
        defer { containerStderr.close() }
        var created: Launcher.Created
        do {
            created = try withStandardStreams(stdout: containerStdout, stderr: containerStderr) { () throws(BerthError) in
                var launcher = Launcher(store: store, plan: plan, configBytes: configBytes)
                launcher.passedFiles = passing
                return try launcher.create()
            }
        } catch {
            stdout.close()
            stderr.close()
            throw error
        }
        let containers = Containers(store: store)
        do throws(BerthError) {
            guard let pidfd = created.pidfd else { throw BerthError(.system, "create: no pidfd for the container's init") }
            // Before the process runs, so that it finds its loopback up, as docker's --network
            // none does: published ports are forwarded to it.
            try PortForwarder.bringUpLoopback(of: created.record.pid)
            try containers.start(plan.id)
            return ContainerRun(pid: created.record.pid, pidStartTime: created.record.pidStartTime, pidfd: pidfd,
                                stdout: stdout, stderr: stderr, startedAt: .now(), startedMonotonic: monotonicNanoseconds())
        } catch {
            created.pidfd?.close()
            try? containers.delete(plan.id, force: true)
            _ = try? ProcessControl.wait(created.record.pid)
            stdout.close()
            stderr.close()
            throw error
        }
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

    /// Runs `body` with descriptors 0, 1 and 2 set to /dev/null, `stdout` and `stderr`, then puts
    /// the supervisor's own back. The supervisor is single-threaded, so nothing else sees the swap.
    private static func withStandardStreams<T>(stdout: FileDescriptor, stderr: FileDescriptor, _ body: () throws(BerthError) -> T) throws(BerthError) -> T {
        let saved = try (0...2).map { (fd: Int32) throws(BerthError) in
            FileDescriptor(rawValue: try sys("fcntl") { berth_fcntl_int(fd, F_DUPFD_CLOEXEC, 3) })
        }
        defer {
            for (fd, copy) in saved.enumerated() {
                _ = berth_dup3(copy.rawValue, Int32(fd), 0)
                copy.close()
            }
        }
        let null = try FileDescriptor.open("/dev/null", O_RDONLY)
        defer { null.close() }
        try null.duplicate(as: 0)
        try stdout.duplicate(as: 1)
        try stderr.duplicate(as: 2)
        return try body()
    }
}
