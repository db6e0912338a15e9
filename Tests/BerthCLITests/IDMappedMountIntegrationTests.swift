import Foundation
import Glibc
import TestSupport
import Testing

/// Idmapped mounts (mounts[].uidMappings/gidMappings, idmap/ridmap), seen from inside the
/// container with `stat` and from the host by the owner of a file the container made. Runs on
/// the host and in the VM, whose 6.1 kernel cannot idmap its tmpfs /tmp: there the tests check
/// the one-line error instead.
@Suite(.timeLimit(.minutes(5)))
struct IDMappedMountIntegrationTests {
    /// A scratch directory owned by 1000:1000 with a file in it.
    static func source(_ s: BerthSandbox, _ name: String) throws -> String {
        let path = s.directory.path + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: path + "/file", contents: nil)
        for item in [path, path + "/file"] { try #require(chown(item, 1000, 1000) == 0) }
        // The container's root must reach it.
        try #require(chmod(s.directory.path, 0o755) == 0)
        return path
    }

    static func mapping(_ container: Int, _ host: Int) -> [[String: Int]] { [["containerID": container, "hostID": host, "size": 1]] }

    /// Whether this kernel can idmap the filesystem of `path`: tmpfs only from Linux 6.3 (the
    /// VM's /tmp is a tmpfs under 6.1); ext4 and the others the tests use, from 5.12.
    static func idmappable(_ path: String) -> Bool {
        // The filesystem of the longest mount point above `path`, from /proc/self/mounts.
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        var type = "", longest = -1
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count > 2 else { continue }
            let point = fields[1]
            let below = path == point || path.hasPrefix(point == "/" ? "/" : point + "/")
            if below && point.count > longest { (type, longest) = (fields[2], point.count) }
        }
        guard type == "tmpfs" else { return true }
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(separator: ".").prefix(2).compactMap { Int($0.prefix { $0.isNumber }) }
        return parts.count == 2 && (parts[0], parts[1]) >= (6, 3)
    }

    /// A run that idmaps `source`: its output where the kernel can, else the one-line error.
    static func expect(_ run: CommandResult, lines: [String], source: String, label: String = "mounts[7]") {
        if idmappable(source) {
            #expect(run.status == 0 && run.lines == lines, "\(run)")
        } else {
            #expect(run.status != 0 && run.errorLine.hasSuffix("\(label): the filesystem of \(source) does not support idmapped mounts on this kernel: invalid argument"), "\(run)")
        }
    }

    static func owner(_ path: String) -> (uid: UInt32, gid: UInt32)? {
        var info = stat()
        return stat(path, &info) == 0 ? (info.st_uid, info.st_gid) : nil
    }

    /// On-disk 1000 is seen as the container's 0, and what its root writes lands as 1000.
    /// Without a user namespace the mount maps 1000 to 0; with one mapping 0 to 100000, it maps
    /// 1000 to host 100000 (runc's usual podman case).
    @Test(arguments: [false, true])
    func aBindMountIsIdmappedForTheContainersRoot(withUserNamespace: Bool) async throws {
        try await withBerthSandbox { s in
            let source = try Self.source(s, withUserNamespace ? "userns" : "plain")
            let host = withUserNamespace ? 100_000 : 0
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "stat -c '%u:%g' /run/file; touch /run/made"]) {
                $0.addMount(destination: "/run", type: "bind", source: source, options: ["rbind", "idmap"])
                $0["mounts.7.uidMappings"] = Self.mapping(1000, host)
                $0["mounts.7.gidMappings"] = Self.mapping(1000, host)
                guard withUserNamespace else { return }
                $0["linux.namespaces"] = ($0["linux.namespaces"] as? [[String: Any]] ?? []) + [["type": "user"]]
                $0["linux.uidMappings"] = [["containerID": 0, "hostID": 100_000, "size": 65536]]
                $0["linux.gidMappings"] = [["containerID": 0, "hostID": 100_000, "size": 65536]]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            Self.expect(run, lines: ["0:0"], source: source)
            guard Self.idmappable(source) else { return }
            #expect(Self.owner(source + "/made").map { [$0.uid, $0.gid] } == [1000, 1000])
        }
    }

    /// A submount of the source (a tmpfs, owned by 0) is idmapped by ridmap only; the top mount
    /// by both.
    @Test(arguments: [("ridmap", "7:7"), ("idmap", "0:0")])
    func ridmapAlsoMapsTheSubmountsOfAnRbind(_ option: String, _ submountOwner: String) async throws {
        try await withBerthSandbox { s in
            let source = try Self.source(s, "tree-\(option)")
            let sub = source + "/sub"
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
            try #require(mount("tmpfs", sub, "tmpfs", 0, "mode=755") == 0, "a scratch tmpfs below the test's directory")
            defer { umount2(sub, Int32(MNT_DETACH)) }
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "stat -c '%u:%g' /run/sub /run/file"]) {
                $0.addMount(destination: "/run", type: "bind", source: source, options: ["rbind", option])
                $0["mounts.7.uidMappings"] = [["containerID": 0, "hostID": 7, "size": 1], ["containerID": 1000, "hostID": 0, "size": 1]]
                $0["mounts.7.gidMappings"] = [["containerID": 0, "hostID": 7, "size": 1], ["containerID": 1000, "hostID": 0, "size": 1]]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            Self.expect(run, lines: [submountOwner, "0:0"], source: source)
        }
    }

    /// tmpfs is idmappable from Linux 6.3: there the mount shows its root as the mapped owner,
    /// before it the error names the mount and the kernel's limit.
    @Test func aTmpfsIsIdmappedWhereTheKernelCan() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["stat", "-c", "%u:%g", "/t"]) {
                $0.addMount(destination: "/t", type: "tmpfs", source: "tmpfs", options: ["mode=755"])
                $0["mounts.7.uidMappings"] = Self.mapping(0, 5)
                $0["mounts.7.gidMappings"] = Self.mapping(0, 5)
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            // Any tmpfs tells what this kernel does with one.
            #expect(Self.idmappable("/dev/shm") == (run.status == 0), "\(run)")
            if run.status == 0 {
                #expect(run.lines == ["5:5"], "\(run)")
            } else {
                #expect(run.errorLine.hasSuffix("mounts[7]: the filesystem of /t does not support idmapped mounts on this kernel: invalid argument"), "\(run)")
            }
        }
    }

    @Test func badMappingsAreOneLineNamingTheirPath() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["true"]) {
                $0.addMount(destination: "/data", type: "bind", source: s.directory.path, options: ["rbind", "idmap"])
                $0["mounts.7.uidMappings"] = Self.mapping(0, 1000)
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status != 0 && run.errorLine.hasSuffix(": mounts[7].gidMappings: needed with uidMappings"), "\(run)")
            #expect(!run.stderr.trimmingCharacters(in: .newlines).contains("\n"), "\(run)")
        }
    }
}

/// `berth features` says what is built now, in the runtime-spec's shape.
@Suite struct FeaturesIntegrationTests {
    @Test func featuresListIdmapIntelRdtMemoryPolicyAndNetDevices() async throws {
        try await withBerthSandbox { s in
            let run = try await s.berth("features")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            let linux = try #require(json["linux"] as? [String: Any])
            #expect((linux["mountExtensions"] as? [String: Any]).flatMap { $0["idmap"] as? [String: Bool] } == ["enabled": true], "\(linux)")
            #expect(linux["intelRdt"] as? [String: Bool] == ["enabled": true, "schemata": true, "monitoring": true], "\(linux)")
            let modes = (linux["memoryPolicy"] as? [String: Any])?["modes"] as? [String]
            #expect(modes?.contains("MPOL_BIND") == true && modes?.contains("MPOL_PREFERRED_MANY") == true, "\(linux)")
            #expect(linux["netDevices"] as? [String: Bool] == ["enabled": true], "\(linux)")
        }
    }
}
