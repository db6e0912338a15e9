import BerthCore
import Foundation
@testable import Runtime
import Testing
import TestSupport

/// `exec --cgroup`'s argument and the cgroup an exec'd process starts in, on a temporary tree.
struct ExecCgroupTests {
    @Test func aPathOrControllersWithOnePathAreTaken() throws {
        let plain = try ExecCgroup(arguments: ["sub"])
        #expect(plain.path == "sub" && plain.controllers.isEmpty)
        #expect(try ExecCgroup(arguments: ["/a//b/"]).path == "a/b")
        let named = try ExecCgroup(arguments: ["cpu,memory:sub", "pids:sub"])
        #expect(named.path == "sub" && named.controllers == ["cpu", "memory", "pids"])
    }

    @Test(arguments: [
        (["../up"], "flag --cgroup: \"../up\" is not a sub-cgroup of the container's"),
        (["/"], "flag --cgroup: \"/\" is not a sub-cgroup of the container's"),
        (["a/./b"], "flag --cgroup: \"a/./b\" is not a sub-cgroup of the container's"),
        ([":sub"], "flag --cgroup: \":sub\" has an empty controller"),
        (["cpu:a", "cpu:a"], "flag --cgroup: controller cpu is named more than once"),
        (["cpu:a", "memory:b"], "flag --cgroup: cgroup v2 has one path for all controllers, not a and b"),
        (["a", "b"], "flag --cgroup: \"a\" needs a CONTROLLER: prefix"),
    ])
    func badArgumentsAreRefusedNamingTheFlag(arguments: [String], message: String) {
        #expect(throws: BerthError(.invalidArgument, message)) { try ExecCgroup(arguments: arguments) }
    }

    @Test func aSubCgroupMustExistAndOwnTheNamedControllers() throws {
        let directory = try TemporaryDirectory("exec-cgroup")
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.path + "/c1/sub", withIntermediateDirectories: true)
        try Data("cpu memory\n".utf8).write(to: URL(fileURLWithPath: directory.path + "/c1/cgroup.controllers"))
        let container = Cgroup2Location(root: directory.path, path: "c1")
        let fd = try ExecCgroup.open(container, sub: try ExecCgroup(arguments: ["memory:sub"]), initPid: getpid())
        fd.close()
        #expect(throws: BerthError(.invalidArgument, "flag --cgroup: the container's cgroup has no pids controller")) {
            try ExecCgroup.open(container, sub: try ExecCgroup(arguments: ["pids:sub"]), initPid: getpid())
        }
        #expect(throws: (any Error).self) { try ExecCgroup.open(container, sub: try ExecCgroup(arguments: ["gone"]), initPid: getpid()) }
    }
}
