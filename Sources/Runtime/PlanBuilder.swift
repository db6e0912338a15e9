import BerthCore
import Cgroup2
import Glibc
import Linux
import OCI
import Seccomp

extension LaunchPlan {
    /// Validates a decoded config.json into a plan. Every error names the JSON path of the field
    /// at fault, and nothing on the system is touched.
    /// `seccompCache` keeps compiled filters between runs (compiling a large profile takes
    /// milliseconds, loading a cached one microseconds).
    public init(spec: Spec, id: String, bundle: String, usePivotRoot: Bool = true, seccompCache: SeccompCache? = nil,
                rootlessCaller: RootlessCaller? = RootlessCaller.current()) throws(BerthError) {
        try ContainerID.validate(id)
        try LaunchPlan.refuseNULBytes(in: spec)
        try LaunchPlan.checkKernelLimits(spec)
        try LaunchPlan.refuseUnsupported(spec)
        guard let process = spec.process else { throw BerthError(.invalidConfig, "process: missing, but berth needs a process to run") }
        guard let root = spec.root else { throw BerthError(.invalidConfig, "root: missing") }
        let linux = spec.linux ?? LinuxConfig()

        self.id = id
        self.bundle = bundle
        rootfs = PathRules.absolute(root.path, relativeTo: bundle)
        guard Files.isDirectory(rootfs) else { throw BerthError(.invalidConfig, "root.path: \(rootfs) is not a directory") }
        rootReadonly = root.readonly ?? false
        self.usePivotRoot = usePivotRoot
        annotations = spec.annotations ?? [:]

        (newNamespaces, joinedNamespaces) = try LaunchPlan.namespaces(linux)
        // A namespace not listed is the runtime's own (runtime-spec). In the host's mount
        // namespace berth mounts nothing, so whatever needs a mount is refused there.
        if !newNamespaces.contains(.mount) && !joinedNamespaces.contains(where: { $0.kind == .mount }) {
            try LaunchPlan.refuseMountsWithoutMountNamespace(spec, createsUser: newNamespaces.contains(.user) || joinedNamespaces.contains { $0.kind == .user })
        }
        timeOffsets = try LaunchPlan.timeOffsets(linux, createsTimeNamespace: newNamespaces.contains(.time))
        uidMappings = try LaunchPlan.mappings(linux.uidMappings, label: "linux.uidMappings")
        gidMappings = try LaunchPlan.mappings(linux.gidMappings, label: "linux.gidMappings")
        if newNamespaces.contains(.user) && (uidMappings.isEmpty || gidMappings.isEmpty) {
            throw BerthError(.invalidConfig, "linux.uidMappings: a new user namespace needs uid and gid mappings")
        }
        if !newNamespaces.contains(.user) && !(uidMappings.isEmpty && gidMappings.isEmpty) {
            throw BerthError(.invalidConfig, "linux.uidMappings: mappings need a new user namespace")
        }

        hostname = spec.hostname.flatMap { $0.isEmpty ? nil : $0 }
        domainname = spec.domainname.flatMap { $0.isEmpty ? nil : $0 }
        // Set in the container's uts namespace, new or joined by path; never in the host's.
        let ownUTS = newNamespaces.contains(.uts) || joinedNamespaces.first(where: { $0.kind == .uts }).map { !LaunchPlan.isHostNamespace(.uts, path: $0.path) } == true
        if hostname != nil && !ownUTS {
            throw BerthError(.invalidConfig, "hostname: setting it needs a uts namespace of the container's own, new or joined by path")
        }
        if domainname != nil && !ownUTS {
            throw BerthError(.invalidConfig, "domainname: setting it needs a uts namespace of the container's own, new or joined by path")
        }

        if let propagation = linux.rootfsPropagation, !propagation.isEmpty {
            guard let flags = MountOptions.propagation(named: propagation) else {
                throw BerthError(.invalidConfig, "linux.rootfsPropagation: unknown propagation \"\(propagation)\"")
            }
            rootPropagation = flags
        } else {
            rootPropagation = [.slave, .recursive]
        }

        mounts = try (spec.mounts ?? []).enumerated().map { (index, mount) throws(BerthError) in
            try LaunchPlan.mountStep(mount, label: "mounts[\(index)]", bundle: bundle)
        }
        for (index, mount) in (spec.mounts ?? []).enumerated() {
            mounts[index].idmap = try LaunchPlan.mountIDMap(mount, label: mounts[index].label, container: (uidMappings, gidMappings))
            try LaunchPlan.checkIDMapBuildable(mounts[index], createsUser: newNamespaces.contains(.user) || joinedNamespaces.contains { $0.kind == .user })
        }
        devices = try LaunchPlan.devices(linux.devices ?? [])
        maskedPaths = try (linux.maskedPaths ?? []).enumerated().map { (index, path) throws(BerthError) in
            try PathRules.containerPath(path, label: "linux.maskedPaths[\(index)]")
        }
        readonlyPaths = try (linux.readonlyPaths ?? []).enumerated().map { (index, path) throws(BerthError) in
            try PathRules.containerPath(path, label: "linux.readonlyPaths[\(index)]")
        }
        let (new, joined) = (newNamespaces, joinedNamespaces)
        sysctls = try (linux.sysctl ?? [:]).sorted(by: { $0.key < $1.key }).map { (name, value) throws(BerthError) in
            if name.isEmpty || name.contains("/") || name.split(separator: ".", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0 == ".." }) {
                throw BerthError(.invalidConfig, "linux.sysctl: invalid name \"\(name)\"")
            }
            try LaunchPlan.checkSysctlIsNamespaced(name, new: new, joined: joined)
            return (name, value)
        }

        memoryPolicy = try linux.memoryPolicy.map { (policy) throws(BerthError) in try MemoryPolicy(policy) }
        personality = LaunchPlan.personality(linux.personality)
        intelRdt = try linux.intelRdt.map { (rdt) throws(BerthError) in
            let plan = try ResctrlPlan(rdt, id: id)
            try Resctrl.requireMounted()
            return plan
        }

        self.process = try LaunchPlan.processPlan(process, label: "process")
        hooks = try LaunchPlan.hookSet(spec.hooks)

        resources = try CgroupResources.plan(for: linux.resources ?? LinuxResources())
        seccomp = try LaunchPlan.seccompProgram(linux.seccomp, cache: seccompCache)
        seccompListenerPath = linux.seccomp?.listenerPath
        seccompListenerMetadata = linux.seccomp?.listenerMetadata
        if let path = seccompListenerPath, !path.hasPrefix("/") {
            throw BerthError(.invalidConfig, "linux.seccomp.listenerPath: \"\(path)\" must be an absolute path")
        }
        if let path = linux.cgroupsPath, !path.isEmpty {
            cgroupPath = try Cgroup.normalize(cgroupsPath: path)
        } else {
            cgroupPath = LaunchPlan.defaultCgroupParent + "/" + id
        }
        if let caller = rootlessCaller { try applyRootless(caller, cgroupsPath: linux.cgroupsPath) }
        netDevices = try LaunchPlan.netDevices(linux, new: newNamespaces, joined: joinedNamespaces, staged: stagedNamespaces)
    }

    static func namespaces(_ linux: LinuxConfig) throws(BerthError) -> ([NamespaceKind], [(kind: NamespaceKind, path: String)]) {
        var new: [NamespaceKind] = []
        var joined: [(kind: NamespaceKind, path: String)] = []
        var seen: Set<NamespaceKind> = []
        for (index, namespace) in (linux.namespaces ?? []).enumerated() {
            let label = "linux.namespaces[\(index)]"
            guard let kind = NamespaceKind(rawValue: namespace.type.rawValue) else {
                throw BerthError(.invalidConfig, "\(label).type: unknown namespace \"\(namespace.type.rawValue)\"")
            }
            guard seen.insert(kind).inserted else { throw BerthError(.invalidConfig, "\(label).type: namespace \"\(kind.rawValue)\" appears twice") }
            if let path = namespace.path, !path.isEmpty {
                guard path.hasPrefix("/") else { throw BerthError(.invalidConfig, "\(label).path: \"\(path)\" must be an absolute path") }
                guard Files.exists(path) else { throw BerthError(.invalidConfig, "\(label).path: \(path) does not exist") }
                joined.append((kind, path))
            } else {
                new.append(kind)
            }
        }
        return (new, joined)
    }

    static func mappings(_ list: [LinuxIDMapping]?, label: String) throws(BerthError) -> [IDMapping] {
        try (list ?? []).enumerated().map { (index, mapping) throws(BerthError) in
            if mapping.size == 0 { throw BerthError(.invalidConfig, "\(label)[\(index)].size: must be at least 1") }
            if UInt64(mapping.containerID) + UInt64(mapping.size) > UInt64(UInt32.max) + 1 || UInt64(mapping.hostID) + UInt64(mapping.size) > UInt64(UInt32.max) + 1 {
                throw BerthError(.invalidConfig, "\(label)[\(index)]: range overflows 32-bit ids")
            }
            return IDMapping(containerID: mapping.containerID, hostID: mapping.hostID, size: mapping.size)
        }
    }

    static func mountStep(_ mount: OCI.Mount, label: String, bundle: String) throws(BerthError) -> MountStep {
        let destination = try PathRules.containerPath(mount.destination, label: "\(label).destination")
        let options = MountOptions(parsing: mount.options ?? [])
        var source = mount.source
        let isBind = options.isBind || mount.type == "bind"
        var parsed = options
        if mount.type == "bind" && !options.isBind { parsed.flags.insert(.bind) }
        if isBind {
            guard let given = source, !given.isEmpty else { throw BerthError(.invalidConfig, "\(label).source: a bind mount needs a source") }
            // Relative bind sources are relative to the bundle, as in runc.
            // Whether it exists is checked when it is mounted: an earlier mount may make it.
            source = PathRules.absolute(given, relativeTo: bundle)
            // The kernel ignores a bind mount's data: an option word berth does not know would
            // be dropped silently (as `rro` was).
            if let word = parsed.data.first {
                throw BerthError(.invalidConfig, "\(label).options: \"\(ErrorText.short(word))\" is not an option of a bind mount, and would be ignored")
            }
        } else if mount.type == nil || mount.type?.isEmpty == true {
            throw BerthError(.invalidConfig, "\(label).type: needed for a mount that is not a bind mount")
        }
        if parsed.copyUp && (isBind || mount.type != "tmpfs") {
            throw BerthError(.invalidConfig, "\(label).options: \"tmpcopyup\" is an option of a tmpfs only, and would be ignored")
        }
        return MountStep(label: label, destination: destination, type: isBind ? nil : mount.type, source: source, options: parsed)
    }

    static func devices(_ configured: [LinuxDevice]) throws(BerthError) -> [DeviceNode] {
        var nodes: [DeviceNode] = defaultDevices.map { (path, major, minor) in
            DeviceNode(label: "default device \(path)", path: path, fileType: UInt32(S_IFCHR), major: major, minor: minor, mode: 0o666, uid: 0, gid: 0)
        }
        for (index, device) in configured.enumerated() {
            let label = "linux.devices[\(index)]"
            let path = try PathRules.containerPath(device.path, label: "\(label).path")
            let fileType: UInt32
            switch device.type {
            case .char, .unbufferedChar: fileType = UInt32(S_IFCHR)
            case .block: fileType = UInt32(S_IFBLK)
            case .fifo: fileType = UInt32(S_IFIFO)
            }
            if fileType != UInt32(S_IFIFO) && (device.major == nil || device.minor == nil) {
                throw BerthError(.invalidConfig, "\(label): major and minor are required for device type \"\(device.type.rawValue)\"")
            }
            let node = DeviceNode(label: label, path: path, fileType: fileType, major: device.major ?? 0, minor: device.minor ?? 0,
                                  mode: device.fileMode ?? 0o666, uid: device.uid ?? 0, gid: device.gid ?? 0)
            nodes.removeAll { $0.path == path }
            nodes.append(node)
        }
        return nodes
    }

    static func processPlan(_ process: OCI.Process, label: String) throws(BerthError) -> ProcessPlan {
        let args = process.args
        guard !args.isEmpty else { throw BerthError(.invalidConfig, "\(label).args: must name a command") }
        guard process.cwd.hasPrefix("/") else { throw BerthError(.invalidConfig, "\(label).cwd: \"\(ErrorText.short(process.cwd))\" must be an absolute path") }
        try KernelLimits.checkPath(process.cwd, label: "\(label).cwd")
        try KernelLimits.checkPath(args[0], label: "\(label).args[0]")
        for (index, variable) in (process.env ?? []).enumerated() where !variable.contains("=") || variable.hasPrefix("=") {
            throw BerthError(.invalidConfig, "\(label).env[\(index)]: \"\(ErrorText.short(variable))\" is not KEY=VALUE")
        }
        let capabilities = try process.capabilities.map { (caps) throws(BerthError) in try capabilitySets(caps, label: "\(label).capabilities") }
        var rlimits: [Rlimit] = []
        for (index, limit) in (process.rlimits ?? []).enumerated() {
            guard let resource = Linux.Rlimit.resource(limit.type.rawValue) else {
                throw BerthError(.invalidConfig, "\(label).rlimits[\(index)].type: unknown rlimit \"\(limit.type.rawValue)\"")
            }
            if limit.soft > limit.hard { throw BerthError(.invalidConfig, "\(label).rlimits[\(index)]: soft limit above hard limit") }
            if rlimits.contains(where: { $0.resource == resource }) {
                throw BerthError(.invalidConfig, "\(label).rlimits[\(index)].type: \"\(limit.type.rawValue)\" appears twice")
            }
            rlimits.append(Rlimit(name: limit.type.rawValue, resource: resource, soft: limit.soft, hard: limit.hard))
        }
        try KernelLimits.checkExec(arguments: args, environment: process.env ?? [], stackLimit: KernelLimits.stackLimit(rlimits), label: label)
        if let adjust = process.oomScoreAdj, adjust < -1000 || adjust > 1000 {
            throw BerthError(.invalidConfig, "\(label).oomScoreAdj: \(adjust) is outside -1000...1000")
        }
        return ProcessPlan(arguments: args, environment: LaunchPlan.lastValueWins(process.env ?? []), cwd: process.cwd,
                           uid: process.user.uid, gid: process.user.gid, additionalGids: process.user.additionalGids ?? [],
                           umask: process.user.umask, capabilities: capabilities, rlimits: rlimits,
                           noNewPrivileges: process.noNewPrivileges ?? false, oomScoreAdj: process.oomScoreAdj,
                           terminal: process.terminal ?? false,
                           consoleSize: process.consoleSize.map { (UInt16(clamping: $0.height), UInt16(clamping: $0.width)) },
                           scheduler: try scheduler(process.scheduler, label: label), ioPriority: try ioPriority(process.ioPriority, label: label),
                           cpuAffinity: try cpuAffinity(process.execCPUAffinity, label: label))
    }

    /// One entry per key: the key keeps the place of its first entry and takes the value of its
    /// last, as runc's environment does (Go's os.Setenv replaces a key in place).
    static func lastValueWins(_ environment: [String]) -> [String] {
        var result: [String] = []
        var position: [Substring: Int] = [:]
        for variable in environment {
            let key = variable[..<(variable.firstIndex(of: "=") ?? variable.endIndex)]
            if let index = position[key] { result[index] = variable } else {
                position[key] = result.count
                result.append(variable)
            }
        }
        return result
    }

    /// The five sets as numbers. A well-formed name berth does not know (a newer kernel's) is
    /// skipped with a warning, as runtime-spec 1.2 asks and runc does; a malformed one is an error.
    static func capabilitySets(_ caps: LinuxCapabilities, label: String) throws(BerthError) -> Capability.Sets {
        let last = Capability.lastCap()
        var unknown: [String] = []
        func numbers(_ names: [String]?, _ set: String) throws(BerthError) -> [Int32] {
            var result: [Int32] = []
            for (index, name) in (names ?? []).enumerated() {
                guard Capability.isWellFormed(name) else {
                    throw BerthError(.invalidConfig, "\(label).\(set)[\(index)]: \"\(ErrorText.short(name))\" is not a capability name (CAP_ and upper-case letters, digits or _)")
                }
                guard let number = Capability.number(name) else {
                    if !unknown.contains(name) { unknown.append(name) }
                    continue
                }
                // Known to berth but not to this kernel: skipped, as runc does.
                if number <= last { result.append(number) }
            }
            return result
        }
        let permitted = try numbers(caps.permitted, "permitted"), inheritable = try numbers(caps.inheritable, "inheritable")
        // The kernel raises an ambient capability only when it is permitted and inheritable
        // (PR_CAP_AMBIENT_RAISE fails with EPERM otherwise). runc and crun raise those they can
        // and skip the rest without a word; `runc spec` lists ambient capabilities and no
        // inheritable set, so refusing would fail every config that starts from it.
        let ambient = try numbers(caps.ambient, "ambient").filter { permitted.contains($0) && inheritable.contains($0) }
        let sets = Capability.Sets(bounding: try numbers(caps.bounding, "bounding"), effective: try numbers(caps.effective, "effective"),
                                   permitted: permitted, inheritable: inheritable, ambient: ambient)
        if !unknown.isEmpty { warn("\(label): ignoring unknown capabilities \(unknown.map(ErrorText.short).joined(separator: ", "))") }
        return sets
    }

    static func hookSet(_ hooks: Hooks?) throws(BerthError) -> HookSet {
        guard let hooks else { return HookSet() }
        func commands(_ list: [Hook]?, _ name: String) throws(BerthError) -> [HookCommand] {
            try (list ?? []).enumerated().map { (index, hook) throws(BerthError) in
                let label = "hooks.\(name)[\(index)]"
                guard hook.path.hasPrefix("/") else { throw BerthError(.invalidConfig, "\(label).path: \"\(ErrorText.short(hook.path))\" must be an absolute path") }
                try KernelLimits.checkPath(hook.path, label: "\(label).path")
                try KernelLimits.checkExec(arguments: hook.args ?? [], environment: hook.env ?? [], stackLimit: KernelLimits.stackLimit([]), label: label)
                if let timeout = hook.timeout, timeout <= 0 { throw BerthError(.invalidConfig, "\(label).timeout: must be positive") }
                return HookCommand(label: label, path: hook.path, arguments: hook.args ?? [], environment: hook.env, timeoutSeconds: hook.timeout)
            }
        }
        return HookSet(prestart: try commands(hooks.prestart, "prestart"), createRuntime: try commands(hooks.createRuntime, "createRuntime"),
                       createContainer: try commands(hooks.createContainer, "createContainer"), startContainer: try commands(hooks.startContainer, "startContainer"),
                       poststart: try commands(hooks.poststart, "poststart"), poststop: try commands(hooks.poststop, "poststop"))
    }
}
