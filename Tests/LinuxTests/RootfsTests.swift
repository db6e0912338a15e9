import Foundation
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

    @Test func symlinkToHostPathCannotCreateOnTheHost() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let outside = try TemporaryDirectory("berth-outside")
        defer { outside.remove() }
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/escape", withDestinationPath: outside.path)
        let rootfs = try Rootfs(path: dir.path)
        defer { rootfs.close() }
        // The link names a path that does not exist inside the root, so creation fails cleanly.
        #expect(throws: BerthError.self) { try rootfs.openOrCreate("/escape/planted", directory: true) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
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
