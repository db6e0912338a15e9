import Foundation
import Glibc
import TestSupport
import Testing

/// SCMP_ACT_NOTIFY: the listener fd goes to linux.seccomp.listenerPath with the container's
/// process state, as the runtime-spec describes. A python3 agent stands in for a real one.
@Suite(.timeLimit(.minutes(5)))
struct SeccompNotifyIntegrationTests {
    static let agent = """
        import json, os, socket, sys, time
        path = sys.argv[1]
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path); server.listen(1)
        open(path + ".ready", "w").close()
        connection, _ = server.accept()
        message, fds, _, _ = socket.recv_fds(connection, 65536, 4)
        state = json.loads(message)
        print(json.dumps({"fdCount": len(fds), "fds": state["fds"], "metadata": state.get("metadata"),
                          "pid": state["pid"], "id": state["state"]["id"]}), flush=True)
        time.sleep(0.5)
        for fd in fds: os.close(fd)
        """

    @Test func listenerGoesToTheAgentAndNotifiedCallsReachIt() async throws {
        try await withBerthSandbox { s in
            let socketPath = s.directory.path + "/agent.sock"
            let agent = Process()
            agent.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            agent.arguments = ["python3", "-c", Self.agent, socketPath]
            let output = Pipe()
            agent.standardOutput = output
            try agent.run()
            for _ in 0..<500 where !FileManager.default.fileExists(atPath: socketPath + ".ready") { usleep(10_000) }
            let bundle = try await s.bundle(["sh", "-c", "mkdir /tmp/made; echo mkdir=$?"]) {
                $0["linux.seccomp"] = [
                    "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": socketPath, "listenerMetadata": "berth-test",
                    "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"]],
                ]
            }
            let id = s.newID()
            let run = try await s.berth("run", "--bundle", bundle.path, id)
            agent.waitUntilExit()
            let received = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let message = try #require(try JSONSerialization.jsonObject(with: Data(received.utf8)) as? [String: Any], "agent got: \(received)")
            #expect(message["fdCount"] as? Int == 1)
            #expect(message["fds"] as? [String] == ["seccompFd"])
            #expect(message["metadata"] as? String == "berth-test")
            #expect((message["pid"] as? Int ?? 0) > 0)
            #expect(message["id"] as? String == id)
            // The agent answered nothing and closed the listener: the notified mkdir fails.
            #expect(run.stdout.contains("mkdir=1"), "\(run)")
        }
    }

    @Test func notifyWithoutAListenerPathIsRefused() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["true"]) {
                $0["linux.seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"]]]
            }
            let create = try await s.berth("create", "--bundle", bundle.path, s.newID())
            #expect(create.status != 0)
            #expect(create.errorLine.contains("linux.seccomp"), "\(create)")
        }
    }

    /// runc's words for an agent that is not there, and for a notified write; nothing is left.
    @Test func aMissingAgentAndANotifiedWriteFailInRuncsWords() async throws {
        try await withBerthSandbox { s in
            let socketPath = s.directory.path + "/no-agent.sock"
            let bundle = try await s.foreignBundle(.runc, ["true"]) {
                $0["linux.seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "listenerPath": socketPath,
                                       "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"]]]
            }
            let missing = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(missing.status != 0, "\(missing)")
            #expect(missing.errorLine == "berth: failed to connect with seccomp agent specified in the seccomp profile: dial unix \(socketPath): connect: no such file or directory",
                    "\(missing)")
            var config = try bundle.config()
            config["linux.seccomp.syscalls.0.names"] = ["mkdir", "write"]
            try bundle.save(config)
            let write = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(write.status != 0 && write.errorLine.hasSuffix("linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the write syscall"),
                    "\(write)")
        }
    }
}
