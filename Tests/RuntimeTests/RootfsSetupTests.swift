import BerthCore
import Glibc
import Linux
import OCI
@testable import Runtime
import TestSupport
import Testing

/// The container's filesystem view, built against a recording kernel: which calls, on what,
/// in which order. No root and no mount is needed.
@Suite struct RootfsSetupTests {
    /// `berth spec`'s config with `edit` applied, as a plan.
    static func plan(_ fixture: PlanFixture, _ edit: (inout Spec) -> Void = { _ in }) throws -> LaunchPlan {
        var spec = fixture.spec()
        edit(&spec)
        return try fixture.plan(spec)
    }

    /// A user namespace mapping root to 100000, as engines configure it.
    static func addUserNamespace(_ spec: inout Spec) {
        spec.linux?.namespaces?.append(LinuxNamespace(type: .user))
        spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 100_000, size: 65536)]
        spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 100_000, size: 65536)]
    }

    /// Runs the set-up from the first mount to the last read-only path.
    static func setUp(_ plan: LaunchPlan, _ kernel: RecordingKernel) throws(BerthError) {
        var setup = RootfsSetup(plan: plan, kernel: kernel)
        defer { setup.close() }
        try setup.prepare()
        try setup.enter()
        try setup.writeSysctls()
        try setup.maskAndProtectPaths()
        try setup.finish()
    }

    /// The plan of `berth spec`'s config with `edit` applied, and a kernel whose container has a
    /// real null device.
    static func planAndKernel(_ edit: (inout Spec) -> Void = { _ in }) throws -> (LaunchPlan, RecordingKernel) {
        let fixture = try PlanFixture()
        let kernel = RecordingKernel()
        kernel.files["/dev/null"] = .characterDevice(major: 1, minor: 3)
        return (try plan(fixture, edit), kernel)
    }

    @Test func hostMountsBecomeSlavesBeforeTheRootfsIsBoundOntoItself() throws {
        let (plan, kernel) = try Self.planAndKernel()
        try Self.setUp(plan, kernel)
        let mounts = kernel.calls("mount")
        #expect(mounts.first == KernelCall("mount", ["-", "/", "-", "rec,slave", ""]))
        #expect(mounts.dropFirst().first == KernelCall("mount", [plan.rootfs, plan.rootfs, "-", "bind,rec", ""]))
    }

    @Test func everyMountGoesOnADescriptorOpenedInsideTheRootfs() throws {
        let (plan, kernel) = try Self.planAndKernel()
        try Self.setUp(plan, kernel)
        #expect(!plan.mounts.isEmpty)
        for step in plan.mounts {
            let target = plan.rootfs + step.destination
            let mount = try #require(kernel.calls.firstIndex { $0.name == "mount" && $0.arguments.count > 1 && $0.arguments[1] == target },
                                     "\(step.destination) is mounted")
            let opened = try #require(kernel.calls.firstIndex { $0.name == "open" && $0.arguments.first == target },
                                      "\(step.destination) is opened")
            #expect(opened < mount)
            #expect(kernel.calls[opened].arguments.contains("RESOLVE_IN_ROOT"), "\(kernel.calls[opened])")
        }
    }

    @Test func procMountedOnALinkIsRefusedBeforeAnythingIsMountedThere() throws {
        let (plan, kernel) = try Self.planAndKernel()
        kernel.files[plan.rootfs + "/proc"] = .symbolicLink("/etc")
        let error = try #require(throws: BerthError.self) { try Self.setUp(plan, kernel) }
        #expect(error.code == .invalidConfig)
        #expect(error.message.contains("proc must be mounted on an ordinary directory, and /proc is a symbolic link"), "\(error)")
        #expect(!kernel.calls("mount").contains { $0.arguments.count > 1 && $0.arguments[1] == plan.rootfs + "/proc" })
    }

    @Test func aFailedMountNamesItsConfigPathTheCallAndTheDestination() throws {
        let (plan, kernel) = try Self.planAndKernel()
        kernel.fail("mount", at: "/dev/pts", errno: EPERM)
        let error = try #require(throws: BerthError.self) { try Self.setUp(plan, kernel) }
        let index = try #require(plan.mounts.firstIndex { $0.destination == "/dev/pts" })
        #expect(error.description == "\(plan.mounts[index].label): mount /dev/pts: operation not permitted")
        #expect(error.errno == EPERM)
        #expect(kernel.calls("pivot_root").isEmpty, "nothing runs past the failure")
    }

    @Test func devicesAreMadeWithMknodAndChownedWithoutAUserNamespace() throws {
        let (plan, kernel) = try Self.planAndKernel()
        try Self.setUp(plan, kernel)
        let null = plan.rootfs + "/dev/null"
        let made = try #require(kernel.index(of: "mknod", null, "1:3"))
        let owned = try #require(kernel.index(of: "chown", null))
        #expect(made < owned)
        #expect(!kernel.calls("mount").contains { $0.arguments.first == "/dev/null" })
    }

    @Test func devicesAreBoundFromTheHostInAUserNamespace() throws {
        let (plan, kernel) = try Self.planAndKernel(Self.addUserNamespace)
        try Self.setUp(plan, kernel)
        #expect(kernel.calls("mknod").isEmpty, "mknod is refused in a user namespace")
        let null = plan.rootfs + "/dev/null"
        let created = try #require(kernel.index(of: "create", null))
        let bound = try #require(kernel.index(of: "mount", "/dev/null", null, "bind"))
        #expect(created < bound)
    }

    @Test func sysfsRefusedInAUserNamespaceBecomesABindOfTheHostsSys() throws {
        let (plan, kernel) = try Self.planAndKernel(Self.addUserNamespace)
        kernel.fail("mount", at: "sysfs", errno: EPERM)
        try Self.setUp(plan, kernel)
        let sys = plan.rootfs + "/sys"
        let refused = try #require(kernel.index(of: "mount", sys, "sysfs"))
        #expect(kernel.calls[refused + 1] == KernelCall("mount", ["/sys", sys, "-", "bind,rec", ""]))
    }

    @Test func pivotRootStacksTheOldRootAndDetachesIt() throws {
        let (plan, kernel) = try Self.planAndKernel()
        try Self.setUp(plan, kernel)
        let pivot = try #require(kernel.index(of: "pivot_root"))
        #expect(Array(kernel.calls[(pivot - 1)...(pivot + 3)]) == [
            KernelCall("fchdir", [plan.rootfs]), KernelCall("pivot_root", [".", "."]), KernelCall("umount", [".", "MNT_DETACH"]),
            KernelCall("chdir", ["/"]), KernelCall("mount", ["-", "/", "-", "rec,slave", ""]),
        ])
        #expect(kernel.calls("chroot").isEmpty)
    }

    @Test func withoutPivotTheRootfsIsMovedOverTheRootAndChrooted() throws {
        let (pivoting, kernel) = try Self.planAndKernel()
        var plan = pivoting
        plan.usePivotRoot = false
        try Self.setUp(plan, kernel)
        #expect(kernel.calls("pivot_root").isEmpty)
        let moved = try #require(kernel.index(of: "mount", plan.rootfs, "/", "move"))
        #expect(Array(kernel.calls[(moved - 1)...(moved + 2)]) == [
            KernelCall("chdir", [plan.rootfs]), KernelCall("mount", [plan.rootfs, "/", "-", "move", ""]), KernelCall("chroot", ["."]),
            KernelCall("chdir", ["/"]),
        ])
    }

    @Test func withoutAMountNamespaceNothingIsMountedAndTheInitChroots() throws {
        let (plan, kernel) = try Self.planAndKernel { spec in
            spec.linux?.namespaces?.removeAll { $0.type == .mount }
            spec.mounts = []
            spec.linux?.maskedPaths = nil
            spec.linux?.readonlyPaths = nil
            spec.root?.readonly = false
        }
        try Self.setUp(plan, kernel)
        #expect(kernel.calls("mount").isEmpty && kernel.calls("pivot_root").isEmpty && kernel.calls("move_mount").isEmpty)
        #expect(kernel.calls.suffix(3) == [KernelCall("fchdir", [plan.rootfs]), KernelCall("chroot", ["."]), KernelCall("chdir", ["/"])])
    }

    @Test func maskedDirectoriesGetAReadOnlyTmpfsAndMaskedFilesTheVerifiedNullDevice() throws {
        let (plan, kernel) = try Self.planAndKernel { spec in
            spec.linux?.maskedPaths = ["/proc/acpi", "/proc/kcore"]
            spec.linux?.readonlyPaths = []
        }
        kernel.files["/proc/kcore"] = .regular
        try Self.setUp(plan, kernel)
        let pivot = try #require(kernel.index(of: "pivot_root"))
        let tmpfs = try #require(kernel.index(of: "fsmount", "tmpfs context", "ro,nosuid,nodev,noexec"))
        #expect(pivot < tmpfs, "masks go on after pivot_root, inside the new root")
        #expect(kernel.calls[tmpfs + 1] == KernelCall("move_mount", ["mount of tmpfs context", "/proc/acpi"]))
        let nullChecked = try #require(kernel.index(of: "fstat", "/dev/null"))
        let cloned = try #require(kernel.index(of: "open_tree", "/dev/null", "OPEN_TREE_CLONE"))
        #expect(nullChecked < cloned)
        #expect(kernel.calls[cloned + 1] == KernelCall("move_mount", ["tree of /dev/null", "/proc/kcore"]))
    }

    @Test func aPathMaskedTwiceIsMaskedOnceAndMaskedDirectoriesShareOneTmpfs() throws {
        let (plan, kernel) = try Self.planAndKernel { spec in
            spec.linux?.maskedPaths = ["/proc/acpi", "/proc/kcore", "/sys/firmware", "/proc/kcore", "/proc/acpi"]
            spec.linux?.readonlyPaths = []
        }
        kernel.files["/proc/kcore"] = .regular
        try Self.setUp(plan, kernel)
        #expect(kernel.calls("fsmount").count == 1)
        let moves = kernel.calls("move_mount").map { $0.arguments[1] }
        #expect(moves == ["/proc/acpi", "/proc/kcore", "/sys/firmware"])
        let clone = try #require(kernel.index(of: "open_tree", "/proc/acpi", "OPEN_TREE_CLONE"))
        #expect(kernel.calls[clone + 1] == KernelCall("move_mount", ["tree of /proc/acpi", "/sys/firmware"]))
        #expect(kernel.index(of: "open_tree", "/proc/acpi", "AT_RECURSIVE") == nil, "the clone takes the tmpfs alone")
    }

    /// runc keeps the mode of the directory a tmpfs covers when no mode= is given (0710 stays
    /// 0710, where the kernel would make it 1777); a mode= given, or a directory made for the
    /// mount, is left to the kernel.
    @Test func aTmpfsWithoutModeTakesTheModeOfTheDirectoryItCovers() throws {
        let (plan, kernel) = try Self.planAndKernel { spec in
            spec.mounts?.append(Mount(destination: "/covered", type: "tmpfs", source: "tmpfs", options: ["nosuid"]))
            spec.mounts?.append(Mount(destination: "/given", type: "tmpfs", source: "tmpfs", options: ["mode=1777"]))
            spec.mounts?.append(Mount(destination: "/made", type: "tmpfs", source: "tmpfs"))
        }
        kernel.files[plan.rootfs + "/made"] = .missing
        try Self.setUp(plan, kernel)
        let data = { (destination: String) in kernel.calls("mount").first { $0.arguments[1] == plan.rootfs + destination }?.arguments.last }
        #expect(data("/covered") == "mode=0755")
        #expect(data("/given") == "mode=1777")
        #expect(data("/made") == "")
    }

    /// A read-only /dev is mounted writable, filled, and made read-only after pivot_root, as runc
    /// does: its device nodes, links and /dev/pts are there.
    @Test func aReadOnlyDevTmpfsIsMadeReadOnlyOnceItsDevicesAreThere() throws {
        let (plan, kernel) = try Self.planAndKernel { spec in
            spec.mounts?[1].options?.append("ro")
        }
        #expect(plan.mounts[1].destination == "/dev" && plan.mounts[1].options.isReadOnly)
        try Self.setUp(plan, kernel)
        let dev = try #require(kernel.calls("mount").first { $0.arguments[1] == plan.rootfs + "/dev" })
        #expect(!dev.arguments[3].split(separator: ",").contains("ro"), "\(dev)")
        let pts = try #require(kernel.index(of: "mount", plan.rootfs + "/dev/pts"))
        let null = try #require(kernel.index(of: "mknod", plan.rootfs + "/dev/null"))
        let pivot = try #require(kernel.index(of: "pivot_root"))
        let readOnly = try #require(kernel.index(of: "mount_setattr", "/dev", "set=ro"))
        #expect(pts < readOnly && null < readOnly && pivot < readOnly)
    }

    /// A bind source is looked for when its mount is made, so that one an earlier mount makes
    /// is found, as in runc; a missing one fails there, naming its config path.
    @Test func aBindSourceIsCheckedWhenItIsMounted() throws {
        let (plan, kernel) = try Self.planAndKernel { spec in
            spec.mounts?.append(Mount(destination: "/data", type: "bind", source: "/no/such/dir", options: ["rbind"]))
        }
        kernel.files["/no/such/dir"] = .missing
        let error = try #require(throws: BerthError.self) { try Self.setUp(plan, kernel) }
        #expect(error.message == "mounts[7].source: /no/such/dir does not exist")
        #expect(kernel.calls("mount").last?.arguments[1] != plan.rootfs + "/data")
    }

    /// runc 1.1+ opens bind sources as host root when the container has a user namespace and a
    /// mount namespace (not rootless): the init binds from the parent's descriptor, and asks it,
    /// not the path (which the init may not reach), whether the source is a directory.
    @Test func aBindSourceTheParentOpenedIsBoundFromItsDescriptor() throws {
        let (plan, kernel) = try Self.planAndKernel { spec in
            Self.addUserNamespace(&spec)
            spec.mounts?.append(Mount(destination: "/data", type: "bind", source: "/host/secret/inner", options: ["rbind", "ro"]))
        }
        #expect(plan.bindsSourcesAsHostRoot)
        let opened = kernel.descriptor(named: "/host/secret/inner")
        var setup = RootfsSetup(plan: plan, kernel: kernel)
        setup.bindSources["mounts[7]"] = opened
        defer { setup.close() }
        try setup.prepare()
        let bind = try #require(kernel.calls("mount").first { $0.arguments.count > 1 && $0.arguments[1].hasSuffix("/data") }, "\(kernel.calls)")
        #expect(bind.arguments[0] == opened.procPath, "\(bind)")
        #expect(kernel.index(of: "fstat", "/host/secret/inner") != nil)
        #expect(kernel.calls.allSatisfy { $0.name != "stat" || !$0.arguments.contains("/host/secret/inner") }, "the init never looks up the source's path")
    }

    /// runc's rule: a user namespace (berth's plan requires a mount namespace with one), not
    /// rootless (RootlessPlanTests).
    @Test func onlyAUserNamespaceBindsSourcesAsHostRoot() throws {
        let fixture = try PlanFixture()
        #expect(try !Self.plan(fixture).bindsSourcesAsHostRoot)
        #expect(try Self.plan(fixture, Self.addUserNamespace).bindsSourcesAsHostRoot)
    }

    /// tmpcopyup: the covered directory is opened before the tmpfs goes on, and its contents
    /// copied into the tmpfs after; a read-only one is made read-only once filled.
    @Test func tmpcopyupCopiesTheCoveredDirectoryIntoTheTmpfs() throws {
        let (plan, kernel) = try Self.planAndKernel { spec in
            spec.mounts?.append(Mount(destination: "/covered", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "ro"]))
        }
        let covered = plan.rootfs + "/covered"
        // The model has one path for the covered directory and the tmpfs over it: a file, whose
        // creation it does not check, stands for the contents (TreeCopyTests copies real ones).
        kernel.files[covered + "/file"] = .regular
        try Self.setUp(plan, kernel)
        let opened = try #require(kernel.calls.firstIndex { $0.name == "open" && $0.arguments.first == covered })
        let mount = try #require(kernel.index(of: "mount", covered))
        let listed = try #require(kernel.index(of: "getdents", covered))
        let copied = try #require(kernel.calls.lastIndex { $0.name == "open" && $0.arguments.first == covered + "/file" })
        let owned = try #require(kernel.index(of: "chown", covered + "/file"))
        let readOnly = try #require(kernel.index(of: "mount_setattr", covered, "set=ro"))
        #expect(opened < mount && mount < listed && listed < copied && copied < owned && owned < readOnly)
        #expect(!kernel.calls[mount].arguments[3].split(separator: ",").contains("ro"), "\(kernel.calls[mount])")
    }

    @Test func aNullDeviceThatIsNotOneMasksNothing() throws {
        let (plan, kernel) = try Self.planAndKernel { $0.linux?.maskedPaths = ["/proc/kcore"] }
        kernel.files["/proc/kcore"] = .regular
        kernel.files["/dev/null"] = .regular
        let error = try #require(throws: BerthError.self) { try Self.setUp(plan, kernel) }
        #expect(error.message == "/dev/null in the container is not the null device")
        #expect(kernel.calls("open_tree").isEmpty && kernel.calls("move_mount").isEmpty)
    }

    @Test func missingMaskedAndReadOnlyPathsAreSkipped() throws {
        let (plan, kernel) = try Self.planAndKernel { spec in
            spec.linux?.maskedPaths = ["/proc/timer_list"]
            spec.linux?.readonlyPaths = ["/proc/bus"]
        }
        kernel.files["/proc/timer_list"] = .missing
        kernel.files["/proc/bus"] = .missing
        try Self.setUp(plan, kernel)
        #expect(kernel.calls("move_mount").isEmpty)
    }

    @Test func readOnlyPathsAreMadeReadOnlyBeforeTheyAreAttached() throws {
        let (plan, kernel) = try Self.planAndKernel { spec in
            spec.linux?.maskedPaths = []
            spec.linux?.readonlyPaths = ["/proc/sys", "/proc/bus"]
        }
        try Self.setUp(plan, kernel)
        for path in ["/proc/sys", "/proc/bus"] {
            let cloned = try #require(kernel.index(of: "open_tree", path, "AT_RECURSIVE"))
            #expect(Array(kernel.calls[(cloned + 1)...(cloned + 2)]) == [
                KernelCall("mount_setattr", ["tree of \(path)", "set=ro,nosuid,nodev,noexec", "clear=-", "AT_RECURSIVE"]),
                KernelCall("move_mount", ["tree of \(path)", path]),
            ])
        }
    }

    @Test func sysctlsAreWrittenThroughAVerifiedProcfsBeforeProcSysIsReadOnly() throws {
        let (plan, kernel) = try Self.planAndKernel { $0.linux?.sysctl = ["net.ipv4.ip_forward": "1"] }
        try Self.setUp(plan, kernel)
        let opened = try #require(kernel.index(of: "open", "/proc/sys/net/ipv4/ip_forward"))
        #expect(kernel.calls[opened].arguments.contains("RESOLVE_NO_XDEV") && kernel.calls[opened].arguments.contains("RESOLVE_NO_SYMLINKS"))
        let written = try #require(kernel.index(of: "write", "/proc/sys/net/ipv4/ip_forward", "1"))
        let pivot = try #require(kernel.index(of: "pivot_root"))
        let readOnly = try #require(kernel.index(of: "open_tree", "/proc/sys"))
        #expect(pivot < written && written < readOnly)
        let firstMask = try #require(kernel.index(of: "move_mount"))
        #expect(written < firstMask)
    }

    @Test func aSysctlThatCannotBeWrittenNamesItsKey() throws {
        let (plan, kernel) = try Self.planAndKernel { $0.linux?.sysctl = ["kernel.shm_rmid_forced": "1"] }
        kernel.fail("write", errno: EACCES)
        let error = try #require(throws: BerthError.self) { try Self.setUp(plan, kernel) }
        #expect(error.description == "linux.sysctl[\"kernel.shm_rmid_forced\"]: write /proc/sys/kernel/shm_rmid_forced: write: permission denied")
    }

    @Test func aReadOnlyRootIsRemountedLastKeepingItsFlags() throws {
        let (plan, kernel) = try Self.planAndKernel()
        #expect(plan.rootReadonly)
        kernel.currentMountFlags["/"] = [.noSuid, .relatime]
        try Self.setUp(plan, kernel)
        #expect(kernel.calls.last == KernelCall("mount", ["-", "/", "-", "ro,nosuid,remount,bind,relatime", ""]))
    }

    @Test func everyDescriptorTheSetUpOpensIsClosed() throws {
        let (plan, kernel) = try Self.planAndKernel { spec in
            spec.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
            spec.linux?.maskedPaths = ["/proc/acpi", "/proc/kcore"]
        }
        kernel.files["/proc/kcore"] = .regular
        try Self.setUp(plan, kernel)
        #expect(kernel.openDescriptors.isEmpty, "\(kernel.openDescriptors)")
    }
}
