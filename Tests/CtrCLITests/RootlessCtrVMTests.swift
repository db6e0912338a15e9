import Foundation
import Testing
import TestSupport

/// ctr run by an unprivileged user with a delegated cgroup v2 subtree (docs/rootless.md, "ctr"):
/// the container's cgroup goes beside the user's session, with the limits asked for, and
/// `run -d`, `exec`, `stop`, `rm` work as that user; a second user reaches neither the state,
/// the cgroups nor the supervisors' sockets. Runs only in the VM.
@Suite(.cgroupV2, .serialized, .timeLimit(.minutes(5))) struct RootlessCtrVMTests {
    /// The cgroups below the delegated subtree other than the session: the containers'.
    static func containerCgroups(_ delegation: CgroupDelegation) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: delegation.basePath)) ?? []).filter {
            var directory: ObjCBool = false
            return $0 != "session" && FileManager.default.fileExists(atPath: delegation.basePath + "/" + $0, isDirectory: &directory) && directory.boolValue
        }
    }

    @Test func aDelegatedUserRunsAServiceWithAMemoryLimitAndAnotherUserReachesNothingOfIt() async throws {
        let ctr = try CtrPaths.ctr(), rootfs = try BerthPaths.busyboxRootfs()
        let user = try RootlessUser(), other = try RootlessUser()
        let delegation = try CgroupDelegation(to: user)
        defer { delegation.remove() }
        func ctrAsUser(_ arguments: [String]) async throws -> CommandResult {
            try await user.run(ctr, arguments, cgroup: delegation.sessionPath)
        }
        let run = try await ctrAsUser(["run", "-d", "--name", "web", "--memory", "64M", rootfs, "--", "sleep", "60"])
        try #require(run.succeeded, "\(run)")
        let cgroups = Self.containerCgroups(delegation)
        try #require(cgroups.count == 1, "one container cgroup beside the session: \(cgroups)")
        let cgroup = delegation.basePath + "/" + cgroups[0]
        #expect((try? String(contentsOfFile: cgroup + "/memory.max", encoding: .utf8)) == "\(64 << 20)\n")
        #expect((try? String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8))?.split(separator: "\n").count == 1, "the init in it")

        let exec = try await ctrAsUser(["exec", "web", "sh", "-c", "id -u; cat /proc/self/cgroup /sys/fs/cgroup/memory.max"])
        #expect(exec.succeeded, "\(exec)")
        #expect(exec.lines == ["0", "0::/", "\(64 << 20)"], "\(exec)")

        // The other user: not the state root (ctr's check), not the supervisor's socket (the
        // kernel: a 0700 root, a 0600 socket), not the cgroup (the kernel: the user's files).
        let root = user.runtimeDirectory + "/ctr"
        let ps = try await other.run(ctr, ["--root", root, "ps"])
        #expect(ps.status != 0 && ps.stderr.contains("flag --root: \(root): permission denied"), "not an empty list: \(ps)")
        let socket = try #require(Self.controlSocket(under: root), "no supervisor socket under \(root)")
        let connect = try await other.run("/usr/bin/python3", ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])", socket])
        #expect(connect.status != 0 && connect.stderr.contains("PermissionError"), "\(connect)")
        let join = try await other.run("/bin/sh", ["-c", "echo $$ > \(cgroup)/cgroup.procs"])
        #expect(join.status != 0, "\(join)")
        let limit = try await other.run("/bin/sh", ["-c", "echo max > \(cgroup)/memory.max"])
        #expect(limit.status != 0, "\(limit)")
        #expect((try? String(contentsOfFile: cgroup + "/memory.max", encoding: .utf8)) == "\(64 << 20)\n")

        let stop = try await ctrAsUser(["stop", "web"])
        #expect(stop.succeeded, "\(stop)")
        let rm = try await ctrAsUser(["rm", "web"])
        #expect(rm.succeeded, "\(rm)")
        #expect(await eventually { !FileManager.default.fileExists(atPath: cgroup) }, "\(cgroup) is left")
        let after = try await ctrAsUser(["ps", "-a"])
        #expect(after.succeeded && !after.stdout.contains("web"), "\(after)")
    }

    /// The first control.sock below the state root.
    static func controlSocket(under root: String) -> String? {
        let walker = FileManager.default.enumerator(atPath: root)
        while let entry = walker?.nextObject() as? String {
            if entry.hasSuffix("control.sock") { return root + "/" + entry }
        }
        return nil
    }
}
