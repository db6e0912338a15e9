import Foundation
import Glibc
import TestSupport
import Testing

/// The device program against the attack of issue 11, with the VM's scratch disk /dev/vda
/// (254:0) as the target: a rootfs that ships a node of the disk, run with `berth spec`'s own
/// defaults, could read it and write to it before berth enforced linux.resources.devices.
/// Runs only in the VM (`BERTH_VM_FILTER='DeviceVMTests' scripts/test-vm.sh`): these tests
/// read and write a disk, which must be the VM's scratch disk.
@Suite(.cgroupV2, .enabled(if: CgroupV2Host.inVM, "reads and writes /dev/vda: only in the test VM"), .serialized, .timeLimit(.minutes(10)))
struct DeviceVMTests {
    static let disk = "/dev/vda"
    static let canary = Array("berth canary: sector 0 of the scratch disk".utf8) + [UInt8](repeating: 0x2e, count: 470)
    static let sectorOne = [UInt8](repeating: 0x11, count: 512)

    // MARK: - Helpers

    /// Writes `bytes` at `offset` of the scratch disk and flushes them.
    static func writeDisk(_ bytes: [UInt8], at offset: off_t) throws {
        let fd = open(disk, O_RDWR | O_CLOEXEC)
        try #require(fd >= 0, "open \(disk): \(String(cString: strerror(errno)))")
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
        try #require(written == bytes.count && fsync(fd) == 0, "writing \(disk): \(String(cString: strerror(errno)))")
    }

    /// `count` bytes at `offset` of the scratch disk, read past the page cache.
    static func readDisk(at offset: off_t, count: Int = 512) throws -> [UInt8] {
        let fd = open(disk, O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0, "open \(disk): \(String(cString: strerror(errno)))")
        defer { close(fd) }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
        try #require(got == count, "reading \(disk): \(String(cString: strerror(errno)))")
        return bytes
    }

    /// Sector 0 holds the canary, sector 1 a known pattern.
    static func prepareDisk() throws {
        try writeDisk(canary, at: 0)
        try writeDisk(sectorOne, at: 512)
    }

    /// A copy of the busybox rootfs with `nodes/vda`, a node of the scratch disk, on the VM's
    /// /root (a tmpfs without nodev: the VM's /tmp has nodev, where a node could not be opened
    /// whatever the device program said).
    static func rootfsWithDiskNode(_ s: BerthSandbox) async throws -> String {
        let directory = "/root/berth-devices-\(getpid())-\(s.newID("r"))"
        let copy = try SpawnedProcess("/bin/cp", ["-a", s.rootfs, directory], environment: [],
                                      stdoutPath: "/dev/null", stderrPath: s.directory.path + "/cp.err")
        try #require(await copy.wait().succeeded, "copying the rootfs")
        try #require(mkdir(directory + "/nodes", 0o755) == 0 || errno == EEXIST)
        try #require(mknod(directory + "/nodes/vda", S_IFBLK | 0o660, dev_t(254 << 8)  /* makedev(254, 0), a macro Swift cannot see */) == 0, "mknod: \(String(cString: strerror(errno)))")
        return directory
    }

    static func writeJSON(_ object: Any, to path: String) throws {
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    /// The first 12 bytes of the disk through `node`, then dd's error if any.
    static func readSector(_ node: String = "/nodes/vda") -> String {
        "{ dd if=\(node) bs=512 count=1 status=none | head -c 12; echo; } 2>&1"
    }

    /// "attack" into sector 1 through `node`.
    static func writeSector(_ node: String = "/nodes/vda") -> String {
        "echo attack | dd of=\(node) bs=512 seek=1 count=1 conv=notrunc,sync status=none 2>&1"
    }

    // MARK: - The attack of issue 11

    /// `berth spec`'s defaults (deny-all rwm, seccomp on): the node is in the rootfs, but the
    /// disk can be neither read nor written, and the disk is unchanged afterwards.
    @Test(arguments: [false, true])
    func aDiskNodeInTheRootfsCannotBeReadOrWritten(runcSpec: Bool) async throws {
        try await withBerthSandbox { s in
            try Self.prepareDisk()
            let rootfs = try await Self.rootfsWithDiskNode(s)
            defer { _ = try? FileManager.default.removeItem(atPath: rootfs) }
            let script = Self.readSector() + "; " + Self.writeSector()
            let edit: (inout BundleConfig) throws -> Void = { $0["root.path"] = rootfs; $0["root.readonly"] = false }
            let bundle = runcSpec
                ? try await s.foreignBundle(.runc, ["sh", "-c", script]) { config in
                    try edit(&config)
                    // Not what this test is about: berth cannot raise runc's ambient set everywhere.
                    config["process.capabilities.ambient"] = nil
                }
                : try await s.bundle(["sh", "-c", script], edit: edit)
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            // The container's status is dd's: 1.
            #expect(run.status == 1 && run.stderr.isEmpty, "\(run)")
            #expect(run.stdout.components(separatedBy: "Operation not permitted").count == 3, "read and write both refused: \(run)")
            #expect(!run.stdout.contains("berth canary"), "\(run)")
            #expect(try Self.readDisk(at: 0) == Self.canary)
            #expect(try Self.readDisk(at: 512) == Self.sectorOne)
        }
    }

    /// With a rule that allows it, the same node reads the canary and writes sector 1.
    @Test func anAllowedDeviceWorks() async throws {
        try await withBerthSandbox { s in
            try Self.prepareDisk()
            let rootfs = try await Self.rootfsWithDiskNode(s)
            defer { _ = try? FileManager.default.removeItem(atPath: rootfs) }
            let bundle = try await s.bundle(["sh", "-c", Self.readSector() + "; " + Self.writeSector()]) { config in
                config["root.path"] = rootfs
                config["root.readonly"] = false
                config["linux.resources.devices"] = (config["linux.resources.devices"] as? [Any] ?? [])
                    + [["allow": true, "type": "b", "major": 254, "minor": 0, "access": "rw"]]
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0 && run.lines.first == "berth canary", "\(run)")
            #expect(!run.stdout.contains("Operation not permitted"), "\(run)")
            #expect(try Self.readDisk(at: 512).starts(with: Array("attack\n".utf8)))
        }
    }

    /// `update --resources` with new device rules: reading starts to work, and stops again.
    @Test func updateAppliesNewDeviceRules() async throws {
        try await withBerthSandbox { s in
            try Self.prepareDisk()
            let bundle = try await s.bundle(["sleep", "1000"]) { config in
                config["linux.devices"] = [["path": "/dev/vda", "type": "b", "major": 254, "minor": 0, "fileMode": 0o600]]
            }
            let id = s.newID()
            let start = try await s.berth("run", "--detach", "--bundle", bundle.path, id)
            try #require(start.succeeded, "\(start)")
            #expect(try await s.berth("exec", id, "sh", "-c", Self.readSector("/dev/vda")).stdout.contains("Operation not permitted"))

            let allow = s.directory.path + "/allow.json"
            try Self.writeJSON(["devices": [["allow": false, "access": "rwm"], ["allow": true, "type": "b", "major": 254, "minor": 0, "access": "r"]]], to: allow)
            let update = try await s.berth("update", "--resources", allow, id)
            try #require(update.succeeded, "\(update)")
            let read = try await s.berth("exec", id, "sh", "-c", Self.readSector("/dev/vda"))
            #expect(read.lines.first == "berth canary", "\(read)")
            let write = try await s.berth("exec", id, "sh", "-c", Self.writeSector("/dev/vda"))
            #expect(write.stdout.contains("Operation not permitted"), "read only: \(write)")

            let deny = s.directory.path + "/deny.json"
            try Self.writeJSON(["devices": [["allow": false, "access": "rwm"]]], to: deny)
            #expect(try await s.berth("update", "--resources", deny, id).succeeded)
            #expect(try await s.berth("exec", id, "sh", "-c", Self.readSector("/dev/vda")).stdout.contains("Operation not permitted"))
            #expect(try await s.berth("delete", "--force", id).succeeded)
            #expect(try Self.readDisk(at: 512) == Self.sectorOne)
        }
    }

    // MARK: - Engines' device lists, berth against runc

    /// Nodes both runtimes are asked to open, made from linux.devices in the same config.
    static let sample: [(name: String, type: String, major: Int, minor: Int)] = [
        ("null", "c", 1, 3), ("zero", "c", 1, 5), ("full", "c", 1, 7), ("urandom", "c", 1, 9), ("ptmx", "c", 5, 2),
        ("tun", "c", 10, 200), ("fuse", "c", 10, 229), ("kvm", "c", 10, 232), ("loop-control", "c", 10, 237),
        ("vda", "b", 254, 0), ("loop0", "b", 7, 0),
    ]

    /// One line a node: its name and `allowed` (the open got past the device cgroup: it worked,
    /// or the driver said ENODEV/ENXIO) or `denied` (EPERM).
    static let probe = sample.map { node in
        "if dd if=/dev/s-\(node.name) of=/dev/null bs=1 count=0 2>/dev/shm/e || ! grep -q 'not permitted' /dev/shm/e; "
            + "then echo '\(node.name) allowed'; else echo '\(node.name) denied'; fi"
    }.joined(separator: "; ")

    /// Device lists as engines write them: runc spec's from runc itself, podman's and
    /// containerd's from their captured configs (Tests/Fixtures/engine-configs), and two edges.
    static func engineLists() throws -> [(name: String, rules: [[String: Any]]?)] {
        var lists: [(name: String, rules: [[String: Any]]?)] = [("runc spec", nil)]
        for engine in EngineConfig.allCases {
            let data = try Data(contentsOf: URL(fileURLWithPath: engine.fixturePath))
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let rules = try #require(((json["linux"] as? [String: Any])?["resources"] as? [String: Any])?["devices"] as? [[String: Any]])
            lists.append((engine.rawValue, rules))
        }
        lists.append(("a device rule with wildcards", [["allow": false, "access": "rwm"], ["allow": true, "type": "c", "major": 10, "access": "r"]]))
        lists.append(("privileged", [["allow": true, "access": "rwm"]]))
        return lists
    }

    @Test func engineDeviceListsGiveRuncsResults() async throws {
        let runc = try ForeignSpec.executable("runc")
        try await withBerthSandbox { s in
            for list in try Self.engineLists() {
                let bundle = try await s.foreignBundle(.runc, ["sh", "-c", Self.probe]) { config in
                    config["linux.devices"] = Self.sample.map { ["path": "/dev/s-\($0.name)", "type": $0.type, "major": $0.major, "minor": $0.minor, "fileMode": 0o600] }
                    if let rules = list.rules { config["linux.resources.devices"] = rules }
                    config["process.capabilities.ambient"] = nil
                }
                let berth = try await s.berth("run", "--bundle", bundle.path, s.newID())
                #expect(berth.status == 0, "\(list.name): \(berth)")
                let id = s.newID("runc")
                let process = try SpawnedProcess(runc, ["--root", s.directory.path + "/runc-state", "run", "--bundle", bundle.path, id],
                                                 environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                                                 stdoutPath: s.directory.path + "/\(id).out", stderrPath: s.directory.path + "/\(id).err")
                let reference = await process.wait(timeout: TestTiming.command * 2)
                try #require(reference.succeeded, "runc, \(list.name): \(reference)")
                #expect(berth.lines.count == Self.sample.count, "\(list.name): \(berth)")
                #expect(berth.lines == reference.lines, "\(list.name): berth \(berth.lines), runc \(reference.lines)")
            }
        }
    }
}
