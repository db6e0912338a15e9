import BerthCore
import Glibc
import Linux
import OCI

/// Applying a ``CgroupResourcePlan`` to a live cgroup.
extension Cgroup {
    /// Maps `resources` (``CgroupResources/plan(for:)``) and applies the result.
    public func apply(_ resources: LinuxResources) throws(BerthError) {
        try apply(CgroupResources.plan(for: resources))
    }

    /// Applies `plan` to this existing cgroup, in four steps, so that a config the host cannot
    /// honour fails before any limit is written (step 1 may have enabled controllers):
    ///
    /// 1. walks from the root down to the parent: each level must offer every needed controller
    ///    in its cgroup.controllers (else `.unsupported`, naming the controller, the directory
    ///    and why), and gets them enabled in its cgroup.subtree_control. The cgroup itself
    ///    never gets controllers in its own subtree_control: it is the leaf that holds the
    ///    container's processes (cgroup v2's no-internal-processes rule: a cgroup with
    ///    processes cannot enable domain controllers for children: `.unsupported`);
    /// 2. finds each write's file, or its fallback; a missing `unified` file is `.invalidConfig`,
    ///    a missing typed file `.unsupported` (the kernel lacks the feature);
    /// 3. with checkBeforeUpdate, refuses a memory limit or memory+swap total that does not exceed
    ///    memory.current, as runc does;
    /// 4. writes in plan order. A write the kernel refuses with EINVAL or EBUSY is retried once
    ///    after the others, as some limits depend on another's current value (cpu.max.burst must
    ///    not exceed the quota in cpu.max, for example), and an update may lower both.
    public func apply(_ plan: CgroupResourcePlan) throws(BerthError) {
        guard exists else { throw BerthError(.system, "cgroup \(directory) does not exist") }
        try enableControllers(for: plan)

        var targets: [(write: CgroupWrite, file: String, value: String)] = []
        for write in plan.writes {
            if Files.exists(directory + "/" + write.file) {
                targets.append((write, write.file, write.value))
            } else if let fallback = write.fallback, Files.exists(directory + "/" + fallback.file) {
                targets.append((write, fallback.file, fallback.value))
            } else {
                throw missingFile(write)
            }
        }

        // runc's check and words; like runc's, best effort: no memory.current, no check.
        if let check = plan.memoryCheck, let usage = (try? read("memory.current")).flatMap({ UInt64($0.trimmingWhitespace) }) {
            if check.swap > 0 && UInt64(check.swap) <= usage {
                throw BerthError(.invalidConfig, "linux.resources.memory.swap: rejecting memory+swap limit \(check.swap) <= usage \(usage)")
            }
            if check.limit > 0 && UInt64(check.limit) <= usage {
                throw BerthError(.invalidConfig, "linux.resources.memory.limit: rejecting memory limit \(check.limit) <= usage \(usage)")
            }
        }

        var retry: [(write: CgroupWrite, file: String, value: String)] = []
        for target in targets {
            do {
                try write(target.file, target.value)
            } catch {
                guard error.errno == EINVAL || error.errno == EBUSY else {
                    throw writeError(error, target.write, target.file, target.value)
                }
                retry.append(target)
            }
        }
        for target in retry {
            do {
                try write(target.file, target.value)
            } catch {
                throw writeError(error, target.write, target.file, target.value)
            }
        }
    }

    /// Step 1 of `apply`: checks and enables the plan's controllers from the root down to the
    /// parent, then checks that the cgroup itself offers them.
    func enableControllers(for plan: CgroupResourcePlan) throws(BerthError) {
        let needed = plan.controllers
        if needed.isEmpty { return }
        var level = Cgroup(root: root, path: "")
        for component in path.split(separator: "/") {
            try level.checkOffers(needed, plan)
            do {
                try level.enable(needed)
            } catch {
                // The kernel says EBUSY, or EOPNOTSUPP once threaded controllers are enabled there.
                let busy = !level.path.isEmpty && !level.processes().isEmpty
                let hint = busy
                    ? " (\(level.directory) holds processes itself, and cgroup v2 lets only a cgroup without processes hand domain controllers such as memory and io to its children)"
                    : ""
                throw BerthError(busy ? .unsupported : .system,
                                 "linux.resources: enabling \(needed.joined(separator: " ")) in \(level.directory)/cgroup.subtree_control\(hint)",
                                 errno: error.errno)
            }
            level = Cgroup(root: root, path: level.path.isEmpty ? String(component) : level.path + "/" + component)
        }
        try checkOffers(needed, plan)
    }

    private func checkOffers(_ controllers: [String], _ plan: CgroupResourcePlan) throws(BerthError) {
        let offered = availableControllers()
        for controller in controllers where !offered.contains(controller) {
            let field = plan.firstWrite(needing: controller)?.field ?? "linux.resources"
            let reason = Cgroup.unavailabilityReason(
                controller, isRoot: path.isEmpty,
                mountinfo: try? Files.readString("/proc/self/mountinfo"),
                procCgroups: try? Files.readString("/proc/cgroups"))
            throw BerthError(.unsupported, "\(field): the \(controller) controller is not available in \(directory) (\(reason))")
        }
    }

    /// Why a cgroup2 directory lacks `controller`, from the host's /proc/self/mountinfo and
    /// /proc/cgroups texts (nil when unreadable). Pure, for tests.
    public static func unavailabilityReason(_ controller: String, isRoot: Bool, mountinfo: String?, procCgroups: String?) -> String {
        // cgroup v1 names io "blkio"; the others keep their names.
        let v1Name = controller == "io" ? "blkio" : controller
        for line in (mountinfo ?? "").split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let separator = fields.firstIndex(of: "-"), separator + 3 < fields.count, fields.count > 4,
                  fields[separator + 1] == "cgroup" else { continue }
            if fields[separator + 3].split(separator: ",").contains(Substring(v1Name)) {
                return "on this host it is bound to cgroup v1 at \(fields[4])"
            }
        }
        for line in (procCgroups ?? "").split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 4, fields[0] == v1Name else { continue }
            if fields[3] == "0" { return "it is disabled on the kernel command line" }
            if fields[1] != "0" { return "on this host it is bound to a cgroup v1 hierarchy" }
            return isRoot ? "the kernel does not offer it on cgroup v2" : "the parent cgroup does not delegate it"
        }
        if procCgroups != nil { return "the kernel was built without it" }
        return isRoot ? "the kernel does not offer it on cgroup v2" : "the parent cgroup does not delegate it"
    }

    /// Kernel features behind control files that older or differently built kernels lack.
    static let missingFileHints: [String: String] = [
        "memory.swap.max": "swap accounting is off: CONFIG_MEMCG_SWAP or swapaccount=0",
        "cpu.idle": "cpu.idle needs Linux 5.15",
        "cpu.max.burst": "cpu.max.burst needs Linux 5.14",
        "io.weight": "neither io.cost (CONFIG_BLK_CGROUP_IOCOST) nor the BFQ scheduler is available",
        "io.max": "io.max needs CONFIG_BLK_DEV_THROTTLING",
        "cpu.weight": "the kernel lacks CONFIG_FAIR_GROUP_SCHED",
        "cpu.max": "the kernel lacks CONFIG_CFS_BANDWIDTH",
    ]

    private func missingFile(_ write: CgroupWrite) -> BerthError {
        if write.isUnified {
            return BerthError(.invalidConfig, "\(write.field): \(directory) has no file \(write.file) (not an interface file of this cgroup or of its enabled controllers)")
        }
        var hint = Cgroup.missingFileHints[write.file] ?? "the kernel does not support it"
        if write.file.hasPrefix("hugetlb.") { hint = "this machine has no such huge page size" }
        let alternative = write.fallback.map { " nor \($0.file)" } ?? ""
        return BerthError(.unsupported, "\(write.field): \(directory) has no \(write.file)\(alternative) (\(hint))")
    }

    private func writeError(_ error: BerthError, _ write: CgroupWrite, _ file: String, _ value: String) -> BerthError {
        // The kernel's EINVAL or ERANGE refuses a value that came from config.json.
        let code: BerthError.Code = error.errno == EINVAL || error.errno == ERANGE ? .invalidConfig : .system
        return BerthError(code, "\(write.field): writing \"\(value)\" to \(directory)/\(file)", errno: error.errno, cause: error)
    }
}

extension String {
    var trimmingWhitespace: Substring {
        let start = firstIndex(where: { !$0.isWhitespace }) ?? endIndex
        let end = lastIndex(where: { !$0.isWhitespace }).map { index(after: $0) } ?? start
        return self[start..<max(start, end)]
    }
}
