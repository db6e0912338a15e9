import BerthCore
import Cgroup2
import Foundation
import Linux
import TestSupport
import Testing

@Suite struct CgroupTests {
    @Test func cgroupsPathIsMadeRelative() throws {
        #expect(try Cgroup.normalize(cgroupsPath: "/berth/web") == "berth/web")
        #expect(try Cgroup.normalize(cgroupsPath: "a//b/") == "a/b")
    }

    @Test(arguments: ["/../etc", "a/../../b", "./x", "/", "", "system.slice:berth:web"])
    func escapingOrEmptyCgroupsPathIsRejected(path: String) {
        #expect(throws: BerthError.self) { try Cgroup.normalize(cgroupsPath: path) }
    }

    @Test func rejectionNamesTheConfigField() {
        do {
            _ = try Cgroup.normalize(cgroupsPath: "a/../../b")
            Issue.record("escaping path accepted")
        } catch {
            #expect(error.description == "linux.cgroupsPath: \"a/../../b\" may not contain \"..\"")
        }
    }

    @Test func findsTheCgroup2MountInMountinfo() {
        let mountinfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw
        """
        #expect(Cgroup.cgroup2Mount(inMountinfo: mountinfo) == "/sys/fs/cgroup/unified")
        #expect(Cgroup.cgroup2Mount(inMountinfo: "32 31 0:29 / /x rw - cgroup cgroup rw,cpu") == nil)
    }

    @Test func createCountsWhatItMade() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // A regular directory tree stands in for cgroupfs; the kernel would create these files.
        try dir.write("existing/cgroup.subtree_control", "")
        #expect(try Cgroup(root: dir.path, path: "existing/made/leaf").create() == 2)
        #expect(try Cgroup(root: dir.path, path: "existing/made/leaf").create() == 0)
    }

    /// runc's answer to a cgroup below a thread root: threaded, unless a limit needs a domain
    /// controller; then the error, and nothing made is left.
    @Test func aDomainInvalidCgroupBecomesThreadedUnlessADomainControllerIsNeeded() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("busy/leaf/cgroup.type", "domain invalid\n")
        try Cgroup(root: dir.path, path: "busy/leaf").create(controllers: ["pids", "cpu"])
        #expect(try dir.read("busy/leaf/cgroup.type") == "threaded")
        try dir.write("busy/leaf/cgroup.type", "domain invalid\n")
        let error = thrownError { () throws(BerthError) in try Cgroup(root: dir.path, path: "busy/leaf").create(controllers: ["pids", "memory"]) }
        #expect(error?.description == "linux.resources: cgroup \(dir.path)/busy/leaf is domain invalid (a cgroup above it holds processes itself), so it cannot have the memory controller")
        try dir.write("threaded/cgroup.type", "threaded\n")
        let refused = thrownError { () throws(BerthError) in try Cgroup(root: dir.path, path: "threaded/new").create(controllers: ["io"]) }
        #expect(refused?.code == .unsupported)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/threaded/new"))
    }

    @Test func createHandsEveryOfferedControllerDownButNotInTheNewCgroup() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("cgroup.controllers", "cpuset cpu io memory pids\n")
        try dir.write("cgroup.subtree_control", "")
        try dir.write("pod/cgroup.controllers", "cpu memory pids\n")
        try dir.write("pod/cgroup.subtree_control", "")
        try Cgroup(root: dir.path, path: "pod/ctr").create()
        #expect(try dir.read("cgroup.subtree_control") == "+cpuset +cpu +io +memory +pids")
        #expect(try dir.read("pod/cgroup.subtree_control") == "+cpu +memory +pids")
        // The new cgroup's own subtree_control is the container's to write.
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/pod/ctr/cgroup.subtree_control"))
    }

    @Test func removeTakesTheSubgroupsTheContainerMade() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/pod/ctr/init.scope", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.path + "/pod/ctr/nested/deeper", withIntermediateDirectories: true)
        try Cgroup(root: dir.path, path: "pod/ctr").remove()
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/pod/ctr"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/pod"))
    }

    /// Only the container's own cgroup: a link in it is never followed (cgroupfs makes none,
    /// but the walk must not trust that), so nothing outside is removed.
    @Test func removeNeverFollowsALinkOutOfTheCgroup() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/outside/victim", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.path + "/pod/ctr/sub", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/pod/ctr/sub/link", withDestinationPath: dir.path + "/outside")
        _ = try? Cgroup(root: dir.path, path: "pod/ctr").remove()
        #expect(FileManager.default.fileExists(atPath: dir.path + "/outside/victim"))
    }

    @Test func keyedFilesParse() {
        let values = Cgroup.parseKeyedValues("low 0\nhigh 3\nmax 12\noom 1\noom_kill 1\n")
        #expect(values == ["low": 0, "high": 3, "max": 12, "oom": 1, "oom_kill": 1])
    }

    @Test func removeDeletesOnlyTheAncestorsItCreated() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/kept/made/leaf", withIntermediateDirectories: true)
        // No cgroup.events in a plain directory: the cgroup counts as empty.
        try Cgroup(root: dir.path, path: "kept/made/leaf").remove(createdAncestors: 1)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/kept/made"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/kept"))
    }
}

/// Runs on the host's controller-less cgroup2 mount and again in the VM: grouping and killing
/// need no controllers.
@Suite struct CgroupIntegrationTests {
    @Test func processStartsInsideTheCgroupAndKillAllEmptiesIt() throws {
        let mount = try #require(Cgroup.hostMount(), "no cgroup2 mount on this machine")
        let cgroup = Cgroup(root: mount, path: uniqueName("berth-test"))
        try cgroup.create()
        defer { try? cgroup.remove() }
        let fd = try cgroup.open()
        defer { fd.close() }
        let (pid, _) = try ProcessControl.spawn(path: "/bin/sleep", arguments: ["sleep", "30"], environment: [], cgroup: fd)
        #expect(cgroup.processes() == [pid])
        #expect(cgroup.isPopulated)
        try cgroup.killAll()
        #expect(try ProcessControl.wait(pid) == .signaled(SIGKILL))
        try cgroup.remove()
        #expect(!cgroup.exists)
    }
}
