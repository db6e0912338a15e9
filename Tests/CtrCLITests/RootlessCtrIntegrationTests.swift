import Foundation
import Testing
import TestSupport

/// ctr run by an unprivileged user (docs/rootless.md): state in $XDG_RUNTIME_DIR/ctr, the
/// container in a user namespace mapping root to the user, and run -d, exec, stop, rm as that
/// user; another user is refused the state root and with it the supervisors' sockets.
@Suite(.serialized) struct RootlessCtrIntegrationTests {
    @Test func aUserRunsExecsStopsAndRemovesAService() async throws {
        let ctr = try CtrPaths.ctr(), rootfs = try BerthPaths.busyboxRootfs()
        let user = try RootlessUser(), other = try RootlessUser()
        let run = try await user.run(ctr, ["run", "-d", "--name", "web", rootfs, "--", "sleep", "60"])
        try #require(run.succeeded, "\(run)")
        let root = user.runtimeDirectory + "/ctr"
        var info = stat()
        #expect(stat(root, &info) == 0 && info.st_uid == user.uid && info.st_mode & 0o777 == 0o700)
        let exec = try await user.run(ctr, ["exec", "web", "sh", "-c", "id -u; cat /proc/self/uid_map"])
        #expect(exec.succeeded, "\(exec)")
        #expect(exec.lines.first == "0")
        #expect(exec.lines.dropFirst().first?.split(separator: " ").map(String.init) == ["0", "\(user.uid)", "1"])
        // Opened up so that only ctr's own check stands between the other user and the sockets.
        chmod(user.runtimeDirectory, 0o755)
        chmod(root, 0o755)
        for command in [["ps"], ["stop", "web"], ["rm", "-f", "web"]] {
            let refused = try await other.run(ctr, ["--root", root] + command)
            #expect(refused.status != 0 && refused.stderr.contains("belongs to uid \(user.uid), not to this user (uid \(other.uid))"), "\(command): \(refused)")
        }
        let health = try await user.run(ctr, ["run", "-d", "--health-cmd", "true", rootfs, "--", "sleep", "1"])
        #expect(health.status != 0 && health.stderr.contains("flag --health-cmd: health checks are not supported rootless"), "\(health)")
        let stop = try await user.run(ctr, ["stop", "web"])
        #expect(stop.succeeded, "\(stop)")
        let rm = try await user.run(ctr, ["rm", "web"])
        #expect(rm.succeeded, "\(rm)")
        let ps = try await user.run(ctr, ["ps"])
        #expect(ps.succeeded && !ps.stdout.contains("web"), "\(ps)")
    }
}
