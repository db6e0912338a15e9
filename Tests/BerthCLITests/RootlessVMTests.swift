import Foundation
import Testing
import TestSupport

/// An unprivileged user with a delegated cgroup v2 subtree, as systemd gives user@UID.service:
/// the directory and its cgroup.procs, cgroup.subtree_control and cgroup.threads are the user's,
/// and the user's commands start in a child of it. berth puts the container's cgroup beside the
/// caller's (runc's rule), with limits, and the whole life cycle works as that user.
@Suite(.cgroupV2, .serialized, .timeLimit(.minutes(5))) struct RootlessVMTests {
    let berth: String
    let rootfs: String
    static let mount = "/sys/fs/cgroup"

    init() throws {
        berth = try BerthPaths.berth()
        rootfs = try BerthPaths.busyboxRootfs()
    }

    func delegate(to user: RootlessUser) throws -> CgroupDelegation { try CgroupDelegation(to: user) }

    @Test func aDelegatedUserGetsACgroupWithLimitsBesideItsOwn() async throws {
        let user = try RootlessUser()
        let delegation = try delegate(to: user)
        defer { delegation.remove() }
        let bundle = try await user.berthBundle(berth: berth, rootfs: rootfs, ["sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max"]) {
            $0["linux.resources"] = ["pids": ["limit": 20], "memory": ["limit": 64 << 20]]
        }
        let result = try await user.run(berth, ["run", "--bundle", bundle.path, "limited"], cgroup: Self.mount + "/" + delegation.session)
        try #require(result.succeeded, "\(result)")
        #expect(result.stderr == "", "no warning with a delegated cgroup")
        #expect(result.lines == ["0::/", "20", "\(64 << 20)"])
        #expect(!FileManager.default.fileExists(atPath: Self.mount + "/" + delegation.base + "/limited"), "removed with the container")
    }

    @Test func theUserRunsExecsPausesStopsAndDeletesInItsCgroup() async throws {
        let user = try RootlessUser()
        let delegation = try delegate(to: user)
        defer { delegation.remove() }
        let session = Self.mount + "/" + delegation.session
        let bundle = try await user.berthBundle(berth: self.berth, rootfs: rootfs, ["sleep", "60"]) { $0["linux.resources"] = ["pids": ["limit": 10]] }
        func berth(_ arguments: [String]) async throws -> CommandResult { try await user.run(self.berth, arguments, cgroup: session) }
        for command in [["create", "--bundle", bundle.path, "life"], ["start", "life"]] {
            let result = try await berth(command)
            try #require(result.succeeded, "\(command): \(result)")
        }
        let cgroup = Self.mount + "/" + delegation.base + "/life"
        let procs = try String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)
        #expect(procs.split(separator: "\n").count == 1, "the init is in the container's cgroup: \(procs)")
        let exec = try await berth(["exec", "life", "sh", "-c", "cat /proc/self/cgroup; id -u"])
        #expect(exec.succeeded, "\(exec)")
        #expect(exec.lines == ["0::/", "0"])
        for command in [["pause", "life"], ["resume", "life"], ["update", "--pids-limit", "30", "life"]] {
            let result = try await berth(command)
            #expect(result.succeeded, "\(command): \(result)")
        }
        #expect((try? String(contentsOfFile: cgroup + "/pids.max", encoding: .utf8)) == "30\n")
        let killed = try await berth(["kill", "life", "KILL"])
        #expect(killed.succeeded, "\(killed)")
        let deleted = try await berth(["delete", "--force", "life"])
        #expect(deleted.succeeded, "\(deleted)")
        #expect(!FileManager.default.fileExists(atPath: cgroup))
    }

    @Test func anotherUserCannotUseADelegatedCgroupNorItsContainers() async throws {
        let owner = try RootlessUser(), other = try RootlessUser()
        let delegation = try delegate(to: owner)
        defer { delegation.remove() }
        let session = Self.mount + "/" + delegation.session
        let bundle = try await owner.berthBundle(berth: berth, rootfs: rootfs, ["sleep", "60"])
        let created = try await owner.run(berth, ["create", "--bundle", bundle.path, "owned"], cgroup: session)
        try #require(created.succeeded, "\(created)")
        let intruder = try await other.berthBundle(berth: berth, rootfs: rootfs, ["true"]) {
            $0["linux.cgroupsPath"] = "/" + delegation.base + "/intruder"
        }
        let refused = try await other.run(berth, ["run", "--bundle", intruder.path, "intruder"])
        #expect(refused.status == 1)
        #expect(refused.errorLine.contains("linux.cgroupsPath: \"/\(delegation.base)/intruder\" is not in a cgroup delegated to uid \(other.uid)"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: Self.mount + "/" + delegation.base + "/intruder"))
        // The kernel refuses the other user's writes too: berth's check is not the only guard.
        let write = try await other.run("/bin/sh", ["-c", "echo $$ > \(Self.mount)/\(delegation.base)/owned/cgroup.procs"])
        #expect(write.status != 0)
        let kill = try await other.run(berth, ["--root", owner.runtimeDirectory + "/berth", "kill", "owned", "KILL"])
        #expect(kill.status == 1, "\(kill)")
        let state = try await owner.run(berth, ["state", "owned"])
        #expect(state.stdout.contains("\"created\""), "\(state)")
        let deleted = try await owner.run(berth, ["delete", "--force", "owned"], cgroup: session)
        #expect(deleted.succeeded, "\(deleted)")
    }
}
