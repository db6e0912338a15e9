import BerthCore
import CShim
import Glibc

/// Process creation, waiting and signalling.
public enum ProcessControl {
    /// clone3(2) as a fork: returns 0 in the child and the child's pid in the parent.
    /// `cgroup` places the child in that cgroup before it runs; `namespaces` are the clone flags.
    public static func clone(namespaces: UInt64 = 0, cgroup: FileDescriptor? = nil) throws(BerthError) -> (pid: pid_t, pidfd: FileDescriptor?) {
        var pidfd: Int32 = -1
        let pid: pid_t
        do { pid = try sys("clone3") { berth_clone3(namespaces, SIGCHLD, cgroup?.rawValue ?? -1, &pidfd) } } catch where error.errno == ENOSYS && namespaces == 0 && cgroup == nil {
            // A seccomp filter that answers clone3 with ENOSYS (docker's profile, so that libcs
            // fall back): a startContainer hook is spawned under the container's filter.
            return (try sys("fork") { Glibc.fork() }, nil)
        }
        return (pid, pid == 0 || pidfd < 0 ? nil : FileDescriptor(rawValue: pidfd))
    }

    /// How a process ended.
    public enum Termination: Equatable, Sendable {
        case exited(Int32)
        case signaled(Int32)

        /// The shell's convention: the exit code, or 128+N for signal N.
        public var shellStatus: Int32 {
            switch self {
            case .exited(let code): code
            case .signaled(let signal): 128 + signal
            }
        }
    }

    /// waitpid(2) for `pid`, blocking.
    public static func wait(_ pid: pid_t) throws(BerthError) -> Termination {
        var status: Int32 = 0
        try sys("waitpid") { Glibc.waitpid(pid, &status, 0) }
        return termination(status)
    }

    /// waitpid(2) with WNOHANG: nil while the child is running.
    public static func poll(_ pid: pid_t) throws(BerthError) -> Termination? {
        var status: Int32 = 0
        let got = try sys("waitpid") { Glibc.waitpid(pid, &status, WNOHANG) }
        return got == 0 ? nil : termination(status)
    }

    static func termination(_ status: Int32) -> Termination {
        // The W* macros are not imported into Swift; these are their definitions.
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    /// pidfd_open(2): a handle that keeps naming this process even after its pid is reused.
    public static func openPidfd(_ pid: pid_t) throws(BerthError) -> FileDescriptor {
        FileDescriptor(rawValue: try sys("pidfd_open", "pid \(pid)") { berth_pidfd_open(pid, 0) })
    }

    public static func signal(pidfd: FileDescriptor, _ signal: Int32) throws(BerthError) {
        try sys("pidfd_send_signal") { berth_pidfd_send_signal(pidfd.rawValue, signal, 0) }
    }

    /// execve(2) of an absolute path. Returns only by throwing.
    public static func exec(path: String, arguments: [String], environment: [String]) throws(BerthError) -> Never {
        throw LiveKernel().exec(path: path, arguments: arguments, environment: environment)
    }

    /// Starts `path` as a child process, in `cgroup` when given. Everything the child needs is
    /// prepared before clone, so the child only calls execve: safe in a threaded parent.
    /// `standardInput`, `standardOutput` and `standardError` replace the child's stdio when given.
    public static func spawn(path: String, arguments: [String], environment: [String], cgroup: FileDescriptor? = nil, standardInput: FileDescriptor? = nil,
                             standardOutput: FileDescriptor? = nil, standardError: FileDescriptor? = nil) throws(BerthError) -> (pid: pid_t, pidfd: FileDescriptor?) {
        let argv = cStrings(arguments)
        let envp = cStrings(environment)
        defer { freeCStrings(argv, count: arguments.count); freeCStrings(envp, count: environment.count) }
        let child = try clone(cgroup: cgroup)
        if child.pid == 0 {
            if let standardInput { _ = berth_dup3(standardInput.rawValue, 0, 0) }
            if let standardOutput { _ = berth_dup3(standardOutput.rawValue, 1, 0) }
            if let standardError { _ = berth_dup3(standardError.rawValue, 2, 0) }
            // Only stdio reaches the hook, as with runc: not whatever berth's caller left open.
            markCloseOnExec(from: 3)
            // Not the signals a foreground `berth run` holds for forwarding.
            berth_unblock_all_signals()
            Glibc.execve(path, argv, envp)
            Glibc._exit(127)
        }
        return child
    }

    /// Waits up to `milliseconds` for the process behind `pidfd` to end (poll(2) on the pidfd).
    /// Returns false on timeout.
    public static func waitReadable(_ fd: FileDescriptor, milliseconds: Int32) throws(BerthError) -> Bool {
        var entry = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        return try sys("poll") { Glibc.poll(&entry, 1, milliseconds) } > 0
    }

    static func freeCStrings(_ array: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, count: Int) {
        for index in 0..<count { free(array[index]) }
        array.deallocate()
    }

    /// A NULL-terminated array of C strings. The memory is deliberately never freed: it is used
    /// only right before exec, which discards the whole address space.
    static func cStrings(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { array[index] = strdup(string) }
        array[strings.count] = nil
        return array
    }

    /// Closes every descriptor from `first` up, except those the caller keeps.
    public static func closeDescriptors(from first: Int32) {
        LiveKernel().closeRange(first, -1, closeOnExec: false)
    }

    /// Marks every descriptor from `first` up close-on-exec (CLOSE_RANGE_CLOEXEC).
    public static func markCloseOnExec(from first: Int32) {
        LiveKernel().closeRange(first, -1, closeOnExec: true)
    }

    public static func prctl(_ option: Int32, _ arg: UInt = 0, describing name: String) throws(BerthError) {
        try LiveKernel().prctl(option, arg, describing: name)
    }

    /// True when `pid` has exited but is not yet reaped.
    public static func isZombie(_ pid: pid_t) -> Bool {
        guard let stat = try? Files.readString("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].dropFirst().first == "Z"
    }

    /// The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat): with
    /// the pid it names one process across pid reuse.
    public static func startTime(_ pid: pid_t) -> UInt64? {
        guard let stat = try? Files.readString("/proc/\(pid)/stat"),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields after the command start at field 3 (state); the start time is field 22.
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }
}

/// prctl(2) options; glibc defines them as macros Swift does not import.
public enum Prctl {
    public static let setParentDeathSignal: Int32 = 1
    public static let setDumpable: Int32 = 4
    public static let setKeepCapabilities: Int32 = 8
    public static let setChildSubreaper: Int32 = 36
    public static let setNoNewPrivileges: Int32 = 38
}

extension KernelCalls {
    /// Resolves `command` through `PATH` the way execvp(3) does, but against the container's
    /// environment and within the current root.
    public func lookUp(_ command: String, path: String?) -> String? {
        if command.contains("/") { return command }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + command
            if let info = try? status(of: candidate, followingLinks: true), (info.st_mode & S_IFMT) == S_IFREG, (try? access(candidate, X_OK)) != nil {
                return candidate
            }
        }
        return nil
    }
}
