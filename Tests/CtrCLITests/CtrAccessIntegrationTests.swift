import Foundation
import Glibc
import Testing
import TestSupport

/// Who may use a root, and what in it counts as a service.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct CtrAccessIntegrationTests {
    @Test func anotherUserIsRefusedRootsStateWithPermissionDenied() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("private")
            try #require(try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "sh", "-c", "echo secret; exec sleep 1000").succeeded)
            let other = try RootlessUser()
            // Reachable, so that the check, not the directory modes, is what refuses.
            for path in [s.directory.path, s.root] { chmod(path, 0o755) }
            for command in [["ps"], ["ps", "-a"], ["logs", name]] {
                let refused = try await other.run(s.ctrPath, ["--root", s.root] + command)
                #expect(refused.status == 1 && refused.stderr == "ctr: flag --root: \(s.root): permission denied: it belongs to uid 0, not to this user (uid \(other.uid))\n",
                        "\(command): \(refused)")
                #expect(!refused.stdout.contains(name) && !refused.stdout.contains("secret"), "\(command): \(refused)")
            }
            // Unreachable: still permission denied, not an empty list.
            chmod(s.directory.path, 0o700)
            let hidden = try await other.run(s.ctrPath, ["--root", s.root, "ps"])
            #expect(hidden.status == 1 && hidden.stderr.contains("permission denied"), "\(hidden)")
            chmod(s.root, 0o700)
            #expect(try await s.ctr("rm", "-f", name).succeeded)
        }
    }

    @Test func aRootWritableByOthersOrOwnedByAnotherUserIsRefused() async throws {
        try await withCtrSandbox { s in
            let other = try RootlessUser()
            let shared = s.directory.path + "/shared"
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
            chown(shared, other.uid, other.uid)
            chmod(shared, 0o777)
            let owned = try await s.ctr("--root", shared, "ps")
            #expect(owned.status == 1 && owned.errorLine == "ctr: flag --root: \(shared): permission denied: it belongs to uid \(other.uid), not to this user (uid 0)",
                    "\(owned)")
            chown(shared, 0, 0)
            let writable = try await s.ctr("--root", shared, "run", "-d", s.rootfs, "--", "true")
            #expect(writable.status == 1 && writable.errorLine.hasPrefix("ctr: flag --root: \(shared) is writable by other users (mode 777)"), "\(writable)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: shared)) ?? ["?"]).isEmpty, "nothing made in it")
            let data = try await s.ctr("--data-root", shared, "ps")
            #expect(data.status == 1 && data.errorLine.hasPrefix("ctr: flag --data-root: \(shared) is writable by other users"), "\(data)")
        }
    }

    @Test func onlyRealServicesCountAsServices() async throws {
        try await withCtrSandbox { s in
            let name = s.newName("real")
            try #require(try await s.ctr("run", "-d", "--name", name, s.rootfs, "--", "sleep", "1000").succeeded)
            // Beside it: a stray directory, a link to a scratch directory holding a service.json,
            // and a copy of the real service's service.json under another name.
            let elsewhere = s.directory.path + "/elsewhere"
            try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
            try FileManager.default.copyItem(atPath: "\(s.root)/\(name)/service.json", toPath: elsewhere + "/service.json")
            try FileManager.default.createDirectory(atPath: s.root + "/stray", withIntermediateDirectories: false)
            try FileManager.default.createSymbolicLink(atPath: s.root + "/linked", withDestinationPath: elsewhere)
            try FileManager.default.createDirectory(atPath: s.root + "/copied", withIntermediateDirectories: false)
            try FileManager.default.copyItem(atPath: "\(s.root)/\(name)/service.json", toPath: s.root + "/copied/service.json")

            let ps = try await s.ctr("ps", "-a")
            #expect(ps.lines.count == 2 && ps.lines.last?.hasPrefix(name + " ") == true, "\(ps)")
            let linked = try await s.ctr("logs", "linked")
            #expect(linked.status == 1 && linked.errorLine == "ctr: no service named \"linked\" (see ctr ps -a)", "\(linked)")
            let copied = try await s.ctr("inspect", "copied")
            #expect(copied.status == 1 && copied.errorLine.contains("names service \"\(name)\", not \"copied\""), "\(copied)")
            // rm -f of the link removes the link at most, never what it points to.
            _ = try await s.ctr("rm", "-f", "linked")
            #expect(FileManager.default.fileExists(atPath: elsewhere + "/service.json"))
            #expect(try await s.ctr("rm", "-f", name).succeeded)
            for entry in ["stray", "linked", "copied"] { try? FileManager.default.removeItem(atPath: s.root + "/" + entry) }
        }
    }
}
