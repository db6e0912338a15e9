import CShim
import Foundation
import Glibc
import TestSupport
import Testing

/// --pidfd-socket, as runc 1.2+ has it on create, run and exec: a pidfd of the container's
/// process arrives over the engine's unix socket in one SCM_RIGHTS message whose data says which
/// kind of process it is ("standard" for the init, "setns" for an exec'd one), and the engine
/// signals and watches the process through it.
@Suite(.timeLimit(.minutes(5)))
struct PidfdSocketIntegrationTests {
    /// The engine's end: a listening socket. berth's connect completes in the backlog and its
    /// message waits in the connection, so the test accepts after berth has returned.
    final class Receiver {
        let path: String
        let listener: Int32

        init(_ s: BerthSandbox) throws {
            path = s.directory.path + "/pidfd-\(UInt32.random(in: 0...UInt32.max)).sock"
            listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            try #require(listener >= 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(bound == 0 && listen(listener, 1) == 0, "bind \(path): \(errno)")
        }

        deinit { close(listener) }

        /// Accepts berth's connection and reads its one message: the data and the descriptor.
        func receive() throws -> (payload: String, descriptor: Int32) {
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            try #require(poll(&ready, 1, Int32(TestTiming.settle * 1000)) == 1, "berth never connected to \(path)")
            let connection = accept(listener, nil, nil)
            try #require(connection >= 0)
            defer { close(connection) }
            var data = [UInt8](repeating: 0, count: 64)
            // cmsghdr on 64-bit Linux: cmsg_len (8 bytes), cmsg_level, cmsg_type, then the data.
            var control = [UInt8](repeating: 0, count: 64)
            let got = data.withUnsafeMutableBytes { dataBytes in
                control.withUnsafeMutableBytes { controlBytes in
                    var vector = iovec(iov_base: dataBytes.baseAddress, iov_len: dataBytes.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var message = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: vectorPointer, msg_iovlen: 1,
                                             msg_control: controlBytes.baseAddress, msg_controllen: controlBytes.count, msg_flags: 0)
                        return recvmsg(connection, &message, Int32(MSG_CMSG_CLOEXEC))
                    }
                }
            }
            try #require(got > 0, "recvmsg: \(errno)")
            let level = control.withUnsafeBytes { $0.load(fromByteOffset: 8, as: Int32.self) }
            let type = control.withUnsafeBytes { $0.load(fromByteOffset: 12, as: Int32.self) }
            try #require(level == SOL_SOCKET && type == Int32(SCM_RIGHTS), "no SCM_RIGHTS message")
            let descriptor = control.withUnsafeBytes { $0.load(fromByteOffset: 16, as: Int32.self) }
            return (String(decoding: data.prefix(got), as: UTF8.self), descriptor)
        }
    }

    /// The pid the pidfd names, from its fdinfo.
    static func pid(of pidfd: Int32) -> Int? {
        let info = (try? String(contentsOfFile: "/proc/self/fdinfo/\(pidfd)", encoding: .utf8)) ?? ""
        return info.split(separator: "\n").first { $0.hasPrefix("Pid:") }.flatMap { Int($0.dropFirst(4).trimmingCharacters(in: .whitespaces)) }
    }

    /// A pidfd polls readable once its process has ended (waitid through it is its parent's,
    /// berth's, alone).
    static func ends(_ pidfd: Int32) -> Bool {
        var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, Int32(TestTiming.settle * 1000)) == 1
    }

    static func endsAlready(_ pidfd: Int32) -> Bool {
        var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    @Test func createSendsTheInitsPidfdThatSignalsIt() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            let receiver = try Receiver(s)
            let id = s.newID()
            let create = try await s.berth("create", "--pidfd-socket", receiver.path, "--bundle", bundle.path, id)
            try #require(create.succeeded, "\(create)")
            let (payload, pidfd) = try receiver.receive()
            defer { close(pidfd) }
            #expect(payload == "standard")
            let state = try #require(try await s.state(id))
            #expect(Self.pid(of: pidfd) == state["pid"] as? Int, "the pidfd should name the init")
            #expect(berth_pidfd_send_signal(pidfd, 0, 0) == 0, "the init should be alive")
            #expect(!Self.endsAlready(pidfd))
            #expect(berth_pidfd_send_signal(pidfd, SIGKILL, 0) == 0)
            #expect(Self.ends(pidfd), "the init should end on the pidfd's SIGKILL")
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(try await s.berth("delete", id).succeeded)
        }
    }

    @Test func runDetachedSendsTheInitsPidfd() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            let receiver = try Receiver(s)
            let id = s.newID()
            let run = try await s.berth("run", "--detach", "--pidfd-socket", receiver.path, "--bundle", bundle.path, id)
            try #require(run.succeeded, "\(run)")
            let (payload, pidfd) = try receiver.receive()
            defer { close(pidfd) }
            #expect(payload == "standard")
            #expect(Self.pid(of: pidfd) == (try await s.state(id))?["pid"] as? Int)
            #expect(berth_pidfd_send_signal(pidfd, SIGKILL, 0) == 0)
            #expect(Self.ends(pidfd), "the init should end on the pidfd's SIGKILL")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test func execSendsTheProcessPidfdWithSetnsAsItsData() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let receiver = try Receiver(s)
            let pidFile = s.directory.path + "/exec.pid"
            let exec = try await s.berth("exec", "--detach", "--pidfd-socket", receiver.path, "--pid-file", pidFile, id, "sleep", "1000")
            try #require(exec.succeeded, "\(exec)")
            let (payload, pidfd) = try receiver.receive()
            defer { close(pidfd) }
            #expect(payload == "setns")
            let written = try String(contentsOfFile: pidFile, encoding: .utf8)
            #expect(Self.pid(of: pidfd) == Int(written), "the pidfd should name the exec'd process")
            #expect(!Self.endsAlready(pidfd))
            #expect(berth_pidfd_send_signal(pidfd, SIGKILL, 0) == 0)
            #expect(Self.ends(pidfd))
            #expect(try await s.status(id) == "running", "only the exec'd process should end")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    /// runc 1.2+: "failed to dail PATH: dial unix PATH: connect: ...". berth names the flag.
    @Test func aPidfdSocketNobodyListensOnFailsByFlagAndLeavesNothing() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            let missing = s.directory.path + "/nobody.sock"
            for verb in ["create", "run"] {
                let result = try await s.berth(verb, "--pidfd-socket", missing, "--bundle", bundle.path, s.newID())
                #expect(result.status != 0, "\(result)")
                #expect(result.errorLine.contains("--pidfd-socket \(missing)") && !result.stderr.dropLast().contains("\n"), "\(result)")
            }
            #expect(s.stateEntries.isEmpty)
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            let exec = try await s.berth("exec", "--pidfd-socket", missing, id, "sleep", "1000")
            #expect(exec.status == 255, "\(exec)")
            #expect(exec.errorLine.contains("--pidfd-socket"), "\(exec)")
            let ps = try await s.berth("ps", "--format", "json", id)
            #expect(ps.stdout.filter { $0 == "," }.isEmpty, "only the init should run: \(ps)")
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }
}
