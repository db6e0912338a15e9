import Foundation
import Glibc
import TestSupport
import Testing

// Mounts, the rootfs and namespaces as runc and crun handle them, starting from `runc spec`'s
// config (root.readonly true, a tmpfs on /dev, sysfs and a cgroup mount, no user or cgroup
// namespace). Fixtures are planted in a copy of the busybox rootfs, never in the shared one.
// Tests that need a host mount make it in a private mount namespace (`unshare -m`) that ends
// with the test's berth, so nothing reaches the host's mount table.

/// Runs on the host and in the VM.
@Suite(.timeLimit(.minutes(10)))
struct MountConformanceIntegrationTests {
    // MARK: - 18. proc and sysfs only on ordinary directories

    /// `rootfs/proc -> /host/scratch` (and the same for /sys, and a plain file in their place):
    /// create is refused as runc refuses it, and neither the host path nor the path the link
    /// names inside the rootfs gets anything (CVE-2019-16884, CVE-2019-19921).
    @Test(arguments: ["proc link", "sys link", "proc file"])
    func procOrSysfsOnALinkOrFileIsRefused(_ kind: String) async throws {
        try await withBerthSandbox { s in
            let scratch = s.directory.path + "/host-proc"
            let rootfs = try await copyRootfs(s)
            let name = kind.hasPrefix("proc") ? "proc" : "sys"
            try FileManager.default.removeItem(atPath: rootfs + "/" + name)
            if kind.hasSuffix("link") {
                try FileManager.default.createSymbolicLink(atPath: rootfs + "/" + name, withDestinationPath: scratch)
            } else {
                try "not a directory\n".write(toFile: rootfs + "/" + name, atomically: false, encoding: .utf8)
            }
            let watch = HostWatch([scratch, rootfs + scratch, rootfs + "/" + name], mountsUnder: [s.directory.path])
            let bundle = try await runcBundle(s, ["true"]) { $0["root.path"] = rootfs }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            let index = name == "proc" ? 0 : 5
            #expect(run.status != 0, "\(run)")
            #expect(run.errorLine.contains("mounts[\(index)].destination: ") && run.errorLine.contains("ordinary directory")
                    && !run.errorLine.contains("\n"), "\(run)")
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }

    // MARK: - 6. A dangling link as a mount destination

    /// `rootfs/etc/not-existing -> /host/scratch/target`: the mount lands on the target made
    /// inside the rootfs, as in runc; the host path is never created.
    @Test func danglingDestinationLinkIsFollowedInsideTheRootfs() async throws {
        try await withBerthSandbox { s in
            let hostTarget = s.directory.path + "/host-only/target"
            let hostFile = s.directory.path + "/host-only/file"
            let bound = s.directory.path + "/bound"
            try "bound\n".write(toFile: bound, atomically: false, encoding: .utf8)
            let rootfs = try await copyRootfs(s)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/etc/not-existing", withDestinationPath: hostTarget)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/etc/not-a-file", withDestinationPath: hostFile)
            let watch = HostWatch([s.directory.path + "/host-only", hostTarget, hostFile], mountsUnder: [s.directory.path + "/host-only"])
            let script = "grep -c ' \(hostTarget) ' /proc/self/mountinfo; cat /etc/not-a-file"
            let bundle = try await runcBundle(s, ["sh", "-c", script]) {
                $0["root.path"] = rootfs
                $0.addMount(destination: "/etc/not-existing", type: "tmpfs", source: "tmpfs", options: ["size=1m"])
                $0.addMount(destination: "/etc/not-a-file", type: "bind", source: bound, options: ["bind", "ro"])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == ["1", "bound"], "\(run)")
            var info = stat()
            #expect(lstat(rootfs + hostTarget, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR, "the target is not made in the rootfs")
            #expect(lstat(rootfs + hostFile, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG, "the file is not made in the rootfs")
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }

    // MARK: - 5. A missing process.cwd

    /// Made inside the rootfs before it turns read-only, owned by the container's root with mode
    /// 0755 as runc makes it; through a dangling link to a host path it is made inside too.
    @Test func missingCwdIsCreatedInsideTheRootfs() async throws {
        try await withBerthSandbox { s in
            let hostPath = s.directory.path + "/host-cwd"
            let rootfs = try await copyRootfs(s)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/work", withDestinationPath: hostPath)
            let watch = HostWatch([hostPath], mountsUnder: [s.directory.path])
            let bundle = try await runcBundle(s, ["sh", "-c", "pwd; stat -c '%u:%g %a' /work/deep"]) {
                $0["root.path"] = rootfs
                $0["process.cwd"] = "/work/deep"
                $0["process.user.uid"] = 1000
                $0["process.user.gid"] = 1000
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            // The link leads to the same path inside the rootfs, where the directory is made.
            #expect(run.lines == [hostPath + "/deep", "0:0 755"], "\(run)")
            #expect(FileManager.default.fileExists(atPath: rootfs + hostPath + "/deep"))

            // A cwd through procfs's links (descriptors of the init's own, which is where
            // creating the path would read their host paths) is never created, nor followed.
            let entries = try FileManager.default.contentsOfDirectory(atPath: rootfs).sorted()
            for fd in 3...9 {
                let magic = try await runcBundle(s, ["true"]) {
                    $0["root.path"] = rootfs
                    $0["process.cwd"] = "/proc/self/fd/\(fd)/sub"
                }
                let refused = try await s.berth("run", "--bundle", magic.path, s.newID())
                #expect(refused.status != 0 && refused.errorLine.contains("process.cwd"), "\(refused)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: rootfs).sorted() == entries)
            #expect(watch.changes().isEmpty, "\(watch.changes())")
        }
    }

    // MARK: - 17. Options that used to be ignored

    /// `rro` and the other recursive options reach the submounts of an rbind, which a remount
    /// never does: the submount is a tmpfs the config mounts in the rootfs first.
    @Test func recursiveOptionsReachEverySubmount() async throws {
        try await withBerthSandbox { s in
            let rootfs = try await copyRootfs(s)
            try FileManager.default.createDirectory(atPath: rootfs + "/srv/sub", withIntermediateDirectories: true)
            let script = "touch /mnt/sub/f 2>&1; touch /srv/sub/f && echo original writable; grep ' /mnt/sub ' /proc/self/mountinfo"
            let bundle = try await runcBundle(s, ["sh", "-c", script]) {
                $0["root.path"] = rootfs
                $0.addMount(destination: "/srv/sub", type: "tmpfs", source: "tmpfs", options: ["size=1m"])
                $0.addMount(destination: "/mnt", type: "bind", source: rootfs + "/srv",
                            options: ["rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime"])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines.first?.contains("Read-only file system") == true, "\(run)")
            #expect(run.lines.contains("original writable"), "\(run)")
            let options = MountInfo.options(of: "/mnt/sub", in: run.stdout)
            #expect(options == ["ro", "nosuid", "nodev", "noexec", "noatime"], "\(run)")
        }
    }

    @Test func memoryPolicyIsSetOrRefusedByItsPath() async throws {
        try await withBerthSandbox { s in
            let invalid = try await runcBundle(s, ["true"]) {
                $0["linux.memoryPolicy"] = ["mode": "MPOL_NONSENSE", "nodes": "0"]
            }
            let refused = try await s.berth("run", "--bundle", invalid.path, s.newID())
            #expect(refused.status != 0 && refused.errorLine.contains(": linux.memoryPolicy.mode: "), "\(refused)")
            // Well-formed, but no such node: the kernel's refusal of set_mempolicy is reported.
            let missingNode = try await runcBundle(s, ["true"]) {
                $0["linux.memoryPolicy"] = ["mode": "MPOL_BIND", "nodes": "1000"]
            }
            let failed = try await s.berth("run", "--bundle", missingNode.path, s.newID())
            #expect(failed.status != 0 && failed.errorLine.contains("linux.memoryPolicy: set_mempolicy: "), "\(failed)")
            guard FileManager.default.fileExists(atPath: "/sys/devices/system/node/node0") else { return }
            let valid = try await runcBundle(s, ["true"]) {
                $0["linux.memoryPolicy"] = ["mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]]
            }
            let run = try await s.berth("run", "--bundle", valid.path, s.newID())
            #expect(run.status == 0, "\(run)")
        }
    }

    @Test(arguments: ["idmap", "ridmap"])
    func idmapOptionIsRefusedByItsPath(_ option: String) async throws {
        try await withBerthSandbox { s in
            let bundle = try await runcBundle(s, ["true"]) {
                $0.addMount(destination: "/mnt", type: "bind", source: s.directory.path, options: ["rbind", option])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status != 0 && run.errorLine.contains(": mounts[7].options: \(option) without uidMappings and gidMappings needs a new user namespace"), "\(run)")
        }
    }

    /// rootfsPropagation slave: the container's / follows the mount the rootfs is on (a
    /// `master:` tag in its mountinfo line); private has no tag. The rootfs is made a shared
    /// mount in a mount namespace of this test's own, for there to be something to follow.
    @Test(arguments: ["slave", "private"])
    func rootfsPropagationTakesEffect(_ propagation: String) async throws {
        try await withBerthSandbox { s in
            let bundle = try await runcBundle(s, ["awk", "$5 == \"/\"", "/proc/self/mountinfo"]) {
                $0["linux.rootfsPropagation"] = propagation
            }
            let run = try await runInPrivateMountNamespace(
                s, "mount --bind '\(s.rootfs)' '\(s.rootfs)' && mount --make-shared '\(s.rootfs)'", ["run", "--bundle", bundle.path, s.newID()])
            #expect(run.status == 0, "\(run)")
            let tags = run.stdout.split(separator: " ").filter { $0.hasPrefix("master:") || $0.hasPrefix("shared:") }
            if propagation == "private" {
                #expect(tags.isEmpty, "\(run)")
            } else {
                #expect(tags.count == 1 && tags.first?.hasPrefix("master:") == true, "\(run)")
            }
        }
    }

    // MARK: - 19. Bind mounts take the flags asked for

    /// dev, exec, suid and atime clear what the source has; rw makes the bind of a read-only
    /// mount writable. The sources are mounts the config makes in the rootfs first (the
    /// read-only one a read-only bind of a tmpfs, whose filesystem stays writable).
    @Test func bindClearsTheFlagsItIsAskedToClear() async throws {
        try await withBerthSandbox { s in
            let rootfs = try await copyRootfs(s)
            for name in ["locked", "tmpfs", "ro"] {
                try FileManager.default.createDirectory(atPath: rootfs + "/srv/" + name, withIntermediateDirectories: true)
            }
            let script = "grep -E ' /(mnt|mnt2) ' /proc/self/mountinfo; touch /mnt2/f && echo writable"
            let bundle = try await runcBundle(s, ["sh", "-c", script]) {
                $0["root.path"] = rootfs
                $0.addMount(destination: "/srv/locked", type: "tmpfs", source: "tmpfs", options: ["nodev", "nosuid", "noexec", "noatime", "size=1m"])
                $0.addMount(destination: "/srv/tmpfs", type: "tmpfs", source: "tmpfs", options: ["size=1m"])
                $0.addMount(destination: "/srv/ro", type: "bind", source: rootfs + "/srv/tmpfs", options: ["bind", "ro"])
                $0.addMount(destination: "/mnt", type: "bind", source: rootfs + "/srv/locked", options: ["bind", "dev", "exec", "suid", "atime"])
                $0.addMount(destination: "/mnt2", type: "bind", source: rootfs + "/srv/ro", options: ["bind", "rw"])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(MountInfo.options(of: "/mnt", in: run.stdout) == ["rw", "relatime"], "\(run)")
            #expect(MountInfo.options(of: "/mnt2", in: run.stdout) == ["rw", "relatime"], "\(run)")
            #expect(run.lines.last == "writable", "\(run)")
        }
    }

    /// In a user namespace the kernel locks the flags of a mount from the host: a bind that asks
    /// to clear them keeps them (as runc does) instead of failing with EPERM, and gets the rest.
    @Test func bindInAUserNamespaceKeepsOnlyTheLockedFlags() async throws {
        try await withBerthSandbox { s in
            let source = try makeHostDirectory(s, "locked-source")
            // The bind source is looked up by the container's root, an unprivileged user here,
            // who cannot make the mount point in a rootfs owned by the host's root either.
            chmod(s.directory.path, 0o711)
            let rootfs = try await copyRootfs(s)
            try FileManager.default.createDirectory(atPath: rootfs + "/mnt", withIntermediateDirectories: true)
            let script = "grep ' /mnt ' /proc/self/mountinfo; touch /mnt/f 2>&1; exit 0"
            let bundle = try await runcBundle(s, ["sh", "-c", script]) {
                $0["root.path"] = rootfs
                addUserNamespace(&$0)
                $0.addMount(destination: "/mnt", type: "bind", source: source, options: ["rbind", "rw", "dev", "suid", "exec", "atime"])
            }
            // The source: a tmpfs with every lockable flag, in a mount namespace of this test's own.
            let run = try await runInPrivateMountNamespace(
                s, "mount -t tmpfs -o ro,nosuid,nodev,noexec,noatime tmpfs \(source)", ["run", "--bundle", bundle.path, s.newID()])
            #expect(run.status == 0, "\(run)")
            #expect(MountInfo.options(of: "/mnt", in: run.stdout) == ["ro", "nosuid", "nodev", "noexec", "noatime"], "\(run)")
            #expect(run.stdout.contains("Read-only file system"), "\(run)")
        }
    }

    // MARK: - 3. A cgroup mount in a user namespace without a cgroup namespace

    /// cgroup2 cannot be mounted there: the container's own cgroup directory is bound instead,
    /// read-only as the mount asks, as runc and crun do.
    @Test func cgroupMountWithoutCgroupNamespaceBindsTheContainersCgroup() async throws {
        try await withBerthSandbox { s in
            let id = s.newID()
            let script = "grep ' /sys/fs/cgroup ' /proc/self/mountinfo; test -e /sys/fs/cgroup/cgroup.procs && echo procs"
            let bundle = try await runcBundle(s, ["sh", "-c", script]) {
                addUserNamespace(&$0)
                // runc spec lists a cgroup namespace on a cgroup v2 host (the VM), not on this hybrid one.
                $0.removeNamespace("cgroup")
            }
            let run = try await s.berth("run", "--bundle", bundle.path, id)
            #expect(run.status == 0, "\(run)")
            // The last line is the mount on top: where /sys is the host's bound (a sysfs the
            // container may not mount, as in the VM), the host's cgroup2 comes with it below.
            let line = try #require(run.lines.last { $0.split(separator: " ").count > 4 && $0.split(separator: " ")[4] == "/sys/fs/cgroup" }, "\(run)")
            let fields = line.split(separator: " ").map(String.init)
            #expect(fields[3] == "/berth/\(id)", "the bound directory is the container's cgroup: \(line)")
            #expect(fields[5].split(separator: ",").contains("ro"), "\(line)")
            #expect(run.lines.last == "procs", "\(run)")
        }
    }

    // MARK: - 9. A uts namespace joined by path

    @Test func hostnameIsSetInAUtsNamespaceJoinedByPath() async throws {
        try await withBerthSandbox { s in
            // Killed at the end: it must outlive the test however slow a loaded host makes it
            // (a 60 s holder was gone by the time berth opened its namespace, under load 20).
            let holder = try SpawnedProcess("/usr/bin/unshare", ["-u", "sleep", "3600"], environment: ["PATH=/usr/bin:/bin"],
                                            stdoutPath: s.directory.path + "/holder.out", stderrPath: s.directory.path + "/holder.err")
            defer { holder.kill() }
            let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/uts")
            let joined = await eventually { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(holder.pid)/ns/uts")).map { $0 != ours } ?? false }
            try #require(joined, "the holder never got a uts namespace of its own")
            let hostBefore = ProcessInfo.processInfo.hostName
            let bundle = try await runcBundle(s, ["hostname"]) {
                $0.removeNamespace("uts")
                $0["linux.namespaces"] = ($0["linux.namespaces"] as? [Any] ?? []) + [["type": "uts", "path": "/proc/\(holder.pid)/ns/uts"]]
                $0["hostname"] = "joined"
                $0["domainname"] = "joined.example"
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == ["joined"], "\(run)")
            #expect(ProcessInfo.processInfo.hostName == hostBefore)

            // The host's own uts namespace, joined by path, is still refused.
            let host = try await runcBundle(s, ["hostname"]) {
                $0.removeNamespace("uts")
                $0["linux.namespaces"] = ($0["linux.namespaces"] as? [Any] ?? []) + [["type": "uts", "path": "/proc/1/ns/uts"]]
            }
            let refused = try await s.berth("run", "--bundle", host.path, s.newID())
            if MountInfo.sameNamespace("/proc/1/ns/uts", "/proc/self/ns/uts") {
                #expect(refused.status != 0 && refused.errorLine.contains(": hostname: "), "\(refused)")
            }
        }
    }

    // MARK: - 8. No namespaces at all

    /// Every namespace is the host's. Whatever would mount is refused by its field (runc
    /// mounts on the host there); a config without mounts runs chrooted in the rootfs, in the
    /// host's pid namespace, and the host's mount table does not change.
    @Test func noNamespacesRunsChrootedAndMountsNothing() async throws {
        try await withBerthSandbox { s in
            let rootfs = try await copyRootfs(s)
            let before = HostWatch.mountPoints()
            let withMounts = try await runcBundle(s, ["true"]) {
                $0["root.path"] = rootfs
                $0["linux.namespaces"] = [Any]()
                $0["hostname"] = ""
            }
            let refused = try await s.berth("run", "--bundle", withMounts.path, s.newID())
            #expect(refused.status != 0 && refused.errorLine.contains(": mounts: needs a mount namespace"), "\(refused)")

            let bare = try await runcBundle(s, ["sh", "-c", "test -e /.berth-rootfs && echo rootfs; test $$ != 1 && echo host-pids"]) {
                $0["root.path"] = rootfs
                $0["linux.namespaces"] = [Any]()
                $0["hostname"] = ""
                $0["mounts"] = [Any]()
                $0["root.readonly"] = false
                $0["linux.maskedPaths"] = [Any]()
                $0["linux.readonlyPaths"] = [Any]()
            }
            let run = try await s.berth("run", "--bundle", bare.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.lines == ["rootfs", "host-pids"], "\(run)")

            // exec joins what the init has, and its root: the rootfs, not the host's /.
            var sleeper = try bare.config()
            sleeper.args = ["sleep", "1000"]
            try bare.save(sleeper)
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bare.path, id).succeeded)
            let exec = try await s.berth("exec", id, "sh", "-c", "test -e /.berth-rootfs && echo rootfs")
            #expect(exec.status == 0 && exec.lines == ["rootfs"], "\(exec)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
            #expect(HostWatch.mountPoints().subtracting(before).isEmpty, "new host mounts: \(HostWatch.mountPoints().subtracting(before))")
        }
    }
}

// MARK: - Helpers

/// `runc spec`'s config for `args`, then `edit`. Its ambient capabilities (raised by runc
/// without the matching inheritable ones) are dropped: that is the process helpers' item, and
/// these tests are about mounts.
private func runcBundle(_ s: BerthSandbox, _ args: [String], edit: (inout BundleConfig) throws -> Void = { _ in }) async throws -> TestBundle {
    try await s.foreignBundle(.runc, args) {
        $0["process.capabilities.ambient"] = nil
        try edit(&$0)
    }
}

/// A user namespace mapping the container's 0-65535 to the host's 100000-165535.
private func addUserNamespace(_ config: inout BundleConfig) {
    config["linux.namespaces"] = (config["linux.namespaces"] as? [Any] ?? []) + [["type": "user"]]
    config["linux.uidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
    config["linux.gidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
}

/// `berth ARGS` after `setup` (a shell command that mounts), both in a private mount namespace
/// that ends with them: the mounts never reach the host's table.
private func runInPrivateMountNamespace(_ s: BerthSandbox, _ setup: String, _ arguments: [String]) async throws -> CommandResult {
    let command = ([s.berthPath, "--root", s.stateRoot] + arguments).map { "'\($0)'" }.joined(separator: " ")
    let process = try SpawnedProcess("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", "\(setup) && exec \(command)"],
                                     environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", s.marker],
                                     stdoutPath: s.directory.path + "/unshare.out", stderrPath: s.directory.path + "/unshare.err")
    return await process.wait()
}

/// Reading /proc/self/mountinfo lines.
enum MountInfo {
    /// The per-mount options of the mount at `point` in mountinfo text; the last one wins.
    static func options(of point: String, in text: String) -> [String]? {
        var found: [String]?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 5 && fields[4] == point { found = fields[5].split(separator: ",").map(String.init) }
        }
        return found
    }

    static func sameNamespace(_ a: String, _ b: String) -> Bool {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: a)) == (try? FileManager.default.destinationOfSymbolicLink(atPath: b))
    }
}
