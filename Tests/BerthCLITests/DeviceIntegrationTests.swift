import CShim
import Cgroup2
import Foundation
import Glibc
import TestSupport
import Testing

/// `linux.resources.devices`, enforced by the eBPF device program berth attaches to the
/// container's cgroup. On the host (a cgroup2 mount without controllers is enough to attach
/// it) only a character device that is harmless to open is used: /dev/fuse (10:229), opened
/// and closed. It needs no capability, so EPERM can only be the device program's; where the
/// fuse module is missing an allowed open fails with ENODEV instead. The block-device attack
/// runs in the VM against its scratch disk (DeviceVMTests).
@Suite(.timeLimit(.minutes(5)))
struct DeviceIntegrationTests {
    /// /dev/fuse under another name, made by berth from linux.devices: the device cgroup, not the
    /// path, decides.
    static func addFuseNode(_ config: inout BundleConfig) {
        config["linux.devices"] = [["path": "/dev/fuse-node", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666]]
    }

    /// Opens the node for reading without reading from it (busybox dd with count=0).
    static let openFuse = "dd if=/dev/fuse-node of=/dev/null bs=1 count=0 2>&1 && echo open-ok"

    /// The open got past the device cgroup: it worked, or the driver is missing.
    static func opened(_ result: CommandResult) -> Bool {
        result.stdout.contains("open-ok") || result.stdout.contains("No such device")
    }

    static var fuseReadRule: [String: Any] { ["allow": true, "type": "c", "major": 10, "minor": 229, "access": "r"] }

    @Test func aDeviceOutsideTheRulesCannotBeOpenedAndOneAllowedCan() async throws {
        try await withBerthSandbox { s in
            let denied = try await s.bundle(["sh", "-c", Self.openFuse + "; echo null > /dev/null && echo null-ok"]) { Self.addFuseNode(&$0) }
            let run = try await s.berth("run", "--bundle", denied.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.contains("Operation not permitted") && !run.stdout.contains("open-ok"), "\(run)")
            #expect(run.stdout.contains("null-ok"), "the default devices stay usable: \(run)")

            let allowed = try await s.bundle(["sh", "-c", Self.openFuse]) { config in
                Self.addFuseNode(&config)
                config["linux.resources.devices"] = (config["linux.resources.devices"] as? [Any] ?? []) + [Self.fuseReadRule]
            }
            let open = try await s.berth("run", "--bundle", allowed.path, s.newID())
            #expect(Self.opened(open) && !open.stdout.contains("Operation not permitted"), "\(open)")
        }
    }

    /// CAP_MKNOD and no seccomp filter at all: only the device program stands between the
    /// container's root and a node of the host's disk. mknod of a default device (null) works,
    /// so the EPERM is the program's.
    @Test func mknodOfADeniedDeviceFailsEvenWithCapMknodAndNoSeccomp() async throws {
        try await withBerthSandbox { s in
            let script = "mknod /dev/disk b 8 0 2>&1; mknod /dev/mem-node c 1 1 2>&1; mknod /dev/null2 c 1 3 && echo null-made; ls /dev"
            let bundle = try await s.bundle(["sh", "-c", script]) { config in
                config["linux.seccomp"] = nil
                #expect((config["process.capabilities.bounding"] as? [String])?.contains("CAP_MKNOD") == true)
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.components(separatedBy: "Operation not permitted").count == 3, "two refusals: \(run)")
            #expect(run.stdout.contains("null-made"), "\(run)")
            #expect(!run.lines.contains("disk") && !run.lines.contains("mem-node"), "\(run)")
        }
    }

    /// `update --resources` replaces the program: the new rules hold at once, exactly one berth
    /// program stays attached, and going back to the old rules takes the access away again.
    @Test func updateReplacesTheDeviceRules() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.bundle(["sleep", "1000"]) { Self.addFuseNode(&$0) }
            let id = s.newID()
            let start = try await s.berth("run", "--detach", "--bundle", bundle.path, id)
            try #require(start.succeeded, "\(start)")
            let cgroup = Cgroup(root: try #require(HostCgroup.mount), path: "berth/" + id)
            let before = try cgroup.deviceProgramIDs()
            #expect(before.count == 1, "\(before)")
            #expect(try await s.berth("exec", id, "sh", "-c", Self.openFuse).stdout.contains("Operation not permitted"))

            let allow = s.directory.path + "/allow.json"
            try JSONSerialization.data(withJSONObject: ["devices": [["allow": false, "access": "rwm"], Self.fuseReadRule]]).write(to: URL(fileURLWithPath: allow))
            let update = try await s.berth("update", "--resources", allow, id)
            #expect(update.succeeded, "\(update)")
            let after = try cgroup.deviceProgramIDs()
            #expect(after.count == 1 && after != before, "before \(before), after \(after)")
            #expect(before.allSatisfy { !DeviceProgram.isLoaded(id: $0) }, "the replaced program is freed")
            let open = try await s.berth("exec", id, "sh", "-c", Self.openFuse)
            #expect(Self.opened(open) && !open.stdout.contains("Operation not permitted"), "\(open)")

            let deny = s.directory.path + "/deny.json"
            try JSONSerialization.data(withJSONObject: ["devices": [["allow": false, "access": "rwm"]]]).write(to: URL(fileURLWithPath: deny))
            #expect(try await s.berth("update", "--resources", deny, id).succeeded)
            #expect(try await s.berth("exec", id, "sh", "-c", Self.openFuse).stdout.contains("Operation not permitted"))

            // A bad rule changes nothing.
            let bad = s.directory.path + "/bad.json"
            try JSONSerialization.data(withJSONObject: ["devices": [["allow": true, "access": "rwx"]]]).write(to: URL(fileURLWithPath: bad))
            let refused = try await s.berth("update", "--resources", bad, id)
            #expect(!refused.succeeded && refused.errorLine == "berth: linux.resources.devices[0].access: \"rwx\" may contain only r, w and m", "\(refused)")
            #expect(try cgroup.deviceProgramIDs().count == 1)

            let programs = try cgroup.deviceProgramIDs()
            #expect(try await s.berth("delete", "--force", id).succeeded)
            #expect(await eventually { programs.allSatisfy { !DeviceProgram.isLoaded(id: $0) } }, "delete leaves no program loaded")
        }
    }

    /// A runc spec config (its own deny-all list, no seccomp) gets the same device control.
    @Test func aRuncSpecConfigIsEnforcedToo() async throws {
        try await withBerthSandbox { s in
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", Self.openFuse + "; head -c 1 /dev/urandom | wc -c"]) { config in
                Self.addFuseNode(&config)
                // Not what this test is about: berth cannot raise runc's ambient set on this host.
                config["process.capabilities.ambient"] = nil
            }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.contains("Operation not permitted") && !run.stdout.contains("open-ok"), "\(run)")
            #expect(run.lines.last == "1", "\(run)")
        }
    }

    /// A parent cgroup holding a device program attached without BPF_F_ALLOW_MULTI admits no
    /// program below it: create fails with one line naming linux.resources.devices, and leaves
    /// neither the container's cgroup nor state behind. The container never runs unprotected.
    @Test func createFailsCleanlyWhereTheProgramCannotBeAttached() async throws {
        try await withBerthSandbox { s in
            let mount = try #require(HostCgroup.mount)
            let parent = "berth-exclusive-\(getpid())-\(s.newID("p"))"
            try #require(mkdir(mount + "/" + parent, 0o755) == 0, "mkdir: \(String(cString: strerror(errno)))")
            defer { rmdir(mount + "/" + parent) }
            let program = DeviceProgram.compile(DeviceRule.defaults)
            var log = [CChar](repeating: 0, count: 256)
            let loaded = program.bytes.withUnsafeBytes {
                berth_bpf_load_device_program($0.baseAddress, UInt32(program.instructions.count), "exclusive", &log, UInt32(log.count))
            }
            try #require(loaded >= 0, "BPF_PROG_LOAD: \(String(cString: strerror(errno)))")
            defer { close(loaded) }
            let directory = open(mount + "/" + parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { close(directory) }
            try #require(berth_bpf_attach_device_program(loaded, directory, 0) == 0, "exclusive attach: \(String(cString: strerror(errno)))")

            let bundle = try await s.bundle(["true"]) { $0["linux.cgroupsPath"] = "/" + parent + "/c" }
            let run = try await s.berth("run", "--bundle", bundle.path, s.newID())
            #expect(run.status != 0 && run.errorLine
                == "berth: linux.resources.devices: cannot attach the device program to \(mount)/\(parent)/c (BPF_PROG_ATTACH): operation not permitted", "\(run)")
            #expect(!FileManager.default.fileExists(atPath: mount + "/" + parent + "/c"), "the container's cgroup is removed")
        }
    }
}
