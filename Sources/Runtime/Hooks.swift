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

    /// Runs the hook with `state` (the OCI state JSON) on its stdin and waits for it. Its stdout
    /// and stderr are collected, as runc does, and quoted in the error when it fails: runc's
    /// `error running prestart hook #1: exit status 3, stdout: ..., stderr: ...`. A timed-out
    /// hook is killed. Without an `env` of its own the hook gets `defaultEnvironment`, or else
    /// berth's environment.
    public func run(state: String, defaultEnvironment: [String]? = nil) throws(BerthError) {
        // Looked for first, so that a missing hook is told apart from one that exits 127.
        if Glibc.access(path, X_OK) != 0 {
            throw BerthError(.hook, "\(runcName): fork/exec \(path)", errno: Glibc.errno)
        }
        let input = try makePipe()
        let output: (read: FileDescriptor, write: FileDescriptor), errors: (read: FileDescriptor, write: FileDescriptor)
        do { output = try makePipe() } catch { input.read.close(); input.write.close(); throw error }
        do { errors = try makePipe() } catch { for fd in [input.read, input.write, output.read, output.write] { fd.close() }; throw error }
        let child: (pid: pid_t, pidfd: FileDescriptor?)
        do {
            child = try ProcessControl.spawn(path: path, arguments: arguments.isEmpty ? [path] : arguments,
                                             environment: environment ?? defaultEnvironment ?? HookCommand.runtimeEnvironment(),
                                             standardInput: input.read, standardOutput: output.write, standardError: errors.write)
        } catch {
            for fd in [input.read, input.write, output.read, output.write, errors.read, errors.write] { fd.close() }
            throw error.prefixed("\(runcName): \(path)")
        }
        for fd in [input.read, output.write, errors.write] { fd.close() }
        defer { child.pidfd?.close() }
        let deadline = timeoutSeconds.map { Deadline(seconds: $0) }
        var exchange = HookExchange(state: Array(state.utf8), input: input.write, output: output.read, errors: errors.read)
        let finished = exchange.run(until: child.pidfd, deadline: deadline)
        exchange.close()
        if let deadline, !finished {
            Glibc.kill(child.pid, SIGKILL)
            _ = try? ProcessControl.wait(child.pid)
            throw BerthError(.hook, "\(runcName): hook ran past specified timeout of \(deadline.seconds).0s")
        }
        let status: String
        switch try ProcessControl.wait(child.pid) {
        case .exited(0): return
        case .exited(let code): status = "exit status \(code)"
        case .signaled(let signal): status = "signal: " + HookCommand.signalDescription(signal)
        }
        throw BerthError(.hook, "\(runcName): \(status), stdout: \(HookCommand.quoted(exchange.stdout)), stderr: \(HookCommand.quoted(exchange.stderr))")
    }

    /// The hook as runc names it in errors, `error running prestart hook #1`, from its label
    /// (`hooks.prestart[1]`).
    var runcName: String {
        let name = label.hasPrefix("hooks.") ? label.dropFirst(6) : label[...]
        guard let open = name.firstIndex(of: "["), name.hasSuffix("]") else { return "error running hook \(label)" }
        return "error running \(name[..<open]) hook #\(name[name.index(after: open)..<name.index(before: name.endIndex)])"
    }

    /// The hook's output on one line: a newline as `\n`, as runc's log line shows it, and
    /// other control characters escaped.
    static func quoted(_ bytes: [UInt8]) -> String {
        var text = ""
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            switch scalar {
            case "\n": text += "\\n"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f: text += "\\u{\(String(scalar.value, radix: 16))}"
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text
    }

    /// Go's words for a signal (`killed`, `terminated`), which runc's message carries.
    static func signalDescription(_ signal: Int32) -> String {
        guard let text = strsignal(signal).map({ String(cString: $0) }), let first = text.first else { return "signal \(signal)" }
        return first.lowercased() + text.dropFirst()
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
