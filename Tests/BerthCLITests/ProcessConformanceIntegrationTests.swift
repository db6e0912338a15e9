import Foundation
import Glibc
import TestSupport
import Testing

/// `process` as runc 1.1.5 reads it, measured on the same `runc spec` bundle (docs/engines.md,
/// the compatibility table). Runs on the host and in the VM.
@Suite(.timeLimit(.minutes(5)))
struct ProcessConformanceIntegrationTests {
    /// runc: `A=1 B=x A=2 B=y` gives `A=2 B=y`, each key once, in the place of its first entry.
    @Test func aRepeatedEnvironmentKeyKeepsItsFirstPlaceAndTakesItsLastValue() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["env"]) { $0.env = $0.env + ["A=1", "B=x", "A=2", "B=y"] }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            try #require(run.status == 0, "\(run)")
            let variables = run.lines.filter { $0.hasPrefix("A=") || $0.hasPrefix("B=") }
            #expect(variables == ["A=2", "B=y"], "\(run)")
        }
    }

    /// runc: `"user": {"uid": 1000}` runs as 1000:0.
    @Test func aUserWithoutGidRunsInGroupZero() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "echo $(id -u) $(id -g)"]) { $0["process.user"] = ["uid": 1000] }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0 && run.stdout == "1000 0\n", "\(run)")
        }
    }

    /// A process.json without `user` runs as the container's user (runc 1.1.5 runs it as 0:0:
    /// berth never gives root by omission); with one, as that user.
    @Test func anExecProcessWithoutUserRunsAsTheContainersUser() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sleep", "1000"]) { $0["process.user"] = ["uid": 1000, "gid": 1000] }
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let command = ["sh", "-c", "echo $(id -u) $(id -g)"]
            try bundle.write("without-user.json", String(decoding: try JSONSerialization.data(withJSONObject: ["args": command, "cwd": "/"]), as: UTF8.self))
            try bundle.write("with-user.json", String(decoding: try JSONSerialization.data(withJSONObject: ["args": command, "cwd": "/", "user": ["uid": 5]]), as: UTF8.self))
            let inherited = try await s.berth("exec", "--process", bundle.path + "/without-user.json", id)
            #expect(inherited.status == 0 && inherited.stdout == "1000 1000\n", "\(inherited)")
            let given = try await s.berth("exec", "--process", bundle.path + "/with-user.json", id)
            #expect(given.status == 0 && given.stdout == "5 0\n", "\(given)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    /// runc enters the working directory before it drops to the user: `exec --user 1000 --cwd
    /// /root` (0700, root's) starts there, and the user still cannot list it.
    @Test func execAsAUserStartsInADirectoryThatUserCannotEnter() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let exec = try await s.berth("exec", "--user", "1000:1000", "--cwd", "/root", id, "sh", "-c", "pwd; ls . || echo denied")
            #expect(exec.status == 0 && exec.stdout == "/root\ndenied\n", "\(exec)")
            let missing = try await s.berth("exec", "--user", "1000:1000", "--cwd", "/nonexistent", id, "pwd")
            #expect(missing.status != 0 && missing.errorLine.contains("/nonexistent"), "\(missing)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }
}
