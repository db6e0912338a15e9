import Glibc
import Linux

/// One OCI hook, ready to run: `label` names it in errors as its config.json path does.
public struct HookCommand: Equatable, Sendable {
    public var label: String
    public var path: String
    public var arguments: [String]
    public var environment: [String]
    public var timeoutSeconds: Int?

    public init(label: String, path: String, arguments: [String], environment: [String], timeoutSeconds: Int?) {
        self.label = label
        self.path = path
        self.arguments = arguments
        self.environment = environment
        self.timeoutSeconds = timeoutSeconds
    }

    /// Runs the hook with `state` (the OCI state JSON) on its stdin and waits for it. A non-zero
    /// exit or a timeout is an error naming the hook; a timed-out hook is killed.
    public func run(state: String) throws(BerthError) {
        let pipe = try makePipe()
        let child: (pid: pid_t, pidfd: FileDescriptor?)
        do {
            child = try ProcessControl.spawn(path: path, arguments: arguments.isEmpty ? [path] : arguments,
                                             environment: environment, standardInput: pipe.read)
        } catch {
            pipe.read.close()
            pipe.write.close()
            throw error.prefixed("\(label): \(path)")
        }
        pipe.read.close()
        // A hook that never reads its stdin must not block us: the state fits in the pipe buffer.
        try? pipe.write.writeAll(state)
        pipe.write.close()
        defer { child.pidfd?.close() }
        if let timeoutSeconds, let pidfd = child.pidfd {
            if !(try ProcessControl.waitReadable(pidfd, milliseconds: Int32(clamping: timeoutSeconds * 1000))) {
                Glibc.kill(child.pid, SIGKILL)
                _ = try? ProcessControl.wait(child.pid)
                throw BerthError(.hook, "\(label): \(path) timed out after \(timeoutSeconds) s")
            }
        }
        switch try ProcessControl.wait(child.pid) {
        case .exited(0): return
        case .exited(127): throw BerthError(.hook, "\(label): \(path) could not be executed")
        case .exited(let code): throw BerthError(.hook, "\(label): \(path) exited with status \(code)")
        case .signaled(let signal): throw BerthError(.hook, "\(label): \(path) was killed by signal \(signal)")
        }
    }
}

/// Runs `hooks` in order, stopping at the first failure.
public func runHooks(_ hooks: [HookCommand], state: String) throws(BerthError) {
    for hook in hooks { try hook.run(state: state) }
}
