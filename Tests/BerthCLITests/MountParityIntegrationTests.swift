import Foundation
import Glibc
import TestSupport
import Testing

/// Mount details where berth did what runc 1.1.5 does not, measured on the same `runc spec`
/// bundle (docs/engines.md, the compatibility table). Fixtures go in a copy of the busybox
/// rootfs. Runs on the host and in the VM.
@Suite(.timeLimit(.minutes(5)))
struct MountParityIntegrationTests {
    /// runc: a tmpfs without mode= over a 0710 directory is 0710; mode= is the kernel's.
    @Test func aTmpfsWithoutModeKeepsTheModeOfTheDirectoryItCovers() async throws {
        try await withBerthSandbox { s in
            let rootfs = try await copyRootfs(s)
            try FileManager.default.createDirectory(atPath: rootfs + "/covered", withIntermediateDirectories: false)
            #expect(chmod(rootfs + "/covered", 0o710) == 0)
            let bundle = try await s.foreignBundle(.runc, ["stat", "-c", "%a", "/covered", "/given"]) {
                $0["root.path"] = rootfs
                $0.addMount(destination: "/covered", type: "tmpfs", source: "tmpfs", options: ["nosuid"])
                $0.addMount(destination: "/given", type: "tmpfs", source: "tmpfs", options: ["mode=1777"])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0 && run.lines == ["710", "1777"], "\(run)")
        }
    }

    /// runc: `tmpcopyup` fills the tmpfs with a copy of the directory it covers (modes, links,
    /// subdirectories); what the container writes there stays in the tmpfs.
    @Test func tmpcopyupCopiesTheCoveredDirectoryIntoTheTmpfs() async throws {
        try await withBerthSandbox { s in
            let rootfs = try await copyRootfs(s)
            try FileManager.default.createDirectory(atPath: rootfs + "/covered/sub", withIntermediateDirectories: true)
            try "kept\n".write(toFile: rootfs + "/covered/sub/file", atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/covered/link", withDestinationPath: "sub/file")
            #expect(chmod(rootfs + "/covered/sub/file", 0o640) == 0 && chmod(rootfs + "/covered", 0o750) == 0)
            let script = "stat -c %a /covered /covered/sub/file; cat /covered/link; grep -c ' /covered tmpfs ' /proc/mounts; echo new > /covered/new"
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", script]) {
                $0["root.path"] = rootfs
                $0.addMount(destination: "/covered", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "nosuid"])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0 && run.lines == ["750", "640", "kept", "1"], "\(run)")
            #expect(!FileManager.default.fileExists(atPath: rootfs + "/covered/new"))
        }
    }

    /// runc: a read-only tmpfs on /dev still has its device nodes, links and /dev/pts, and is
    /// read-only to the process.
    @Test func aReadOnlyDevTmpfsStillGetsItsDevicesAndDevpts() async throws {
        try await withBerthSandbox { s in
            let script = "ls /dev/null /dev/zero /dev/pts/ptmx /dev/stdout >/dev/null && echo devices; touch /dev/x 2>/dev/null || echo read-only"
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", script]) {
                $0["mounts.1.options"] = ($0["mounts.1.options"] as? [String] ?? []) + ["ro"]
            }
            let config = try bundle.config()
            try #require(config["mounts.1.destination"] as? String == "/dev")
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0 && run.lines == ["devices", "read-only"], "\(run)")
        }
    }

    /// runc: a bind source that an earlier mount of the config makes is accepted (it is looked
    /// for when its mount is made); a missing one still fails, by its config path.
    @Test func aBindSourceMadeByAnEarlierMountIsAccepted() async throws {
        try await withBerthSandbox { s in
            let scratch = s.directory.path + "/scratch"
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
            let rootfs = try await copyRootfs(s)
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "test -d /alias && echo bound"]) {
                $0["root.path"] = rootfs
                $0.addMount(destination: "/scratch", type: "bind", source: scratch, options: ["rbind"])
                $0.addMount(destination: "/scratch/made", type: "tmpfs", source: "tmpfs", options: [])
                $0.addMount(destination: "/alias", type: "bind", source: scratch + "/made", options: ["rbind"])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0 && run.stdout == "bound\n", "\(run)")

            var config = try bundle.config()
            config["mounts.\((config["mounts"] as? [Any] ?? []).count - 1).source"] = scratch + "/missing"
            try bundle.save(config)
            let missing = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(missing.status != 0 && missing.errorLine.hasSuffix("].source: \(scratch)/missing does not exist"), "\(missing)")
        }
    }

    /// runc 1.1+ opens bind sources as host root when the container has a user namespace: a
    /// source under a directory the container's root cannot search (0700, the host root's) is
    /// bound (measured: runc 1.1.5 lists it; berth failed with `mounts[7]: stat ...: permission
    /// denied`). A destination the container's root cannot reach still fails in both.
    @Test func aBindSourceTheUserNamespaceCannotReachIsBoundAsInRunc() async throws {
        try await withBerthSandbox { s in
            let secret = s.directory.path + "/secret"
            try FileManager.default.createDirectory(atPath: secret + "/inner", withIntermediateDirectories: true)
            try "seen\n".write(toFile: secret + "/inner/file", atomically: false, encoding: .utf8)
            #expect(chmod(secret, 0o700) == 0)
            // The rootfs itself must be reachable by the mapped root: searchable by others.
            #expect(chmod(s.directory.path, 0o711) == 0)
            let rootfs = try await copyRootfs(s)
            try FileManager.default.createDirectory(atPath: rootfs + "/locked/inner", withIntermediateDirectories: true)
            // The destination exists, as in an image: the mapped root cannot mkdir in a rootfs the
            // host's root owns (neither can runc's init), and a fresh clone's rootfs has no /data.
            try FileManager.default.createDirectory(atPath: rootfs + "/data", withIntermediateDirectories: true)
            #expect(chmod(rootfs + "/locked", 0o700) == 0)
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "cat /data/file; grep -c ' /data ' /proc/self/mountinfo"]) {
                $0["root.path"] = rootfs
                $0["linux.namespaces"] = ($0["linux.namespaces"] as? [Any] ?? []) + [["type": "user"]]
                $0["linux.uidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
                $0["linux.gidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
                $0.addMount(destination: "/data", type: "bind", source: secret + "/inner", options: ["rbind", "ro"])
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0 && run.lines == ["seen", "1"], "\(run)")

            var config = try bundle.config()
            config["mounts.\((config["mounts"] as? [Any] ?? []).count - 1).destination"] = "/locked/inner"
            try bundle.save(config)
            let unreachable = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(unreachable.status != 0 && unreachable.errorLine.contains("mounts[") && unreachable.errorLine.contains("locked/inner: permission denied"), "\(unreachable)")
        }
    }

    /// A path masked twice is masked once, and masked directories show one read-only tmpfs
    /// (runc 1.1.5 stacks a mount per entry and makes a tmpfs per directory).
    @Test func aPathMaskedTwiceIsMaskedOnceAndDirectoriesShareOneTmpfs() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["cat", "/proc/self/mountinfo"]) {
                $0["linux.maskedPaths"] = ["/sys/firmware", "/sys/kernel", "/sys/firmware", "/sys/kernel"]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            try #require(run.status == 0, "\(run)")
            // mountinfo: ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ...
            let masks = run.lines.map { $0.split(separator: " ").map(String.init) }.filter { $0.count > 4 && ["/sys/firmware", "/sys/kernel"].contains($0[4]) }
            #expect(masks.map { $0[4] } == ["/sys/firmware", "/sys/kernel"], "\(run)")
            #expect(Set(masks.map { $0[2] }).count == 1, "one tmpfs: \(masks)")
        }
    }
}
