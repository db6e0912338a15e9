import BerthCore
import CShim
import Glibc
import Linux
import OCI

/// `linux.intelRdt`, checked: the resctrl group (CLOS) the container's processes join and the
/// schemata lines written to it, as runc writes them.
public struct ResctrlPlan: Sendable, Equatable {
    /// The group's directory below the resctrl root; empty for the root group itself (`/`).
    public var group: String
    /// No closID: the group is the container's own, made by create and removed by delete.
    public var ownGroup: Bool
    /// l3CacheSchema, memBwSchema, then each of `schemata`, in the runtime-spec's order.
    public var schemata: [String]
    /// enableMonitoring: a monitoring group of the container's id inside the group.
    public var monitoring: Bool

    init(_ rdt: LinuxIntelRdt, id: String) throws(BerthError) {
        let label = "linux.intelRdt"
        if let closID = rdt.closID, !closID.isEmpty {
            if closID != "/" && (closID.contains("/") || closID == "." || closID == "..") {
                throw BerthError(.invalidConfig, "\(label).closID: \"\(ErrorText.short(closID))\" must be one directory name, or \"/\" for the default group")
            }
            group = closID == "/" ? "" : closID
            ownGroup = false
        } else {
            group = id
            ownGroup = true
        }
        var lines: [(String, String)] = []
        if let l3 = rdt.l3CacheSchema, !l3.isEmpty { lines.append(("l3CacheSchema", l3)) }
        if let memory = rdt.memBwSchema, !memory.isEmpty {
            guard memory.hasPrefix("MB:") else { throw BerthError(.invalidConfig, "\(label).memBwSchema: \"\(ErrorText.short(memory))\" must start with MB:") }
            lines.append(("memBwSchema", memory))
        }
        for (index, line) in (rdt.schemata ?? []).enumerated() where !line.isEmpty { lines.append(("schemata[\(index)]", line)) }
        for (field, line) in lines where line.contains("\n") {
            throw BerthError(.invalidConfig, "\(label).\(field): may not contain a newline")
        }
        schemata = lines.map(\.1)
        monitoring = rdt.enableMonitoring ?? false
        if group.isEmpty && !schemata.isEmpty {
            throw BerthError(.invalidConfig, "\(label).closID: the default group \"/\" is the host's; berth writes no schemata to it")
        }
    }
}

/// A resctrl filesystem at `root`. The root is a parameter so that tests write to a scratch
/// directory; berth uses `defaultRoot`, which is where the kernel offers it.
public struct Resctrl: Sendable {
    public static let defaultRoot = "/sys/fs/resctrl"
    /// RDTGROUP_SUPER_MAGIC.
    static let magic = 0x7655821
    public let root: String

    public init(root: String = Resctrl.defaultRoot) { self.root = root }

    /// The runtime-spec asks for an error when no resctrl is mounted: checked before create
    /// touches anything.
    static func requireMounted(_ root: String = defaultRoot) throws(BerthError) {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(root, BERTH_O_PATH | O_DIRECTORY) } catch {
            throw BerthError(.unsupported, "linux.intelRdt: resctrl is not mounted at \(root) (the kernel or the CPU has no Intel RDT)")
        }
        defer { fd.close() }
        guard berth_fstatfs_type(fd.rawValue) == magic else {
            throw BerthError(.unsupported, "linux.intelRdt: resctrl is not mounted at \(root)")
        }
    }

    /// The group's directory.
    public func directory(_ plan: ResctrlPlan) -> String { plan.group.isEmpty ? root : root + "/" + plan.group }

    /// Makes the group (unless it exists, or closID names a group that must exist already),
    /// writes its schemata and moves `pid` into it (and into its monitoring group). Returns the
    /// directory when this call made it: the one delete removes.
    public func join(_ plan: ResctrlPlan, id: String, pid: pid_t) throws(BerthError) -> String? {
        let path = directory(plan)
        var made: String?
        if !plan.ownGroup && plan.schemata.isEmpty {
            // runc's rule: a closID without schemata names a group set up beforehand.
            guard Files.isDirectory(path) else {
                throw BerthError(.invalidConfig, "linux.intelRdt.closID: \(path) does not exist (without schemata the group must be made beforehand)")
            }
        } else if !plan.group.isEmpty {
            if Glibc.mkdir(path, 0o755) == 0 {
                made = path
            } else if Glibc.errno != EEXIST {
                throw BerthError.systemCall("mkdir", path, errno: Glibc.errno).prefixed("linux.intelRdt")
            }
        }
        do throws(BerthError) {
            if !plan.schemata.isEmpty { try Files.writeExisting(path + "/schemata", plan.schemata.map { $0 + "\n" }.joined()) }
            try Files.writeExisting(path + "/tasks", String(pid))
            if plan.monitoring {
                let monitor = path + "/mon_groups/" + id
                if Glibc.mkdir(monitor, 0o755) != 0 && Glibc.errno != EEXIST {
                    throw BerthError.systemCall("mkdir", monitor, errno: Glibc.errno)
                }
                try Files.writeExisting(monitor + "/tasks", String(pid))
            }
        } catch {
            if let made { Glibc.rmdir(made) }
            throw error.prefixed("linux.intelRdt")
        }
        return made
    }

    /// Removes a group create made; the kernel moves any task left in it to the default group.
    public static func remove(_ directory: String) {
        Glibc.rmdir(directory)
    }
}
