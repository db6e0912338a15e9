import Foundation
import Glibc
import Testing

/// An unprivileged user for one test: a uid no host account uses, a scratch home with its own
/// XDG_RUNTIME_DIR, and /etc/passwd, /etc/subuid and /etc/subgid entries that exist only in the
/// private mount namespace its commands run in (bind mounts over the host's files, which stay as
/// they are). Commands run through unshare(1) and setpriv(1), optionally from a cgroup.
public final class RootlessUser: Sendable {
    public let uid: UInt32
    public let name: String
    public let directory: TemporaryDirectory
    public var home: String { directory.path + "/home" }
    /// XDG_RUNTIME_DIR, 0700 and the user's.
    public var runtimeDirectory: String { directory.path + "/run" }
    /// The user's /etc/subuid and /etc/subgid range: 65536 ids, disjoint for every uid.
    public var subordinateStart: UInt32 { 1_000_000 + (uid - 40_000) * 65_536 }

    /// `uid` in 40000..<60000; a random one by default, so that parallel tests get their own.
    public init(uid: UInt32 = UInt32.random(in: 40_000..<60_000)) throws {
        self.uid = uid
        name = "berthtest\(uid)"
        directory = try TemporaryDirectory("berth-rootless")
        // The user must reach its home and the binaries' scratch copies below this directory.
        chmod(directory.path, 0o755)
        let passwd = (try? String(contentsOfFile: "/etc/passwd", encoding: .utf8)) ?? ""
        try directory.write("etc/passwd", passwd + (passwd.hasSuffix("\n") || passwd.isEmpty ? "" : "\n") + "\(name):x:\(uid):\(uid)::\(home):/bin/sh\n")
        try directory.write("etc/subuid", "\(name):\(subordinateStart):65536\n")
        try directory.write("etc/subgid", "\(name):\(subordinateStart):65536\n")
        for path in [home, runtimeDirectory] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            chown(path, uid, uid)
            chmod(path, 0o700)
        }
    }

    deinit { directory.remove() }

    /// Makes `path` (below the home, say) and everything under it the user's.
    public func give(_ path: String) {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return }
        lchown(path, uid, uid)
        while let entry = walker.nextObject() as? String { lchown(path + "/" + entry, uid, uid) }
    }

    /// Runs `executable ARGS` as the user, in its home, with a clean environment: PATH, HOME,
    /// USER and XDG_RUNTIME_DIR (`runtimeDirectory: nil` leaves it unset) plus `environment`.
    /// With `cgroup` (a directory under the cgroup2 mount) the command starts in that cgroup.
    public func run(_ executable: String, _ arguments: [String], environment: [String] = [], runtimeDirectory: String?? = .none,
                    cgroup: String? = nil, timeout: Double = TestTiming.command) async throws -> CommandResult {
        let process = try spawn(executable, arguments, environment: environment, runtimeDirectory: runtimeDirectory, cgroup: cgroup)
        return await process.wait(timeout: timeout)
    }

    public func spawn(_ executable: String, _ arguments: [String], environment: [String] = [], runtimeDirectory: String?? = .none,
                      cgroup: String? = nil) throws -> SpawnedProcess {
        let xdg = runtimeDirectory ?? self.runtimeDirectory
        var variables = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=\(home)", "USER=\(name)"]
        if let xdg { variables.append("XDG_RUNTIME_DIR=\(xdg)") }
        variables += environment
        let etc = directory.path + "/etc"
        var script = "set -e\n"
        if let cgroup { script += "echo $$ > '\(cgroup)/cgroup.procs'\n" }
        for file in ["passwd", "subuid", "subgid"] { script += "mount --bind '\(etc)/\(file)' /etc/\(file)\n" }
        script += "cd '\(home)'\nexec setpriv --reuid \(uid) --regid \(uid) --clear-groups env -i \"$@\"\n"
        let n = UInt32.random(in: 0...UInt32.max)
        return try SpawnedProcess("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script, "sh"] + variables + [executable] + arguments,
                                  environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                                  stdoutPath: directory.path + "/cmd-\(n).out", stderrPath: directory.path + "/cmd-\(n).err")
    }
}

/// A cgroup v2 subtree delegated to a user, as systemd gives user@UID.service: the directory and
/// its cgroup.procs, cgroup.subtree_control and cgroup.threads are the user's, and the user's
/// commands start in its child `session`. For the VM (a cgroup2-only /sys/fs/cgroup).
public struct CgroupDelegation: Sendable {
    public static let mount = "/sys/fs/cgroup"
    /// Relative to the mount.
    public let base: String
    public var session: String { base + "/session" }
    public var basePath: String { Self.mount + "/" + base }
    public var sessionPath: String { Self.mount + "/" + session }

    /// Enables pids and memory at the root and makes the subtree, the user's.
    public init(to user: RootlessUser) throws {
        try "+pids +memory".write(toFile: Self.mount + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
        base = "berth-rootless-\(user.uid)"
        for path in [basePath, sessionPath] {
            try #require(mkdir(path, 0o755) == 0, "mkdir \(path): \(errno)")
            for file in ["", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"] { chown(path + file, user.uid, user.uid) }
        }
    }

    public func remove() {
        rmdir(sessionPath)
        rmdir(basePath)
    }
}
