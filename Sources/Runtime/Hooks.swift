import BerthCore
import CShim
import Glibc
import Linux

/// One OCI hook, ready to run: `label` names it in errors as its config.json path does.
public struct HookCommand: Equatable, Sendable {
    public var label: String
    public var path: String
    public var arguments: [String]
    /// nil when the config has no `env`: the hook then gets the environment its caller chooses
    /// (runc's and crun's: the runtime's own for a hook in the runtime namespace).
    public var environment: [String]?
    public var timeoutSeconds: Int?

    public init(label: String, path: String, arguments: [String], environment: [String]?, timeoutSeconds: Int?) {
        self.label = label
        self.path = path
        self.arguments = arguments
        self.environment = environment
        self.timeoutSeconds = timeoutSeconds
    }

    /// Runs the hook with `state` (the OCI state JSON) on its stdin and waits for it. A non-zero
    /// exit or a timeout is an error naming the hook; a timed-out hook is killed. Without an
    /// `env` of its own the hook gets `defaultEnvironment`, or else berth's environment.
    public func run(state: String, defaultEnvironment: [String]? = nil) throws(BerthError) {
        let pipe = try makePipe()
        let child: (pid: pid_t, pidfd: FileDescriptor?)
        do {
            child = try ProcessControl.spawn(path: path, arguments: arguments.isEmpty ? [path] : arguments,
                                             environment: environment ?? defaultEnvironment ?? HookCommand.runtimeEnvironment(),
                                             standardInput: pipe.read)
        } catch {
            pipe.read.close()
            pipe.write.close()
            throw error.prefixed("\(label): \(path)")
        }
        pipe.read.close()
        defer { child.pidfd?.close() }
        let deadline = timeoutSeconds.map { Deadline(seconds: $0) }
        let fed = HookCommand.feed(Array(state.utf8), to: pipe.write, until: child.pidfd, deadline: deadline)
        pipe.write.close()
        if let deadline, let pidfd = child.pidfd {
            var exited = false
            if fed { exited = try ProcessControl.waitReadable(pidfd, milliseconds: deadline.remainingMilliseconds) }
            if !exited {
                Glibc.kill(child.pid, SIGKILL)
                _ = try? ProcessControl.wait(child.pid)
                throw BerthError(.hook, "\(label): \(path) timed out after \(deadline.seconds) s")
            }
        }
        switch try ProcessControl.wait(child.pid) {
        case .exited(0): return
        case .exited(127): throw BerthError(.hook, "\(label): \(path) could not be executed")
        case .exited(let code): throw BerthError(.hook, "\(label): \(path) exited with status \(code)")
        case .signaled(let signal): throw BerthError(.hook, "\(label): \(path) was killed by signal \(signal)")
        }
    }

    /// Writes `bytes` to the hook's stdin for as long as the hook reads it. A hook need not read
    /// its stdin at all, and a state with large annotations does not fit in the pipe's buffer:
    /// the write end is non-blocking, and writing stops when the hook closes its end (EPIPE,
    /// with SIGPIPE ignored meanwhile, which would otherwise kill berth mid-create or leave an
    /// undeletable container behind a poststop hook), when it exits (its pidfd, in case a child
    /// of the hook holds the pipe open), or at the deadline. Returns false at the deadline.
    static func feed(_ bytes: [UInt8], to pipe: FileDescriptor, until pidfd: FileDescriptor?, deadline: Deadline?) -> Bool {
        let flags = berth_fcntl_int(pipe.rawValue, F_GETFL, 0)
        guard flags >= 0, berth_fcntl_int(pipe.rawValue, F_SETFL, flags | O_NONBLOCK) >= 0 else { return true }
        // Set after the hook was spawned, so the hook itself keeps the default action.
        let previous = Glibc.signal(SIGPIPE, SIG_IGN)
        defer { Glibc.signal(SIGPIPE, previous) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(pipe.rawValue, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if written > 0 { offset += written; continue }
            let code = Glibc.errno
            if written < 0 && code == EINTR { continue }
            // EPIPE: the hook closed its stdin; anything else is the hook's problem as well.
            guard written < 0 && code == EAGAIN else { return true }
            var entries = [pollfd(fd: pipe.rawValue, events: Int16(POLLOUT), revents: 0),
                           pollfd(fd: pidfd?.rawValue ?? -1, events: Int16(POLLIN), revents: 0)]
            let ready = Glibc.poll(&entries, 2, deadline?.remainingMilliseconds ?? -1)
            if ready == 0 { return false }
            if ready > 0 && entries[1].revents != 0 { return true }
        }
        return true
    }

    /// berth's own environment, which runc and crun give a hook without an `env`.
    static func runtimeEnvironment() -> [String] {
        var result: [String] = []
        var entry = Glibc.environ
        while let pointer = entry.pointee {
            result.append(String(cString: pointer))
            entry += 1
        }
        return result
    }
}

/// A point in time on the monotonic clock, for timeouts that span several waits.
struct Deadline {
    let seconds: Int
    let end: Int64

    init(seconds: Int) {
        self.seconds = seconds
        end = Deadline.nowMilliseconds() + Int64(seconds) * 1000
    }

    /// What is left, for poll(2): never negative, at most Int32.max.
    var remainingMilliseconds: Int32 { Int32(clamping: max(0, end - Deadline.nowMilliseconds())) }

    static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}

/// Runs `hooks` in order, stopping at the first failure.
public func runHooks(_ hooks: [HookCommand], state: String, defaultEnvironment: [String]? = nil) throws(BerthError) {
    for hook in hooks { try hook.run(state: state, defaultEnvironment: defaultEnvironment) }
}
