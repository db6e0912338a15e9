import BerthCore
import Foundation
import Glibc
import Linux
import TestSupport
import Testing

/// `copyTree`, tmpcopyup's copy, on real directories with the live kernel.
@Suite struct TreeCopyTests {
    @Test func aTreeIsCopiedWithItsModesAndLinksAndNoLinkIsFollowed() throws {
        let from = try TemporaryDirectory(), to = try TemporaryDirectory(), outside = try TemporaryDirectory("berth-outside")
        defer { from.remove(); to.remove(); outside.remove() }
        try FileManager.default.createDirectory(atPath: from.path + "/sub/deeper", withIntermediateDirectories: true)
        try "top\n".write(toFile: from.path + "/file", atomically: false, encoding: .utf8)
        try String(repeating: "x", count: 200_000).write(toFile: from.path + "/sub/deeper/large", atomically: false, encoding: .utf8)
        #expect(chmod(from.path + "/file", 0o640) == 0 && chmod(from.path + "/sub", 0o710) == 0)
        try FileManager.default.createSymbolicLink(atPath: from.path + "/relative", withDestinationPath: "file")
        try FileManager.default.createSymbolicLink(atPath: from.path + "/escape", withDestinationPath: outside.path)
        #expect(mkfifo(from.path + "/fifo", 0o600) == 0)

        let kernel = LiveKernel()
        let source = try kernel.open(from.path, O_RDONLY | O_DIRECTORY, mode: 0, relativeTo: nil)
        defer { source.close() }
        let destination = try kernel.open(to.path, O_RDONLY | O_DIRECTORY, mode: 0, relativeTo: nil)
        defer { destination.close() }
        let mask = umask(0)
        defer { umask(mask) }
        try kernel.copyTree(from: source, to: destination, describing: "/covered")

        #expect(try String(contentsOfFile: to.path + "/file", encoding: .utf8) == "top\n")
        #expect(try String(contentsOfFile: to.path + "/sub/deeper/large", encoding: .utf8).count == 200_000)
        var info = stat()
        #expect(lstat(to.path + "/file", &info) == 0 && info.st_mode & 0o7777 == 0o640)
        #expect(lstat(to.path + "/sub", &info) == 0 && info.st_mode & 0o7777 == 0o710)
        #expect(lstat(to.path + "/fifo", &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: to.path + "/relative") == "file")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: to.path + "/escape") == outside.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
    }
}
