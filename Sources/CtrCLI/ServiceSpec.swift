import BerthCore
import Cgroup2
import Glibc
import Linux
import OCI
import Runtime

/// The container's config.json: `ctr run`'s flags over a base, which is a BUNDLE's own
/// config.json or, for a plain ROOTFS, the defaults of `berth spec` (default capabilities,
/// masked paths, the default seccomp profile).
enum ServiceSpec {
    struct Base {
        var spec: Spec
        /// The bundle directory, nil for a plain rootfs.
        var bundle: String?
        var rootfs: String
    }

    /// The cgroup under which ctr puts its containers, `ctr/<id>` below the cgroup2 mount
    /// (unless a bundle names its own cgroupsPath). ctr makes it and never removes it, so that
    /// no container's removal can take it away while another is being created in it.
    static let cgroupParent = "ctr"

    /// Makes the cgroup parent if the host has a cgroup2 mount (an existing one is fine), and
    /// enables `controllers` in the root's and its subtree_control. The write is made even when
    /// they are listed already: the kernel lists a controller as soon as a concurrent enable
    /// starts, before the files of existing children appear, and a write waits for that enable
    /// to finish. Without it, two ctr runs starting at once could find a child without its
    /// memory.max. A controller the host does not offer is left to the runtime to report.
    static func makeCgroupParent(controllers: [String]) throws(BerthError) {
        guard let mount = Cgroup.hostMount() else { return }
        let path = mount + "/" + cgroupParent
        if Glibc.mkdir(path, 0o755) != 0 && Glibc.errno != EEXIST { throw BerthError(.system, "mkdir \(path)", errno: Glibc.errno) }
        for level in [Cgroup(root: mount, path: ""), Cgroup(root: mount, path: cgroupParent)] {
            let offered = level.availableControllers()
            let enable = controllers.filter { offered.contains($0) }
            if !enable.isEmpty { try? level.write("cgroup.subtree_control", enable.map { "+" + $0 }.joined(separator: " ")) }
        }
    }

    /// Reads the ROOTFS or BUNDLE at `source` (an absolute path).
    static func base(source: String) throws(BerthError) -> Base {
        guard Files.isDirectory(source) else {
            throw BerthError(.invalidArgument, "run: \(source) is not a directory; give a root filesystem or a bundle with config.json")
        }
        let configPath = source + "/config.json"
        guard Files.exists(configPath) else {
            var spec = Spec.defaultConfig()
            spec.linux?.seccomp = Spec.defaultSeccomp()
            // docker's default: the root filesystem is writable unless --read-only.
            spec.root = Root(path: source, readonly: false)
            return Base(spec: spec, bundle: nil, rootfs: source)
        }
        let spec: Spec
        do { spec = try decodeJSON(Spec.self, from: try Files.read(configPath)) } catch {
            throw BerthError(.invalidConfig, "\(configPath): \(error)")
        }
        guard let root = spec.root else { throw BerthError(.invalidConfig, "\(configPath): root: missing") }
        let rootfs = root.path.hasPrefix("/") ? root.path : source + "/" + root.path
        return Base(spec: spec, bundle: source, rootfs: rootfs)
    }

    /// `base` with the flags applied. Checks what LaunchPlan cannot know about (user names).
    static func build(_ options: RunOptions, base: Base, name: String, id: String) throws(BerthError) -> Spec {
        var spec = base.spec
        spec.root = Root(path: base.rootfs, readonly: options.readOnly ? true : (base.bundle == nil ? false : spec.root?.readonly))
        if let hostname = options.hostname {
            spec.hostname = hostname
        } else if base.bundle == nil {
            spec.hostname = name
        }
        var process = spec.process ?? Process(user: User(), args: ["sh"], cwd: "/")
        if !options.command.isEmpty { process.args = options.command }
        process.terminal = options.tty
        // The pty starts with ctr's own size; an attached ctr sends changes (resize requests).
        process.consoleSize = options.tty ? Terminal.size().map { ConsoleSize(height: UInt($0.rows), width: UInt($0.columns)) } : nil
        process.env = FlagValues.mergeEnvironment(process.env ?? [], options.environment)
        if !options.listen.isEmpty {
            // Socket activation: the sockets arrive as 3... and the init is pid 1 in its own
            // pid namespace (sd_listen_fds checks LISTEN_PID against getpid()).
            process.env = FlagValues.mergeEnvironment(process.env ?? [], ["LISTEN_FDS=\(options.listen.count)", "LISTEN_PID=1"])
        }
        if let workdir = options.workdir { process.cwd = workdir }
        if let user = options.user {
            let (uid, gid) = try UserSpec.resolve(user, rootfs: base.rootfs)
            process.user.uid = uid
            process.user.gid = gid
        }
        process.capabilities = capabilities(process.capabilities, add: options.capAdd, drop: options.capDrop)
        spec.process = process
        spec.mounts = (spec.mounts ?? []) + options.mounts

        var linux = spec.linux ?? LinuxConfig()
        if options.network == .host { linux.namespaces = linux.namespaces?.filter { $0.type != .network } }
        switch options.seccomp {
        case .builtIn: break
        case .unconfined: linux.seccomp = nil
        case .file(let path):
            do { linux.seccomp = try decodeJSON(LinuxSeccomp.self, from: try Files.read(path)) } catch {
                throw BerthError(.invalidArgument, "flag --security-opt: seccomp=\(path): \(error)")
            }
        }
        linux.resources = options.limits.resources(over: linux.resources ?? LinuxResources())
        let rootless = geteuid() != 0
        // Rootless, the container's cgroup goes beside ctr's, in a delegated subtree (docs/rootless.md).
        if (linux.cgroupsPath?.isEmpty ?? true) && !rootless { linux.cgroupsPath = ServiceSpec.cgroupParent + "/" + id }
        spec.linux = linux
        if rootless { try rootlessSpec(&spec, options) }
        spec.annotations = (spec.annotations ?? [:]).merging(["org.berth.ctr.name": name]) { $1 }
        return spec
    }

    /// ctr run by a user: berth's rootless shape (user namespace, the caller's ids), keeping the
    /// limits asked for and the network namespace of the default `--network none`, which a user
    /// namespace may own. Health checks run in the supervisor through exec, which enters the
    /// container's user namespace for good, and published ports join its network namespace,
    /// which needs privileges a user does not have there: both refused.
    private static func rootlessSpec(_ spec: inout Spec, _ options: RunOptions) throws(BerthError) {
        if options.health != nil { throw BerthError(.unsupported, "flag --health-cmd: health checks are not supported rootless (docs/rootless.md)") }
        if !options.ports.isEmpty { throw BerthError(.unsupported, "flag --publish: published ports are not supported rootless (docs/rootless.md)") }
        let resources = spec.linux?.resources
        spec.makeRootless(uid: geteuid(), gid: getegid())
        spec.linux?.resources = resources
        if options.network != .host { spec.linux?.namespaces?.insert(LinuxNamespace(type: .network), at: 0) }
    }

    /// --cap-add and --cap-drop applied to the bounding, effective and permitted sets; ALL means
    /// every capability the kernel knows.
    private static func capabilities(_ base: LinuxCapabilities?, add: [String], drop: [String]) -> LinuxCapabilities? {
        guard !add.isEmpty || !drop.isEmpty else { return base }
        let every = Capability.names.filter { (Capability.number($0) ?? Int32.max) <= Capability.lastCap() }
        func edit(_ set: [String]?) -> [String] {
            var result = set ?? []
            if drop.contains("ALL") { result = [] } else { result.removeAll { drop.contains($0) } }
            for name in add.contains("ALL") ? every : add where !result.contains(name) { result.append(name) }
            return result
        }
        var caps = base ?? LinuxCapabilities()
        caps.bounding = edit(caps.bounding)
        caps.effective = edit(caps.effective)
        caps.permitted = edit(caps.permitted)
        return caps
    }
}
