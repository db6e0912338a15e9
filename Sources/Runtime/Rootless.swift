import BerthCore
import Cgroup2
import Glibc
import Linux
import OCI

/// berth run by an unprivileged user (euid != 0), as runc's rootless mode: the container needs a
/// user namespace, its id mappings are written by the kernel (the caller's own ids) or by the
/// setuid newuidmap/newgidmap (ranges of /etc/subuid and /etc/subgid), and it gets a cgroup only
/// where the caller was delegated one. Decided with the plan, before any side effect.
public struct Rootless: Sendable, Equatable {
    /// Who writes a map file: the caller through procfs, or the setuid helper at this path.
    public enum MapWriter: Sendable, Equatable {
        case kernel
        case helper(String)
    }

    public var uidWriter: MapWriter
    public var gidWriter: MapWriter
    /// The delegated cgroup the container's cgroup is made in, relative to the cgroup2 mount,
    /// and that cgroup's name in it. nil: no delegation, the container stays in the caller's
    /// cgroup and has no limits.
    public var cgroup: (base: String, leaf: String)?
    /// Printed by `create` once: why the container runs without a cgroup.
    public var warning: String?

    public static func == (lhs: Rootless, rhs: Rootless) -> Bool {
        lhs.uidWriter == rhs.uidWriter && lhs.gidWriter == rhs.gidWriter && lhs.cgroup?.base == rhs.cgroup?.base
            && lhs.cgroup?.leaf == rhs.cgroup?.leaf && lhs.warning == rhs.warning
    }
}

/// The user berth runs as, and what it may map and write.
public struct RootlessCaller: Sendable {
    public var uid: UInt32
    public var gid: UInt32
    /// The host's view: /etc/subuid and /etc/subgid ranges delegated to the caller.
    public var subordinateUIDs: [ClosedRange<UInt64>]
    public var subordinateGIDs: [ClosedRange<UInt64>]
    public var newuidmap: String?
    public var newgidmap: String?
    /// The caller's own cgroup (from /proc/self/cgroup), relative to the cgroup2 mount.
    public var ownCgroup: String?
    /// Whether the caller may create cgroups in this directory (relative to the mount).
    public var canDelegate: @Sendable (String) -> Bool

    public init(uid: UInt32, gid: UInt32, subordinateUIDs: [ClosedRange<UInt64>] = [], subordinateGIDs: [ClosedRange<UInt64>] = [],
                newuidmap: String? = nil, newgidmap: String? = nil, ownCgroup: String? = nil, canDelegate: @escaping @Sendable (String) -> Bool = { _ in false }) {
        self.uid = uid
        self.gid = gid
        self.subordinateUIDs = subordinateUIDs
        self.subordinateGIDs = subordinateGIDs
        self.newuidmap = newuidmap
        self.newgidmap = newgidmap
        self.ownCgroup = ownCgroup
        self.canDelegate = canDelegate
    }

    /// The calling process, or nil when it runs as root.
    public static func current() -> RootlessCaller? {
        let uid = geteuid(), gid = getegid()
        if uid == 0 { return nil }
        let name = userName(uid)
        let mount = Cgroup.hostMount()
        return RootlessCaller(
            uid: uid, gid: gid,
            subordinateUIDs: SubordinateIDs.ranges(in: (try? Files.readString("/etc/subuid")) ?? "", user: name, uid: uid),
            subordinateGIDs: SubordinateIDs.ranges(in: (try? Files.readString("/etc/subgid")) ?? "", user: name, uid: uid),
            newuidmap: executable("newuidmap"), newgidmap: executable("newgidmap"),
            ownCgroup: mount == nil ? nil : ((try? Files.readString("/proc/self/cgroup")).flatMap(SubordinateIDs.unifiedCgroup)),
            canDelegate: { path in
                guard let mount else { return false }
                let directory = path.isEmpty ? mount : mount + "/" + path
                // Creating a child, moving a process into it (the common ancestor's cgroup.procs)
                // and enabling controllers for it: the three writes delegation grants.
                return ["", "/cgroup.procs", "/cgroup.subtree_control"].allSatisfy {
                    Glibc.faccessat(AT_FDCWD, directory + $0, W_OK, AT_EACCESS) == 0
                }
            })
    }

    /// The user's name from /etc/passwd, to match the name form of /etc/subuid lines. Read
    /// directly: berth is a static executable, without NSS.
    private static func userName(_ uid: uid_t) -> String? {
        guard let text = try? Files.readString("/etc/passwd") else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 2, fields[2] == String(uid) { return String(fields[0]) }
        }
        return nil
    }

    /// The helper in PATH, else in /usr/bin: it runs with the caller's own rights until its
    /// setuid bit applies, so a PATH the caller chose can give it nothing it did not have.
    private static func executable(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin"] where directory.hasPrefix("/") {
            let candidate = directory + "/" + name
            if Glibc.access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

/// /etc/subuid, /etc/subgid and /proc/self/cgroup, parsed.
public enum SubordinateIDs {
    /// The ranges of `name:start:count` lines for the user, by name or by uid, as shadow's
    /// newuidmap reads them. Malformed lines and empty ranges are skipped.
    public static func ranges(in text: String, user: String?, uid: UInt32) -> [ClosedRange<UInt64>] {
        var result: [ClosedRange<UInt64>] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 3, fields[0] == String(uid) || (user != nil && fields[0] == user ?? ""),
                  let start = UInt64(fields[1]), let count = UInt64(fields[2]), count > 0, start + count - 1 <= UInt64(UInt32.max) else { continue }
            result.append(start...(start + count - 1))
        }
        return result
    }

    /// The unified hierarchy's line (`0::/path`) of a /proc/self/cgroup text, without the leading
    /// slash ("" for the root).
    public static func unifiedCgroup(_ text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("0::/") {
            return String(line.dropFirst(4))
        }
        return nil
    }
}

extension LaunchPlan {
    /// runc's rootless rules, applied last: a user namespace, mappings the caller may write, no
    /// additional groups, and a cgroup only in a delegated subtree.
    mutating func applyRootless(_ caller: RootlessCaller, cgroupsPath: String?) throws(BerthError) {
        guard creates(.user) || joins(.user) != nil else {
            throw BerthError(.invalidConfig, "linux.namespaces: a rootless container (berth runs as uid \(caller.uid)) needs a user namespace")
        }
        var uidWriter = Rootless.MapWriter.kernel, gidWriter = Rootless.MapWriter.kernel
        if creates(.user) {
            uidWriter = try Self.mapWriter(uidMappings, own: caller.uid, delegated: caller.subordinateUIDs, helper: caller.newuidmap,
                                           label: "linux.uidMappings", file: "/etc/subuid", tool: "newuidmap")
            gidWriter = try Self.mapWriter(gidMappings, own: caller.gid, delegated: caller.subordinateGIDs, helper: caller.newgidmap,
                                           label: "linux.gidMappings", file: "/etc/subgid", tool: "newgidmap")
        }
        try process.makeRootless(label: "process")
        rootless = Rootless(uidWriter: uidWriter, gidWriter: gidWriter, cgroup: nil, warning: nil)
        try placeRootlessCgroup(caller, cgroupsPath: cgroupsPath)
    }

    /// The caller's own id alone is written by the caller (setgroups denied first, for gids);
    /// anything more needs the setuid helper, and every host id must be the caller's own or
    /// delegated to it: checked here too, so that a bad range is an error naming its field
    /// rather than the helper's.
    static func mapWriter(_ mappings: [IDMapping], own: UInt32, delegated: [ClosedRange<UInt64>], helper: String?,
                          label: String, file: String, tool: String) throws(BerthError) -> Rootless.MapWriter {
        if mappings.count == 1, mappings[0].hostID == own, mappings[0].size == 1 { return .kernel }
        for (index, mapping) in mappings.enumerated() {
            let host = UInt64(mapping.hostID)...(UInt64(mapping.hostID) + UInt64(mapping.size) - 1)
            let allowed = (mapping.size == 1 && mapping.hostID == own) || delegated.contains { $0.contains(host.lowerBound) && $0.contains(host.upperBound) }
            guard allowed else {
                throw BerthError(.invalidConfig, "\(label)[\(index)]: host ids \(host.lowerBound)-\(host.upperBound) are neither the caller's own (\(own)) nor delegated to it in \(file)")
            }
        }
        guard let helper else {
            throw BerthError(.unsupported, "\(label): mapping more than the caller's own id needs \(tool) (Debian package uidmap)")
        }
        return .helper(helper)
    }

    /// runc's rule: the container's cgroup is made beside the caller's, in its parent, when the
    /// caller may write there (a delegated subtree, as systemd gives user@.service). Otherwise it
    /// runs in the caller's cgroup without limits, which a config asking for limits refuses.
    mutating func placeRootlessCgroup(_ caller: RootlessCaller, cgroupsPath: String?) throws(BerthError) {
        if let given = cgroupsPath, !given.isEmpty {
            let path = try Cgroup.normalize(cgroupsPath: given)
            let parts = path.split(separator: "/")
            let base = parts.dropLast().joined(separator: "/")
            guard caller.ownCgroup != nil, caller.canDelegate(base) else {
                throw BerthError(.unsupported, "linux.cgroupsPath: \"\(given)\" is not in a cgroup delegated to uid \(caller.uid) (rootless berth may create cgroups only where the user may write)")
            }
            rootless?.cgroup = (base, String(parts.last ?? ""))
            cgroupPath = path
            return
        }
        let own = caller.ownCgroup
        let parent = own.map { $0.split(separator: "/").dropLast().joined(separator: "/") }
        if let own, !own.isEmpty, let parent, caller.canDelegate(parent) {
            rootless?.cgroup = (parent, id)
            cgroupPath = parent.isEmpty ? id : parent + "/" + id
            return
        }
        let reason = own == nil ? "this host has no cgroup2 mount"
            : own == "" ? "berth runs in the root cgroup, which has no parent to delegate"
            : "the parent of berth's cgroup (/\(parent ?? "")) is not delegated to uid \(caller.uid)"
        if let write = resources.writes.first {
            throw BerthError(.unsupported, "\(write.field): a rootless container gets limits only in a delegated cgroup, and \(reason)")
        }
        rootless?.warning = "rootless: \(reason); the container runs in berth's cgroup, without resource limits"
        cgroupPath = own ?? ""
    }
}

extension LaunchPlan.ProcessPlan {
    /// A rootless process keeps the caller's supplementary groups: setgroups is denied in a user
    /// namespace mapped by its owner, and runc never calls it rootless.
    mutating func makeRootless(label: String) throws(BerthError) {
        if !additionalGids.isEmpty {
            throw BerthError(.invalidConfig, "\(label).user.additionalGids: a rootless container cannot set additional groups")
        }
        keepsGroups = true
    }
}

extension Launcher {
    /// Rootless: the caller's own id through a verified procfs (gid_map only after setgroups is
    /// denied, as the kernel requires of an unprivileged writer), or newuidmap/newgidmap.
    func writeRootlessMappings(_ rootless: Rootless, pid: pid_t) throws(BerthError) {
        let proc = try Procfs()
        defer { proc.close() }
        for (writer, mappings, file) in [(rootless.uidWriter, plan.uidMappings, "uid_map"), (rootless.gidWriter, plan.gidMappings, "gid_map")] {
            switch writer {
            case .kernel:
                if file == "gid_map" { try proc.write("\(pid)/setgroups", "deny") }
                try proc.write("\(pid)/\(file)", mappings.map(\.line).joined())
            case .helper(let path):
                let arguments = [path, String(pid)] + mappings.flatMap { [String($0.containerID), String($0.hostID), String($0.size)] }
                let child = try ProcessControl.spawn(path: path, arguments: arguments, environment: [])
                child.pidfd?.close()
                let end = try ProcessControl.wait(child.pid)
                guard end == .exited(0) else { throw BerthError(.system, "\(path) \(pid): failed with status \(end.shellStatus)") }
            }
        }
    }
}
