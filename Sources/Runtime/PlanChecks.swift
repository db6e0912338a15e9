import BerthCore
import CShim
import Glibc
import Linux
import Seccomp
import OCI

extension LaunchPlan {
    /// Fields berth does not implement yet. Each is refused by its JSON path rather than
    /// silently ignored: a container must never run with less isolation than its config asks.
    static func refuseUnsupported(_ spec: Spec) throws(BerthError) {
        func refuse(_ path: String, _ what: String) throws(BerthError) -> Never {
            throw BerthError(.unsupported, "\(path): \(what) is not supported by this version of berth yet")
        }
        if let process = spec.process {
            if process.apparmorProfile?.isEmpty == false { try refuse("process.apparmorProfile", "AppArmor") }
            if process.selinuxLabel?.isEmpty == false { try refuse("process.selinuxLabel", "SELinux") }
        }
        guard let linux = spec.linux else { return }
        if linux.mountLabel?.isEmpty == false { try refuse("linux.mountLabel", "SELinux") }
    }

    /// Without a mount namespace of the container's own, the init is in the host's: whatever
    /// mounts (or pivots, or changes propagation) would do so on the host, as runc does there.
    /// berth refuses each such field and only chroots into the rootfs.
    static func refuseMountsWithoutMountNamespace(_ spec: Spec, createsUser: Bool) throws(BerthError) {
        func refuse(_ path: String) throws(BerthError) -> Never {
            throw BerthError(.invalidConfig, "\(path): needs a mount namespace of the container's own (none in linux.namespaces), or it would mount on the host")
        }
        if spec.mounts?.isEmpty == false { try refuse("mounts") }
        if spec.root?.readonly == true { try refuse("root.readonly") }
        guard let linux = spec.linux else { return }
        if linux.maskedPaths?.isEmpty == false { try refuse("linux.maskedPaths") }
        if linux.readonlyPaths?.isEmpty == false { try refuse("linux.readonlyPaths") }
        if linux.rootfsPropagation?.isEmpty == false { try refuse("linux.rootfsPropagation") }
        if createsUser {
            // In a user namespace device nodes are bind mounts of the host's.
            throw BerthError(.invalidConfig, "linux.namespaces: a user namespace needs a mount namespace of the container's own too, or the device nodes would be bound on the host")
        }
    }

    /// `linux.timeOffsets`, checked: only the clocks a time namespace can shift, and only with a
    /// new time namespace to shift them in.
    static func timeOffsets(_ linux: LinuxConfig, createsTimeNamespace: Bool) throws(BerthError) -> [TimeOffset] {
        guard let offsets = linux.timeOffsets, !offsets.isEmpty else { return [] }
        guard createsTimeNamespace else {
            throw BerthError(.invalidConfig, "linux.timeOffsets: needs a new time namespace in linux.namespaces")
        }
        return try offsets.sorted(by: { $0.key < $1.key }).map { (clock, offset) throws(BerthError) in
            guard clock == "monotonic" || clock == "boottime" else {
                throw BerthError(.invalidConfig, "linux.timeOffsets[\"\(clock)\"]: only monotonic and boottime can be offset")
            }
            let nanoseconds = offset.nanosecs ?? 0
            guard nanoseconds < 1_000_000_000 else {
                throw BerthError(.invalidConfig, "linux.timeOffsets[\"\(clock)\"].nanosecs: must be below 1000000000")
            }
            return TimeOffset(clock: clock, seconds: offset.secs ?? 0, nanoseconds: nanoseconds)
        }
    }
}

extension LaunchPlan {
    /// A sysctl is written from inside the container, but only some belong to a namespace of
    /// the container; any other (kernel.core_pattern, vm.*, ...) is the host's one value, and a
    /// config must not change it. Allowed, as runc allows them: the IPC ones with an ipc
    /// namespace, net.* with a network namespace, kernel.domainname with a uts namespace, each
    /// new or joined by path but not the host's own.
    static func checkSysctlIsNamespaced(_ name: String, new: [NamespaceKind], joined: [(kind: NamespaceKind, path: String)]) throws(BerthError) {
        let label = "linux.sysctl[\"\(name)\"]"
        func require(_ kind: NamespaceKind) throws(BerthError) {
            if new.contains(kind) { return }
            if let path = joined.first(where: { $0.kind == kind })?.path, !isHostNamespace(kind, path: path) { return }
            throw BerthError(.invalidConfig, "\(label): needs a \(kind.rawValue) namespace of the container's own; in the host's it would change the host")
        }
        let ipc: Set<String> = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                                "kernel.shmmni", "kernel.shm_rmid_forced"]
        if ipc.contains(name) || name.hasPrefix("fs.mqueue.") { return try require(.ipc) }
        if name.hasPrefix("net.") { return try require(.network) }
        if name == "kernel.domainname" { return try require(.uts) }
        if name == "kernel.hostname" { throw BerthError(.invalidConfig, "\(label): set `hostname` instead") }
        throw BerthError(.invalidConfig, "\(label): not in any namespace of the container, so it would change the host")
    }

    /// True when the namespace file at `path` is the one berth itself is in (the host's).
    static func isHostNamespace(_ kind: NamespaceKind, path: String) -> Bool {
        var theirs = Glibc.stat(), ours = Glibc.stat()
        guard Glibc.fstatat(AT_FDCWD, path, &theirs, 0) == 0, Glibc.fstatat(AT_FDCWD, "/proc/self/ns/\(kind.procName)", &ours, 0) == 0 else { return false }
        return theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev
    }
}

extension LaunchPlan {
    public struct TimeOffset: Equatable, Sendable {
        public var clock: String
        public var seconds: Int64
        public var nanoseconds: UInt32
        /// A line of /proc/PID/timens_offsets.
        public var line: String { "\(clock) \(seconds) \(nanoseconds)\n" }
    }
}

extension LaunchPlan {
    /// Compiles linux.seccomp (cached in `cache` when given) and passes on libseccomp's warnings.
    /// `allowListener` is false for `exec`, which does not hand a notify listener on yet.
    static func seccompProgram(_ seccomp: LinuxSeccomp?, cache: SeccompCache?, allowListener: Bool = true) throws(BerthError) -> SeccompProgram? {
        guard let seccomp else { return nil }
        let program = try SeccompProgram.compile(seccomp, cache: cache)
        if program.needsListener && !allowListener {
            throw BerthError(.unsupported, "linux.seccomp: SCMP_ACT_NOTIFY for processes started by exec is not supported yet")
        }
        for warning in program.warnings { warn(warning) }
        return program
    }
}

extension LaunchPlan {
    /// A string reaches the kernel (and libseccomp) as a C string, cut at its first NUL byte:
    /// `tr\u0000ue` would run tr, `A=visible\u0000hidden` set A=visible. Every string of the
    /// config that reaches the kernel is refused with one, by its JSON path, as runc refuses
    /// them ("can't contain null"). Fields that are enums, or checked against a list of names
    /// (capabilities, rlimits, rootfsPropagation, timeOffsets), cannot hold one; annotations
    /// and listenerMetadata only go into JSON. Walked field by field rather than through an
    /// encoder: the check is on every create's path.
    static func refuseNULBytes(in spec: Spec) throws(BerthError) {
        try NULCheck.string(spec.hostname, "hostname")
        try NULCheck.string(spec.domainname, "domainname")
        try NULCheck.string(spec.root?.path, "root.path")
        for (index, mount) in (spec.mounts ?? []).enumerated() {
            try NULCheck.string(mount.destination, "mounts[\(index)].destination")
            try NULCheck.string(mount.source, "mounts[\(index)].source")
            try NULCheck.string(mount.type, "mounts[\(index)].type")
            try NULCheck.strings(mount.options, "mounts[\(index)].options")
        }
        if let process = spec.process { try refuseNULBytes(in: process, label: "process") }
        if let hooks = spec.hooks {
            for (name, list) in [("prestart", hooks.prestart), ("createRuntime", hooks.createRuntime), ("createContainer", hooks.createContainer),
                                 ("startContainer", hooks.startContainer), ("poststart", hooks.poststart), ("poststop", hooks.poststop)] {
                for (index, hook) in (list ?? []).enumerated() {
                    try NULCheck.string(hook.path, "hooks.\(name)[\(index)].path")
                    try NULCheck.strings(hook.args, "hooks.\(name)[\(index)].args")
                    try NULCheck.strings(hook.env, "hooks.\(name)[\(index)].env")
                }
            }
        }
        guard let linux = spec.linux else { return }
        for (index, namespace) in (linux.namespaces ?? []).enumerated() { try NULCheck.string(namespace.path, "linux.namespaces[\(index)].path") }
        try NULCheck.map(linux.sysctl, "linux.sysctl")
        try NULCheck.string(linux.cgroupsPath, "linux.cgroupsPath")
        try NULCheck.strings(linux.maskedPaths, "linux.maskedPaths")
        try NULCheck.strings(linux.readonlyPaths, "linux.readonlyPaths")
        for (index, device) in (linux.devices ?? []).enumerated() { try NULCheck.string(device.path, "linux.devices[\(index)].path") }
        if let seccomp = linux.seccomp {
            try NULCheck.string(seccomp.listenerPath, "linux.seccomp.listenerPath")
            for (index, syscall) in (seccomp.syscalls ?? []).enumerated() { try NULCheck.strings(syscall.names, "linux.seccomp.syscalls[\(index)].names") }
        }
        if let resources = linux.resources {
            // Names and values of cgroup files.
            try NULCheck.map(resources.unified, "linux.resources.unified")
            try NULCheck.string(resources.cpu?.cpus, "linux.resources.cpu.cpus")
            try NULCheck.string(resources.cpu?.mems, "linux.resources.cpu.mems")
            for (index, limit) in (resources.hugepageLimits ?? []).enumerated() {
                try NULCheck.string(limit.pageSize, "linux.resources.hugepageLimits[\(index)].pageSize")
            }
            for (index, rule) in (resources.devices ?? []).enumerated() { try NULCheck.string(rule.access, "linux.resources.devices[\(index)].access") }
            for (index, priority) in (resources.network?.priorities ?? []).enumerated() {
                try NULCheck.string(priority.name, "linux.resources.network.priorities[\(index)].name")
            }
            for name in (resources.rdma ?? [:]).keys { try NULCheck.string(name, "linux.resources.rdma") }
        }
    }

    /// The process's strings: also what `exec` checks of a process.json.
    static func refuseNULBytes(in process: OCI.Process, label: String) throws(BerthError) {
        try NULCheck.strings(process.args, "\(label).args")
        try NULCheck.strings(process.env, "\(label).env")
        try NULCheck.string(process.cwd, "\(label).cwd")
    }
}

/// The NUL byte checks of `refuseNULBytes`; the label is only built for an error.
private enum NULCheck {
    static func string(_ value: String?, _ label: @autoclosure () -> String) throws(BerthError) {
        guard let value, value.utf8.contains(0) else { return }
        throw BerthError(.invalidConfig, "\(label()): can't contain a NUL byte")
    }

    static func strings(_ values: [String]?, _ label: @autoclosure () -> String) throws(BerthError) {
        for (index, value) in (values ?? []).enumerated() where value.utf8.contains(0) {
            throw BerthError(.invalidConfig, "\(label())[\(index)]: can't contain a NUL byte")
        }
    }

    static func map(_ values: [String: String]?, _ label: @autoclosure () -> String) throws(BerthError) {
        for (key, value) in values ?? [:] where key.utf8.contains(0) || value.utf8.contains(0) {
            throw BerthError(.invalidConfig, "\(label())[\"\(ErrorText.short(key))\"]: can't contain a NUL byte")
        }
    }
}

/// The kernel's limits on what a config passes it, checked before anything is created: past
/// them a call fails halfway through setup (ENAMETOOLONG, EINVAL, E2BIG), or in the init
/// with the whole value in its error line.
enum KernelLimits {
    /// PATH_MAX, counting the terminating NUL.
    static let pathMax = 4096
    /// NAME_MAX: one component of a path.
    static let nameMax = 255
    /// HOST_NAME_MAX, also the limit of setdomainname(2).
    static let hostNameMax = 64
    /// sizeof(sun_path), counting the terminating NUL.
    static let socketPathMax = 108
    /// MAX_ARG_STRLEN: one argument or environment string with its NUL, 32 pages.
    static var argumentStringMax: Int { 32 * Int(sysconf(Int32(_SC_PAGESIZE))) }

    static func checkPath(_ path: String, label: String) throws(BerthError) {
        let length = path.utf8.count
        if length >= pathMax {
            throw BerthError(.invalidConfig, "\(label): \(length) bytes, longer than the kernel's limit of \(pathMax - 1) for a path")
        }
        if let long = path.utf8.split(separator: UInt8(ascii: "/")).first(where: { $0.count > nameMax }) {
            throw BerthError(.invalidConfig, "\(label): a component of \(long.count) bytes, longer than the kernel's limit of \(nameMax)")
        }
    }

    static func checkName(_ name: String?, label: String) throws(BerthError) {
        guard let name, name.utf8.count > hostNameMax else { return }
        throw BerthError(.invalidConfig, "\(label): \(name.utf8.count) bytes, longer than the kernel's limit of \(hostNameMax)")
    }

    /// What execve(2) accepts: each string below MAX_ARG_STRLEN, and all of them with their
    /// pointers within the limit fs/exec.c derives from the stack's soft limit (a quarter of
    /// it, at most 6 MiB, at least 128 KiB).
    static func checkExec(arguments: [String], environment: [String], stackLimit: UInt64, label: String) throws(BerthError) {
        var total = 0
        for (name, list) in [("args", arguments), ("env", environment)] {
            for (index, string) in list.enumerated() {
                let size = string.utf8.count + 1
                if size > argumentStringMax {
                    throw BerthError(.invalidConfig, "\(label).\(name)[\(index)]: \(size - 1) bytes, longer than the kernel's limit of \(argumentStringMax - 1) for one string")
                }
                total += size
            }
        }
        let limit = max(min(6 << 20, stackLimit / 4), 128 << 10)
        let pointers = UInt64((max(arguments.count, 1) + environment.count) * MemoryLayout<UnsafeRawPointer>.size)
        if UInt64(total) + pointers > limit {
            throw BerthError(.invalidConfig, "\(label): args and env take \(UInt64(total) + pointers) bytes, more than the \(limit) execve accepts with this stack limit")
        }
    }

    /// The soft stack limit the process will exec with: its own RLIMIT_STACK, else berth's.
    static func stackLimit(_ rlimits: [LaunchPlan.Rlimit]) -> UInt64 {
        if let stack = rlimits.first(where: { $0.name == "RLIMIT_STACK" }) { return stack.soft }
        var current = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_STACK.rawValue), &current) == 0 else { return 8 << 20 }
        return UInt64(current.rlim_cur)
    }
}

extension LaunchPlan {
    /// The limits of `KernelLimits` for the parts of the config outside `process` (whose
    /// checks are in processPlan, shared with exec) and outside the hooks (hookSet).
    static func checkKernelLimits(_ spec: Spec) throws(BerthError) {
        try KernelLimits.checkName(spec.hostname, label: "hostname")
        try KernelLimits.checkName(spec.domainname, label: "domainname")
        if let root = spec.root { try KernelLimits.checkPath(root.path, label: "root.path") }
        for (index, mount) in (spec.mounts ?? []).enumerated() {
            try KernelLimits.checkPath(mount.destination, label: "mounts[\(index)].destination")
            if let source = mount.source { try KernelLimits.checkPath(source, label: "mounts[\(index)].source") }
        }
        guard let linux = spec.linux else { return }
        for (index, path) in (linux.maskedPaths ?? []).enumerated() { try KernelLimits.checkPath(path, label: "linux.maskedPaths[\(index)]") }
        for (index, path) in (linux.readonlyPaths ?? []).enumerated() { try KernelLimits.checkPath(path, label: "linux.readonlyPaths[\(index)]") }
        for (index, device) in (linux.devices ?? []).enumerated() { try KernelLimits.checkPath(device.path, label: "linux.devices[\(index)].path") }
        for (index, namespace) in (linux.namespaces ?? []).enumerated() {
            if let path = namespace.path { try KernelLimits.checkPath(path, label: "linux.namespaces[\(index)].path") }
        }
        if let path = linux.cgroupsPath { try KernelLimits.checkPath(path, label: "linux.cgroupsPath") }
        for name in (linux.sysctl ?? [:]).keys {
            // Written as /proc/sys/net/ipv4/ip_forward: each dot is a directory.
            try KernelLimits.checkPath("/proc/sys/" + name.split(separator: ".", omittingEmptySubsequences: false).joined(separator: "/"),
                                       label: "linux.sysctl[\"\(ErrorText.short(name))\"]")
        }
        if let path = linux.seccomp?.listenerPath, path.utf8.count >= KernelLimits.socketPathMax {
            throw BerthError(.invalidConfig, "linux.seccomp.listenerPath: \(path.utf8.count) bytes, longer than the \(KernelLimits.socketPathMax - 1) a unix socket path may have")
        }
    }
}

/// Config values quoted in error lines.
enum ErrorText {
    /// `value` fit for a one-line error: control characters escaped (a NUL or a newline would
    /// cut or split the line) and anything past 128 characters left out, with the full length.
    static func short(_ value: String) -> String {
        var text = ""
        var count = 0
        for scalar in value.unicodeScalars {
            if count == 128 { return text + "... (\(value.utf8.count) bytes)" }
            text += scalar.value < 0x20 || scalar.value == 0x7f ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
            count += 1
        }
        return text
    }
}

extension LaunchPlan {
    /// `linux.memoryPolicy` as set_mempolicy(2) takes it, checked against the runtime-spec's
    /// values and the kernel's rules, so that a policy the kernel would refuse (or misread) is
    /// an error naming its field before anything is created.
    public struct MemoryPolicy: Equatable, Sendable {
        /// The MPOL_* mode or'ed with its MPOL_F_* flags.
        public var mode: Int32
        /// The node mask, 64 nodes a word.
        public var nodeMask: [UInt]

        public static let modes: [String: Int32] = [
            "MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3, "MPOL_LOCAL": 4,
            "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6,
        ]
        public static let flags: [String: Int32] = ["MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14, "MPOL_F_STATIC_NODES": 1 << 15]
        /// The kernel's MAX_NUMNODES at its largest (NODES_SHIFT 10).
        static let maxNodes = 1024

        init(_ policy: LinuxMemoryPolicy) throws(BerthError) {
            let label = "linux.memoryPolicy"
            guard let mode = MemoryPolicy.modes[policy.mode] else {
                throw BerthError(.invalidConfig, "\(label).mode: unknown mode \"\(ErrorText.short(policy.mode))\"")
            }
            var flags: Int32 = 0
            for (index, name) in (policy.flags ?? []).enumerated() {
                guard let flag = MemoryPolicy.flags[name] else { throw BerthError(.invalidConfig, "\(label).flags[\(index)]: unknown flag \"\(ErrorText.short(name))\"") }
                flags |= flag
            }
            let both = MemoryPolicy.flags["MPOL_F_RELATIVE_NODES", default: 0] | MemoryPolicy.flags["MPOL_F_STATIC_NODES", default: 0]
            if flags & both == both { throw BerthError(.invalidConfig, "\(label).flags: MPOL_F_RELATIVE_NODES and MPOL_F_STATIC_NODES exclude each other") }
            let nodes = try MemoryPolicy.nodeMask(policy.nodes ?? "", label: "\(label).nodes")
            let empty = nodes.allSatisfy { $0 == 0 }
            switch policy.mode {
            case "MPOL_DEFAULT", "MPOL_LOCAL":
                if !empty { throw BerthError(.invalidConfig, "\(label).nodes: \(policy.mode) takes no nodes") }
                if flags != 0 { throw BerthError(.invalidConfig, "\(label).flags: \(policy.mode) takes no flags") }
            case "MPOL_PREFERRED":
                break
            default:
                if empty { throw BerthError(.invalidConfig, "\(label).nodes: \(policy.mode) needs at least one node") }
            }
            if flags & MemoryPolicy.flags["MPOL_F_NUMA_BALANCING", default: 0] != 0 && policy.mode != "MPOL_BIND" {
                throw BerthError(.invalidConfig, "\(label).flags: MPOL_F_NUMA_BALANCING goes with MPOL_BIND only")
            }
            self.mode = mode | flags
            nodeMask = nodes
        }

        /// A node list (`0-3,7`) as a bit mask of `maxNodes` bits; empty text is no node.
        static func nodeMask(_ text: String, label: String) throws(BerthError) -> [UInt] {
            let mask = try IDList.mask(text, below: maxNodes, lenient: false, what: "node", label: label)
            return mask + [UInt](repeating: 0, count: maxNodes / 64 - mask.count)
        }

        /// set_mempolicy(2) for the calling thread; execve keeps the policy.
        func apply<Kernel: KernelCalls>(_ kernel: Kernel) throws(BerthError) {
            do {
                try kernel.setMemoryPolicy(mode: mode, nodeMask: nodeMask)
            } catch { throw error.prefixed("linux.memoryPolicy") }
        }
    }
}

extension ErrorText {
    /// A message cut to `limit` bytes at most, for channels with a size (the init's report).
    static func line(_ message: String, limit: Int = 2048) -> String {
        guard message.utf8.count > limit else { return message }
        var text = ""
        var size = 0
        for scalar in message.unicodeScalars {
            size += String(scalar).utf8.count
            if size > limit - 24 { break }
            text.unicodeScalars.append(scalar)
        }
        return text + "... (\(message.utf8.count) bytes)"
    }
}
