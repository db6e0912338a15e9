import BerthCore
import CShim
import Glibc
import Linux
import OCI
import Runtime
import SupervisorAPI

/// One health check under way: `/bin/sh -c CMD` exec'd into a container (any container of the
/// store: the service's own, or a new one being brought up beside it), with its stdout and
/// stderr on a pipe. Nothing here blocks on the check: the supervisor's loop polls `pidfd`
/// (readable at its exit) and `output`, and calls `timeOut()` at `deadline`.
struct HealthProbe {
    let pid: pid_t
    /// Readable once the check has exited.
    let pidfd: FileDescriptor
    /// The pipe's non-blocking read end; nil once it reached end of file.
    private(set) var output: FileDescriptor?
    let startedAt: Timestamp
    /// CLOCK_MONOTONIC time at which the check is killed.
    let deadline: Int64
    /// The exit status, when the supervisor's stray reaper collected it before the pidfd woke us.
    var reaped: ProcessControl.Termination?
    /// The start of the output, one byte past the limit so that the excerpt shows the cut.
    private var excerpt: [UInt8] = []

    /// Starts `check` in `containerID`, with the environment, user and working directory of the
    /// container's own process. Returns once the check has been exec'd.
    static func start(_ check: HealthCheck, store: StateStore, containerID: String) throws(BerthError) -> HealthProbe {
        var process = try Exec.baseProcess(store: store, id: containerID)
        process.args = check.arguments
        process.terminal = false
        process.consoleSize = nil
        let pipe = try makePipe()
        defer { pipe.write.close() }
        do throws(BerthError) {
            try setNonBlocking(pipe.read)
            var exec = Exec(store: store, id: containerID, process: process)
            exec.output = pipe.write
            exec.newSession = true
            let startedAt = Timestamp.now()
            let started = try exec.start()
            guard let pidfd = started.pidfd else {
                // clone3 always gives one on the kernels berth runs on; without it the check
                // could not be watched, so it is not left running.
                _ = try? sys("kill") { Glibc.kill(started.pid, SIGKILL) }
                _ = try? ProcessControl.wait(started.pid)
                throw BerthError(.system, "health check: no pidfd for the check's process")
            }
            return HealthProbe(pid: started.pid, pidfd: pidfd, output: pipe.read, startedAt: startedAt,
                               deadline: monotonicNanoseconds() + check.timeoutMilliseconds * 1_000_000)
        } catch {
            pipe.read.close()
            throw error
        }
    }

    private init(pid: pid_t, pidfd: FileDescriptor, output: FileDescriptor, startedAt: Timestamp, deadline: Int64) {
        self.pid = pid
        self.pidfd = pidfd
        self.output = output
        self.startedAt = startedAt
        self.deadline = deadline
    }

    private static func setNonBlocking(_ fd: FileDescriptor) throws(BerthError) {
        let flags = try sys("fcntl") { berth_fcntl_int(fd.rawValue, F_GETFL, 0) }
        try sys("fcntl") { berth_fcntl_int(fd.rawValue, F_SETFL, flags | O_NONBLOCK) }
    }

    /// Reads what the pipe holds, keeping the first `HealthStatus.outputLimit` bytes and
    /// reading past them, so that a chatty check does not block on a full pipe.
    mutating func readOutput() {
        guard let fd = output else { return }
        while true {
            let bytes: [UInt8]
            do { bytes = try fd.read(upTo: 4096) } catch {
                if error.errno == EAGAIN { return }
                closeOutput()
                return
            }
            if bytes.isEmpty {
                closeOutput()
                return
            }
            excerpt += bytes.prefix(max(0, HealthStatus.outputLimit + 1 - excerpt.count))
        }
    }

    private mutating func closeOutput() {
        output?.close()
        output = nil
    }

    /// The check has exited (its pidfd is readable): collects its status and output.
    mutating func finish() -> HealthResult {
        var termination = reaped
        if termination == nil {
            do { termination = try ProcessControl.poll(pid) } catch { SupervisorLog.warn("health check \(pid): \(error)") }
        }
        // What it wrote before exiting is in the pipe; a child it left behind may keep the pipe
        // open, so this reads what is there without waiting for end of file.
        readOutput()
        let result = HealthResult(start: startedAt, end: .now(), exitCode: termination.flatMap(HealthProbe.exitCode),
                                  output: output(note: HealthProbe.describe(termination)))
        release()
        return result
    }

    /// The check ran past its deadline: killed, and a failure. The exit is left to the stray
    /// reaper, so the loop never waits for it.
    mutating func timeOut(after milliseconds: Int64) -> HealthResult {
        killGroup()
        readOutput()
        let result = HealthResult(start: startedAt, end: .now(), exitCode: nil,
                                  output: output(note: "health check timed out after \(milliseconds) ms and was killed"))
        release()
        return result
    }

    /// Gives the check up (the container is gone or restarting): killed, its exit left to the
    /// stray reaper.
    mutating func cancel() {
        killGroup()
        release()
    }

    /// SIGKILL to the check and to what it started: it leads its own process group. The group's
    /// id is the check's pid, which cannot be reused while the check is an unreaped child.
    private func killGroup() {
        guard reaped == nil else { return }
        _ = try? sys("kill") { Glibc.kill(-pid, SIGKILL) }
        try? ProcessControl.signal(pidfd: pidfd, SIGKILL)
    }

    private mutating func release() {
        closeOutput()
        pidfd.close()
    }

    /// What the check printed, then `note` on a line of its own when there is one.
    private func output(note: String) -> String {
        let text = HealthStatus.excerpt(excerpt)
        if note.isEmpty { return text }
        return text.isEmpty || text.hasSuffix("\n") ? text + note : text + "\n" + note
    }

    private static func exitCode(_ termination: ProcessControl.Termination) -> Int32? {
        if case .exited(let code) = termination { return code }
        return nil
    }

    /// A note for an end that the exit code does not tell.
    private static func describe(_ termination: ProcessControl.Termination?) -> String {
        switch termination {
        case .signaled(let signal): "health check killed by signal \(signal)"
        case nil: "health check ended with an unknown status"
        case .exited: ""
        }
    }
}
