import BerthCore
import Foundation
import OCI
@testable import Runtime
import TestSupport
import Testing

/// linux.intelRdt: the plan's checks, and the files a join writes, against a scratch directory
/// laid out as resctrl lays out a group (a `schemata` and a `tasks` file).
@Suite struct ResctrlTests {
    /// A scratch resctrl root with the groups `names`, each with empty schemata and tasks files.
    static func root(_ names: [String]) throws -> TemporaryDirectory {
        let root = try TemporaryDirectory("berth-resctrl")
        for name in names {
            let path = name.isEmpty ? root.path : root.path + "/" + name
            try FileManager.default.createDirectory(atPath: path + "/mon_groups/web", withIntermediateDirectories: true)
            for file in ["schemata", "tasks", "mon_groups/web/tasks"] { FileManager.default.createFile(atPath: path + "/" + file, contents: nil) }
        }
        return root
    }

    static func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    @Test func schemataAreWrittenInTheSpecsOrderAndThePidJoins() throws {
        let root = try Self.root(["web"])
        defer { root.remove() }
        let plan = try ResctrlPlan(LinuxIntelRdt(l3CacheSchema: "L3:0=ff", memBwSchema: "MB:0=20", schemata: ["L2:0=f"], enableMonitoring: true), id: "web")
        #expect(plan.ownGroup && plan.group == "web")
        let made = try Resctrl(root: root.path).join(plan, id: "web", pid: 4242)
        #expect(made == nil, "the group existed: not berth's to remove")
        #expect(Self.read(root.path + "/web/schemata") == "L3:0=ff\nMB:0=20\nL2:0=f\n")
        #expect(Self.read(root.path + "/web/tasks") == "4242")
        #expect(Self.read(root.path + "/web/mon_groups/web/tasks") == "4242")
    }

    @Test func aClosIDWithoutSchemataMustExistAndIsOnlyJoined() throws {
        let root = try Self.root(["shared"])
        defer { root.remove() }
        let resctrl = Resctrl(root: root.path)
        let shared = try ResctrlPlan(LinuxIntelRdt(closID: "shared"), id: "c1")
        #expect(try resctrl.join(shared, id: "c1", pid: 7) == nil)
        #expect(Self.read(root.path + "/shared/tasks") == "7")
        #expect(Self.read(root.path + "/shared/schemata") == "")
        let missing = try ResctrlPlan(LinuxIntelRdt(closID: "gold"), id: "c1")
        let error = try #require(throws: BerthError.self) { try resctrl.join(missing, id: "c1", pid: 7) }
        #expect(error.message.hasPrefix("linux.intelRdt.closID: \(root.path)/gold does not exist"), "\(error)")
        #expect(!FileManager.default.fileExists(atPath: root.path + "/gold"))
    }

    @Test func theDefaultGroupIsTheRoot() throws {
        let root = try Self.root([""])
        defer { root.remove() }
        let plan = try ResctrlPlan(LinuxIntelRdt(closID: "/"), id: "c1")
        #expect(try Resctrl(root: root.path).join(plan, id: "c1", pid: 9) == nil)
        #expect(Self.read(root.path + "/tasks") == "9")
    }

    /// A group berth makes is returned for delete; one whose files fail is removed again.
    @Test func aGroupBerthMadeIsReturnedOrRemovedOnFailure() throws {
        let root = try Self.root([])
        defer { root.remove() }
        let plan = try ResctrlPlan(LinuxIntelRdt(l3CacheSchema: "L3:0=f"), id: "fresh")
        // A scratch directory has no kernel to fill the new group with files: the write fails.
        #expect(throws: BerthError.self) { try Resctrl(root: root.path).join(plan, id: "fresh", pid: 1) }
        #expect(!FileManager.default.fileExists(atPath: root.path + "/fresh"), "removed after the failed write")
    }

    static let refused: [RefusedConfig] = [
        RefusedConfig("a closID with a slash", "linux.intelRdt.closID:") { $0.linux?.intelRdt = LinuxIntelRdt(closID: "a/b") },
        RefusedConfig("a closID of ..", "linux.intelRdt.closID:") { $0.linux?.intelRdt = LinuxIntelRdt(closID: "..") },
        RefusedConfig("memBwSchema without MB:", "linux.intelRdt.memBwSchema:") { $0.linux?.intelRdt = LinuxIntelRdt(memBwSchema: "L3:0=f") },
        RefusedConfig("a schemata line with a newline", "linux.intelRdt.schemata[1]:") {
            $0.linux?.intelRdt = LinuxIntelRdt(schemata: ["L3:0=f", "MB:0=1\nL3:0=ff"])
        },
        RefusedConfig("schemata for the default group", "linux.intelRdt.closID:") { $0.linux?.intelRdt = LinuxIntelRdt(closID: "/", l3CacheSchema: "L3:0=f") },
        // This host and the VM have no resctrl: a valid section is refused by that.
        RefusedConfig("no resctrl mounted", .unsupported, "linux.intelRdt: resctrl is not mounted at /sys/fs/resctrl") {
            $0.linux?.intelRdt = LinuxIntelRdt(closID: "gold")
        },
    ]
}
