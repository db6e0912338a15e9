import BerthCore
import Foundation
import Glibc
import Linux
import TestSupport
import Testing

@Suite struct RootfsTests {
    @Test func absoluteSymlinkResolvesInsideTheRoot() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/real/etc", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/etc", withDestinationPath: "/real/etc")
        let rootfs = try Rootfs(path: dir.path)
        defer { rootfs.close() }
        let fd = try rootfs.openOrCreate("/etc/created", directory: false)
        fd.close()
        #expect(FileManager.default.fileExists(atPath: dir.path + "/real/etc/created"))
    }

    /// A dangling link to a host path is followed inside the root: what it names is created
    /// there, as runc and crun do, and nothing on the host.
    @Test func danglingLinkToHostPathCreatesInsideTheRoot() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let outside = try TemporaryDirectory("berth-outside")
        defer { outside.remove() }
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/escape", withDestinationPath: outside.path + "/not-existing")
        let rootfs = try Rootfs(path: dir.path)
        defer { rootfs.close() }
        try rootfs.openOrCreate("/escape/planted", directory: true).close()
        try rootfs.openOrCreate("/escape/file", directory: false).close()
        #expect(FileManager.default.fileExists(atPath: dir.path + outside.path + "/not-existing/planted"))
        #expect(FileManager.default.fileExists(atPath: dir.path + outside.path + "/not-existing/file"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
    }

    /// The last component a dangling link: its target is made, relative to the link's
    /// directory, and `..` in it stops at the root.
    @Test func danglingLastComponentCreatesItsTarget() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/etc/not-existing", withDestinationPath: "../../../../var/made")
        let rootfs = try Rootfs(path: dir.path)
        defer { rootfs.close() }
        try rootfs.openOrCreate("/etc/not-existing", directory: false).close()
        var info = stat()
        #expect(lstat(dir.path + "/var/made", &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG)
        #expect(lstat(dir.path + "/etc/not-existing", &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK, "the link stays")
    }

    @Test func linkLoopsEndWithAnError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/a", withDestinationPath: "b/x")
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/b", withDestinationPath: "a/y")
        let rootfs = try Rootfs(path: dir.path)
        defer { rootfs.close() }
        let error = try #require(throws: BerthError.self) { try rootfs.openOrCreate("/a/c", directory: true) }
        #expect(error.errno == ELOOP, "\(error)")
    }

    @Test func dotDotChainsStopAtTheRoot() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/tmp", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/up", withDestinationPath: "../../../../../tmp")
        let rootfs = try Rootfs(path: dir.path)
        defer { rootfs.close() }
        let fd = try rootfs.openOrCreate("/up/inside", directory: true)
        fd.close()
        #expect(FileManager.default.fileExists(atPath: dir.path + "/tmp/inside"))
    }

    @Test func missingDirectoriesAreCreated() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let rootfs = try Rootfs(path: dir.path)
        defer { rootfs.close() }
        try rootfs.openOrCreate("a/b/c", directory: true).close()
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: dir.path + "/a/b/c", isDirectory: &isDirectory) && isDirectory.boolValue)
    }
}

@Suite struct ProcfsTests {
    @Test func sysctlNamesBecomePaths() {
        #expect(Procfs.sysctlPath("net.ipv4.ip_forward") == "sys/net/ipv4/ip_forward")
        #expect(Procfs.sysctlPath("kernel.shm_rmid_forced") == "sys/kernel/shm_rmid_forced")
    }

    @Test func aDirectoryThatIsNotProcfsIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(throws: BerthError.self) { try Procfs(at: dir.path) }
    }

    @Test func readsThroughTheVerifiedHandle() throws {
        let proc = try Procfs()
        defer { proc.close() }
        let fd = try proc.open("self/status", 0)
        defer { fd.close() }
        #expect(String(decoding: try fd.readAll(), as: UTF8.self).contains("Pid:"))
    }

    @Test func symlinksUnderProcAreNotFollowed() throws {
        let proc = try Procfs()
        defer { proc.close() }
        // /proc/mounts is a symlink to self/mounts.
        #expect(throws: BerthError.self) { try proc.open("mounts", 0) }
    }
}

@Suite struct FilesTests {
    @Test func atomicWriteReplacesContentAndLeavesNoTemporary() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Files.writeAtomically(dir.path + "/state.json", Array("one".utf8))
        try Files.writeAtomically(dir.path + "/state.json", Array("two".utf8))
        #expect(try Files.readString(dir.path + "/state.json") == "two")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["state.json"])
    }

    @Test func errorsNameThePath() throws {
        do {
            _ = try Files.read("/nonexistent/berth/file")
            Issue.record("reading a missing file succeeded")
        } catch {
            #expect(error.description == "open /nonexistent/berth/file: no such file or directory")
        }
    }
}
