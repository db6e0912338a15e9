import Foundation
import Testing
import TestSupport

/// berth run by an unprivileged user (docs/rootless.md): `berth spec --rootless` as the user, the
/// busybox rootfs, and runc 1.1.5 on the same bundle where the behaviour is compared. The user
/// exists only in the private mount namespace of its commands (RootlessUser).
@Suite(.serialized) struct RootlessIntegrationTests {
    let berth: String
    let rootfs: String

    init() throws {
        berth = try BerthPaths.berth()
        rootfs = try BerthPaths.busyboxRootfs()
    }

    func bundle(_ user: RootlessUser, _ args: [String], edit: (inout BundleConfig) -> Void = { _ in }) async throws -> TestBundle {
        try await user.berthBundle(berth: berth, rootfs: rootfs, args, edit: edit)
    }

    static let probe = ["sh", "-c", "id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups"]

    @Test func theUsersOwnIdsAreMappedAsRuncMapsThem() async throws {
        let user = try RootlessUser()
        let bundle = try await bundle(user, Self.probe)
        let result = try await user.run(berth, ["run", "--bundle", bundle.path, "own"])
        try #require(result.succeeded, "\(result)")
        let lines = result.lines.map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines == ["uid=0(root) gid=0(root)", "0 \(user.uid) 1", "0 \(user.uid) 1", "deny"])
        // The state lived under $XDG_RUNTIME_DIR/berth, the user's, and is gone with the container.
        var info = stat()
        #expect(stat(user.runtimeDirectory + "/berth", &info) == 0 && info.st_uid == user.uid && info.st_mode & 0o777 == 0o700)
        #expect((try FileManager.default.contentsOfDirectory(atPath: user.runtimeDirectory + "/berth")).filter { !$0.hasPrefix(".") } == [])
        let runc = try await user.run(try ForeignSpec.executable("runc"), ["run", "--bundle", bundle.path, "own"])
        #expect(runc.stdout == result.stdout, "runc: \(runc)")
    }

    @Test func subordinateRangesAreMappedThroughNewuidmap() async throws {
        try #require(FileManager.default.fileExists(atPath: "/etc/subuid") && FileManager.default.fileExists(atPath: "/usr/bin/newuidmap"),
                     "needs /etc/subuid to bind over and newuidmap (make deps installs uidmap)")
        let user = try RootlessUser()
        let start = user.subordinateStart
        let bundle = try await bundle(user, ["true"]) { config in
            config.args = ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; touch /tmp/f; chown 5:7 /tmp/f; stat -c '%u:%g' /tmp/f"]
            config.addMount(destination: "/tmp", type: "bind", source: user.home + "/scratch", options: ["rbind", "rw"])
            config["linux.uidMappings"] = [["containerID": 0, "hostID": Int(user.uid), "size": 1], ["containerID": 1, "hostID": Int(start), "size": 65536]]
            config["linux.gidMappings"] = [["containerID": 0, "hostID": Int(user.uid), "size": 1], ["containerID": 1, "hostID": Int(start), "size": 65536]]
        }
        try FileManager.default.createDirectory(atPath: user.home + "/scratch", withIntermediateDirectories: false)
        user.give(user.home + "/scratch")
        let result = try await user.run(berth, ["run", "--bundle", bundle.path, "ranges"])
        try #require(result.succeeded, "\(result)")
        let lines = result.lines.map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines == ["0 \(user.uid) 1", "1 \(start) 65536", "0 \(user.uid) 1", "1 \(start) 65536", "allow", "5:7"])
        // On the host, the file belongs to the subordinate ids: newuidmap wrote what was asked.
        var info = stat()
        #expect(stat(user.home + "/scratch/f", &info) == 0 && info.st_uid == start + 4 && info.st_gid == start + 6)
    }

    @Test func rangesThatAreNotTheUsersAreRefusedBeforeAnythingIsMade() async throws {
        let user = try RootlessUser()
        let bundle = try await bundle(user, ["true"]) { config in
            config["linux.uidMappings"] = [["containerID": 0, "hostID": Int(user.uid), "size": 1], ["containerID": 1, "hostID": 100, "size": 10]]
        }
        let result = try await user.run(berth, ["run", "--bundle", bundle.path, "stolen"])
        #expect(result.status == 1)
        #expect(result.errorLine == "berth: \(bundle.configPath): linux.uidMappings[1]: host ids 100-109 are neither the caller's own (\(user.uid)) nor delegated to it in /etc/subuid")
        #expect(!FileManager.default.fileExists(atPath: user.runtimeDirectory + "/berth/stolen"))
    }

    @Test func limitsWithoutADelegatedCgroupAreRefusedAndNoLimitsGetOneWarning() async throws {
        let user = try RootlessUser()
        let limited = try await bundle(user, ["true"]) { $0["linux.resources"] = ["pids": ["limit": 20]] }
        let refused = try await user.run(berth, ["run", "--bundle", limited.path, "limited"])
        #expect(refused.status == 1)
        #expect(refused.errorLine.hasPrefix("berth: \(limited.configPath): linux.resources.pids.limit: a rootless container gets limits only in a delegated cgroup"), "\(refused)")
        let free = try await bundle(user, ["true"])
        let ran = try await user.run(berth, ["run", "--bundle", free.path, "free"])
        #expect(ran.succeeded, "\(ran)")
        let warnings = ran.stderr.split(separator: "\n")
        #expect(warnings.count == 1 && warnings[0].hasSuffix("the container runs in berth's cgroup, without resource limits"), "\(ran)")
    }

    @Test func aUserReachesNeitherAnotherUsersStateNorRoots() async throws {
        let owner = try RootlessUser(), other = try RootlessUser()
        let bundle = try await bundle(owner, ["sleep", "60"])
        let created = try await owner.run(berth, ["create", "--bundle", bundle.path, "mine"])
        try #require(created.succeeded, "\(created)")
        let ownerRoot = owner.runtimeDirectory + "/berth"
        // Out of sight (a 0700 runtime directory): refused, never read as an empty root.
        let hidden = try await other.run(berth, ["--root", ownerRoot, "list"])
        #expect(hidden.status == 1 && hidden.errorLine == "berth: flag --root: stat \(ownerRoot): permission denied", "\(hidden)")
        // The owner's state root is 0700 under a 0700 runtime directory; give the other user a
        // way in to prove berth itself refuses a root that is not its user's.
        chmod(owner.runtimeDirectory, 0o755)
        chmod(ownerRoot, 0o755)
        for command in [["state", "mine"], ["kill", "mine", "KILL"], ["delete", "--force", "mine"], ["list"]] {
            let result = try await other.run(berth, ["--root", ownerRoot] + command)
            #expect(result.status == 1, "\(command): \(result)")
            #expect(result.errorLine == "berth: flag --root: \(ownerRoot) belongs to uid \(owner.uid), not to this user (uid \(other.uid))")
        }
        // A root-owned state root (root's own, stood in for by a scratch one) is refused too.
        let rootRoot = owner.directory.path + "/root-state"
        try FileManager.default.createDirectory(atPath: rootRoot + "/theirs", withIntermediateDirectories: true)
        let rootState = try await other.run(berth, ["--root", rootRoot, "state", "theirs"])
        #expect(rootState.status == 1 && rootState.errorLine == "berth: flag --root: \(rootRoot) belongs to uid 0, not to this user (uid \(other.uid))", "\(rootState)")
        // Without XDG_RUNTIME_DIR the default is /run/berth, as runc's is /run/runc: refused
        // when root's exists, and never made by a user when it does not.
        let existed = FileManager.default.fileExists(atPath: "/run/berth")
        let strayBundle = try await self.bundle(other, ["true"])
        let noXDG = try await other.run(berth, ["create", "--bundle", strayBundle.path, "stray"], runtimeDirectory: .some(nil))
        #expect(noXDG.status == 1, "\(noXDG)")
        if existed {
            #expect(noXDG.errorLine == "berth: state root: /run/berth belongs to uid 0, not to this user (uid \(other.uid))")
        } else {
            #expect(!FileManager.default.fileExists(atPath: "/run/berth"), "\(noXDG)")
        }
        let state = try await owner.run(berth, ["state", "mine"])
        #expect(state.stdout.contains("\"status\": \"created\""), "\(state)")
        let deleted = try await owner.run(berth, ["delete", "--force", "mine"])
        #expect(deleted.succeeded, "\(deleted)")
    }

    @Test func theUserExecsIntoStopsAndDeletesItsContainer() async throws {
        let user = try RootlessUser()
        let bundle = try await bundle(user, ["sleep", "60"])
        for command in [["create", "--bundle", bundle.path, "life"], ["start", "life"]] {
            let result = try await user.run(berth, command)
            try #require(result.succeeded, "\(command): \(result)")
        }
        let exec = try await user.run(berth, ["exec", "life", "sh", "-c", "id -u; cat /proc/self/uid_map"])
        #expect(exec.succeeded, "\(exec)")
        #expect(exec.lines.first == "0")
        #expect(exec.lines.dropFirst().first?.split(separator: " ").map(String.init) == ["0", "\(user.uid)", "1"])
        let killed = try await user.run(berth, ["kill", "life", "KILL"])
        #expect(killed.succeeded, "\(killed)")
        var stopped = false
        for _ in 0..<100 where !stopped {
            stopped = (try await user.run(berth, ["state", "life"])).stdout.contains("\"stopped\"")
            if !stopped { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        #expect(stopped)
        let deleted = try await user.run(berth, ["delete", "life"])
        #expect(deleted.succeeded, "\(deleted)")
        #expect(!FileManager.default.fileExists(atPath: user.runtimeDirectory + "/berth/life"))
    }
}

extension RootlessUser {
    /// `berth spec --rootless` written by the user in its home, with `rootfs`, no terminal, `args`.
    func berthBundle(berth: String, rootfs: String, _ args: [String], edit: (inout BundleConfig) -> Void = { _ in }) async throws -> TestBundle {
        let path = home + "/bundle-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        give(path)
        let written = try await run(berth, ["spec", "--rootless", "--bundle", path])
        try #require(written.succeeded, "\(written)")
        let bundle = TestBundle(path: path)
        var config = try bundle.config()
        config["root.path"] = rootfs
        config["process.terminal"] = false
        config.args = args
        edit(&config)
        try bundle.save(config)
        return bundle
    }
}
