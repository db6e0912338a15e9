import BerthCore
import Glibc
import Linux
import OCI
import Seccomp

/// Becoming the configured user with the configured capabilities, shared by the init and exec.
struct ProcessIdentity<Kernel: KernelCalls> {
    let process: LaunchPlan.ProcessPlan
    let seccomp: SeccompProgram?
    let kernel: Kernel
    /// The seccomp agent's socket and the message that goes with the listener fd.
    var agent: (socket: FileDescriptor, message: String)?

    init(process: LaunchPlan.ProcessPlan, seccomp: SeccompProgram?, kernel: Kernel) {
        self.process = process
        self.seccomp = seccomp
        self.kernel = kernel
    }

    func apply() throws(BerthError) {
        // Without no_new_privs the kernel loads a filter only for a holder of CAP_SYS_ADMIN, so
        // the filter goes on before the capabilities go. It must then allow what follows.
        if !process.noNewPrivileges { try loadSeccomp() }
        // The bounding set can only shrink while we still hold CAP_SETPCAP, so before setuid.
        if let caps = process.capabilities { try kernel.limitBoundingSet(to: caps.bounding) }
        // The working directory is entered while still root, as runc does: a user may run in a
        // directory it could not enter itself (`exec --user 1000 --cwd /root`). Where root is
        // refused (a root-squashed network mount), the user tries after the switch.
        var enteredAsRoot = true
        do { try kernel.changeDirectory(process.cwd, describing: process.cwd) } catch where error.errno == EACCES || error.errno == EPERM {
            enteredAsRoot = false
        }
        // Keep the permitted set across setuid; the configured sets are applied right after.
        try kernel.prctl(Prctl.setKeepCapabilities, 1, describing: "PR_SET_KEEPCAPS")
        if !process.keepsGroups { try kernel.setGroups(process.additionalGids) }
        try kernel.setGroupIDs(process.gid)
        try kernel.setUserIDs(process.uid)
        try kernel.prctl(Prctl.setKeepCapabilities, 0, describing: "PR_SET_KEEPCAPS")
        if let caps = process.capabilities { try kernel.applyCapabilities(caps) }
        // A change of credentials sets the dumpable flag to fs.suid_dumpable, which a host may
        // have set to 1: clear it again, berth's image stays mapped until execve (CVE-2019-5736).
        try kernel.prctl(Prctl.setDumpable, 0, describing: "PR_SET_DUMPABLE")
        kernel.setUmask(mode_t(process.umask ?? 0o022))
        if !enteredAsRoot { try kernel.changeDirectory(process.cwd, describing: process.cwd) }
        // A cwd reached through a leaked descriptor would lie outside the root (CVE-2024-21626).
        guard let cwd = kernel.currentDirectory(), cwd.hasPrefix("/") else {
            throw BerthError(.system, "process.cwd: \(ErrorText.short(process.cwd)) is outside the container's root")
        }
        if process.noNewPrivileges {
            try kernel.prctl(Prctl.setNoNewPrivileges, 1, describing: "PR_SET_NO_NEW_PRIVS")
            // Last before exec, so the filter need not allow the runtime's own calls.
            try loadSeccomp()
        }
    }

    private func loadSeccomp() throws(BerthError) {
        guard let seccomp else { return }
        let listener = try seccomp.load(using: kernel.seccomp)
        guard let listener, let agent else { return }
        // The runtime-spec's hand-off: one message, the process state as data, the listener as
        // SCM_RIGHTS. Should the filter notify sendmsg itself, this blocks: as in runc, a profile
        // must leave sendmsg to the runtime.
        let listenerFD = FileDescriptor(rawValue: listener)
        try kernel.sendDescriptor(listenerFD, over: agent.socket, payload: agent.message, describing: "linux.seccomp.listenerPath")
        kernel.close(listenerFD)
        kernel.close(agent.socket)
    }
}

/// HOME for a process whose environment has none, from the user's entry in the container's
/// /etc/passwd, as runc and crun set it; "/" when there is no entry, as in runc. Called in the
/// container's root (after pivot_root, or in exec after joining the mount namespace).
enum HomeDirectory {
    static func environment<Kernel: KernelCalls>(_ process: LaunchPlan.ProcessPlan, kernel: Kernel) -> [String] {
        if process.environment.contains(where: { $0.hasPrefix("HOME=") }) { return process.environment }
        return process.environment + ["HOME=" + (home(of: process.uid, kernel: kernel) ?? "/")]
    }

    /// The container's file is the image's: resolved inside the root without magic links (a
    /// link to /proc/1/root/... in a shared pid namespace would read the host's), opened
    /// without blocking (a fifo), read only when it is a regular file, and only so much of it.
    static func home<Kernel: KernelCalls>(of uid: UInt32, kernel: Kernel) -> String? {
        guard let root = try? Rootfs(path: "/", kernel: kernel) else { return nil }
        defer { root.close() }
        guard let file = try? root.open("/etc/passwd", O_RDONLY | O_NONBLOCK) else { return nil }
        defer { kernel.close(file) }
        guard let info = try? kernel.status(of: file, describing: "/etc/passwd"), (info.st_mode & S_IFMT) == S_IFREG,
              let bytes = try? kernel.readAll(file, limit: 4 << 20) else { return nil }
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            // name:password:uid:gid:gecos:home:shell
            let fields = line.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            guard fields.count >= 6, UInt32(String(decoding: fields[2], as: UTF8.self)) == uid else { continue }
            let home = String(decoding: fields[5], as: UTF8.self)
            return home.isEmpty || home.utf8.contains(0) ? nil : home
        }
        return nil
    }
}

/// How many descriptors from 3 up the process keeps: --preserve-fds or LISTEN_FDS, the larger.
func keptDescriptorCount(_ process: LaunchPlan.ProcessPlan, preserveFDs: Int32) -> Int32 {
    var keep = max(preserveFDs, 0)
    if let listen = process.environment.last(where: { $0.hasPrefix("LISTEN_FDS=") }), let count = Int32(listen.dropFirst(11)) {
        keep = max(keep, count)
    }
    // A LISTEN_FDS of the image's (`ENV LISTEN_FDS=2147483647`) must not overflow `3 + keep`.
    return min(keep, Int32.max - 3)
}

/// Exec of the container's process: descriptors beyond stdio and the preserved ones are closed
/// on exec, and the command is looked up in the container's PATH.
func execProcess<Kernel: KernelCalls>(_ process: LaunchPlan.ProcessPlan, preserveFDs: Int32, kernel: Kernel) throws(BerthError) -> Never {
    // Nothing but stdio, LISTEN_FDS and --preserve-fds may reach the container (CVE-2024-21626).
    kernel.closeRange(3 + keptDescriptorCount(process, preserveFDs: preserveFDs), -1, closeOnExec: true)
    guard let command = process.arguments.first else { throw BerthError(.invalidConfig, "process.args: must not be empty") }
    guard let path = kernel.lookUp(command, path: process.searchPath) else {
        throw BerthError(.invalidConfig, "process.args[0]: \"\(ErrorText.short(command))\": executable file not found in $PATH")
    }
    throw kernel.exec(path: path, arguments: process.arguments, environment: process.environment)
}
