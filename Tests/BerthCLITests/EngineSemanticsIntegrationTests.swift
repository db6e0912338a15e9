import Foundation
import Glibc
import TestSupport
import Testing

/// What engines rely on from runc's command line beyond the happy path, checked without an
/// engine (EngineVMTests drives podman and containerd themselves):
/// - `delete --force` of a container that is gone succeeds (containerd's shim deletes twice,
///   podman deletes after a failed create);
/// - `kill` of a stopped container fails saying "container not running", which containerd's
///   shim reads as "already finished", and `kill --all` of one succeeds;
/// - `state` names a missing container with "does not exist" (podman and the shim match it)
///   and carries runc's rootfs, created and owner;
/// - with `--log-format json`, the error is the last `"level":"error"` line of --log, which is
///   what containerd reports when a command fails.
@Suite(.timeLimit(.minutes(5)))
struct EngineSemanticsIntegrationTests {
    @Test func deleteForceOfAMissingContainerSucceedsAndPlainDeleteDoesNot() async throws {
        try await withBerthSandbox { s in
            let id = s.newID()
            let forced = try await s.berth("delete", "--force", id)
            #expect(forced.succeeded && forced.stderr.isEmpty, "\(forced)")
            let plain = try await s.berth("delete", id)
            #expect(plain.status == 1 && plain.errorLine.contains("does not exist"), "\(plain)")
        }
    }

    @Test func killOfAStoppedContainerSaysContainerNotRunningAndKillAllSucceeds() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"])
            let id = s.newID()
            let run = try await s.berth("run", "--detach", "--bundle", bundle.path, id)
            try #require(run.succeeded, "\(run)")
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            let kill = try await s.berth("kill", id, "KILL")
            #expect(kill.status == 1 && kill.errorLine.contains("container not running"), "\(kill)")
            let all = try await s.berth("kill", "--all", id, "KILL")
            #expect(all.succeeded, "\(all)")
            #expect(try await s.berth("delete", id).succeeded)
        }
    }

    @Test func stateCarriesRuncsFieldsAndNamesAMissingContainer() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            let id = s.newID()
            let create = try await s.berth("create", "--bundle", bundle.path, id)
            try #require(create.succeeded, "\(create)")
            let state = try #require(try await s.state(id))
            #expect(state["status"] as? String == "created" && (state["pid"] as? Int ?? 0) > 0, "\(state)")
            #expect(state["rootfs"] as? String == s.rootfs, "\(state)")
            #expect((state["created"] as? String)?.hasSuffix("Z") == true, "\(state)")
            #expect(state["owner"] as? String == "", "\(state)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
            let gone = try await s.berth("state", id)
            #expect(gone.status == 1 && gone.errorLine.contains("does not exist"), "\(gone)")
        }
    }

    @Test func jsonLogEndsWithTheErrorLine() async throws {
        try await withBerthSandbox { s in
            let log = s.directory.path + "/log.json"
            let result = try await s.berth("--log", log, "--log-format", "json", "start", s.newID())
            #expect(result.status == 1, "\(result)")
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            let last = try #require(lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] },
                                    "no JSON line in \(log)")
            #expect(last["level"] as? String == "error", "\(last)")
            #expect((last["msg"] as? String)?.contains("does not exist") == true, "\(last)")
            // containerd decodes time as RFC 3339.
            #expect((last["time"] as? String)?.hasSuffix("Z") == true, "\(last)")
        }
    }
}
