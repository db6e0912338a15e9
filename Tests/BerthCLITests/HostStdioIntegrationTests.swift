import Foundation
import Glibc
import Testing
import TestSupport

/// berth never changes the owner or mode of a stdio descriptor it is given: not the host's
/// /dev/null, not another device node shared with the host. crun 1.8 chowns its stdio to the
/// container's user when it is not a terminal, /dev/null included (fixed in crun by "linux:
/// never chown devices"), which is how this host's /dev/null came to belong to uid 1 or to a user
/// namespace's root. Each test runs a non-root `process.user` (1:1) with a scratch char device
/// (1:3, a /dev/null of the test's own) as stdin and stderr, and compares its full stat, change
/// time included, and the owner and mode of the host's /dev/null, which berth's stdin is in the
/// other half of each test.
/// Ten minutes: in the emulated VM, with other VMs loading the host, a test of a dozen berth and
/// runc commands waited past five for its turn at the command gate.
@Suite(.timeLimit(.minutes(10)))
struct HostStdioIntegrationTests {
    struct Ownership: Equatable, CustomStringConvertible {
        var uid: uid_t, gid: gid_t, mode: mode_t, changed: timespec?

        init(_ path: String, withChangeTime: Bool) throws {
            var info = stat()
            try #require(stat(path, &info) == 0, "stat \(path): \(errno)")
            uid = info.st_uid
            gid = info.st_gid
            mode = info.st_mode
            changed = withChangeTime ? info.st_ctim : nil
        }

        static func == (a: Ownership, b: Ownership) -> Bool {
            a.uid == b.uid && a.gid == b.gid && a.mode == b.mode
                && a.changed?.tv_sec == b.changed?.tv_sec && a.changed?.tv_nsec == b.changed?.tv_nsec
        }

        var description: String {
            "uid \(uid) gid \(gid) mode \(String(mode, radix: 8))" + (changed.map { " ctime \($0.tv_sec).\($0.tv_nsec)" } ?? "")
        }
    }

    /// A char device 1:3 of the test's own, so its change time is the test's alone: in the
    /// sandbox, or in the VM (whose /tmp is a nodev tmpfs) in the VM's own /dev. Removed with the
    /// caller.
    static func scratchDevice(_ s: BerthSandbox) throws -> String {
        let directory = CgroupV2Host.inVM ? "/dev" : s.directory.path
        let path = directory + "/berth-test-null-\(UInt32.random(in: 0...UInt32.max))"
        try #require(mknod(path, S_IFCHR | 0o666, makedev(1, 3)) == 0, "mknod \(path): \(errno)")
        try #require(chmod(path, 0o666) == 0)
        return path
    }

    static func makedev(_ major: UInt32, _ minor: UInt32) -> dev_t {
        dev_t((major & 0xfff) << 8 | (minor & 0xff) | ((minor & ~0xff) << 12))
    }

    /// Runs berth with ARGS twice: with the scratch device as stdin and stderr (full stat
    /// compared), then with the host's /dev/null as stdin (owner and mode compared: other
    /// programs on this machine may touch its times). Returns the two results.
    static func checkStdioUntouched(_ s: BerthSandbox, _ arguments: () -> [String]) async throws -> [CommandResult] {
        let device = try scratchDevice(s)
        defer { unlink(device) }
        let before = try Ownership(device, withChangeTime: true)
        let scratch = try await s.berth(arguments(), extraFiles: [.init(0, device, flags: O_RDWR), .init(2, device, flags: O_RDWR)])
        #expect(try Ownership(device, withChangeTime: true) == before, "berth \(arguments()) changed its stdio device: \(scratch)")
        let nullBefore = try Ownership("/dev/null", withChangeTime: false)
        let null = try await s.berth(arguments())
        let nullAfter = try Ownership("/dev/null", withChangeTime: false)
        #expect(nullAfter == nullBefore, "the host's /dev/null was \(nullBefore), is \(nullAfter) after berth \(arguments())")
        return [scratch, null]
    }

    static func asUserOne(_ config: inout BundleConfig) {
        config["process.user.uid"] = 1
        config["process.user.gid"] = 1
    }

    @Test func runAsANonRootUserLeavesItsStdioDevicesAlone() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "id -u; id -g; echo to-stderr >&2"], edit: Self.asUserOne)
            for result in try await Self.checkStdioUntouched(s, { ["run", "--bundle", bundle.path, s.newID()] }) {
                #expect(result.succeeded && result.stdout == "1\n1\n", "\(result)")
            }
        }
    }

    @Test func runOnATerminalAsANonRootUserLeavesItsStdioDevicesAlone() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "id -u; tty"]) {
                Self.asUserOne(&$0)
                $0["process.terminal"] = true
            }
            for result in try await Self.checkStdioUntouched(s, { ["run", "--bundle", bundle.path, s.newID()] }) {
                #expect(result.succeeded && result.stdout.contains("1\r\n/dev/pts/0"), "\(result)")
            }
        }
    }

    @Test func execAsANonRootUserWithAndWithoutATerminalLeavesItsStdioDevicesAlone() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"])
            let id = s.newID()
            try #require(try await s.berth("run", "--detach", "--bundle", bundle.path, id).succeeded)
            for result in try await Self.checkStdioUntouched(s, { ["exec", "--user", "1:1", id, "id", "-u"] }) {
                #expect(result.succeeded && result.stdout == "1\n", "\(result)")
            }
            for result in try await Self.checkStdioUntouched(s, { ["exec", "--user", "1:1", "--tty", id, "sh", "-c", "id -u; tty"] }) {
                #expect(result.succeeded && result.stdout.contains("1\r\n/dev/pts/"), "\(result)")
            }
            #expect(try await s.berth("delete", "--force", id).succeeded)
        }
    }

    @Test func createAndStartAsANonRootUserLeaveTheInheritedStdioAlone() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sh", "-c", "echo started"], edit: Self.asUserOne)
            let device = try Self.scratchDevice(s)
            defer { unlink(device) }
            let before = try Ownership(device, withChangeTime: true)
            let nullBefore = try Ownership("/dev/null", withChangeTime: false)
            // The init inherits create's stdio: the scratch device as stdin and stderr, the
            // host's /dev/null as stdout.
            let id = s.newID()
            let create = try await s.berth(["create", "--bundle", bundle.path, id],
                                           extraFiles: [.init(0, device, flags: O_RDWR), .init(1, "/dev/null", flags: O_WRONLY),
                                                        .init(2, device, flags: O_RDWR)])
            try #require(create.succeeded, "\(create)")
            #expect(try await s.berth("start", id).succeeded)
            #expect(try await s.waitForStatus(id, "stopped") == "stopped")
            #expect(try Ownership(device, withChangeTime: true) == before)
            #expect(try Ownership("/dev/null", withChangeTime: false) == nullBefore)
            #expect(try await s.berth("delete", id).succeeded)
        }
    }
}
