@testable import CtrCLI
import BerthCore
import Linux
import OCI
import SupervisorAPI
import Testing
import TestSupport

/// `ctr run`'s flags as a whole, and the config.json they make.
struct RunOptionsTests {
    static let rootfs = "/srv/rootfs"

    static func spec(_ flags: [String], command: [String] = [], name: String = "web") throws -> Spec {
        let options = try RunOptions(parsing: flags + [rootfs, "--"] + command)
        var base = Spec.defaultConfig()
        base.linux?.seccomp = Spec.defaultSeccomp()
        base.root = Root(path: rootfs, readonly: false)
        return try ServiceSpec.build(options, base: ServiceSpec.Base(spec: base, bundle: nil, rootfs: rootfs), name: name, id: "0123456789ab")
    }

    @Test func commandComesAfterTheRootfsWithOrWithoutDashes() throws {
        let plain = try RunOptions(parsing: ["-d", "./rootfs", "sh", "-c", "echo -d"])
        #expect(plain.source == "./rootfs" && plain.command == ["sh", "-c", "echo -d"] && plain.detach)
        #expect(try RunOptions(parsing: ["./rootfs", "--", "ls", "-l"]).command == ["ls", "-l"])
        #expect(try RunOptions(parsing: ["./rootfs"]).command.isEmpty)
        #expect { try RunOptions(parsing: ["-d"]) } throws: { "\($0)".contains("ROOTFS or BUNDLE") }
    }

    @Test func limitsBecomeResources() throws {
        let spec = try Self.spec(["-m", "64M", "--memory-swap", "128M", "--cpus", "0.5", "--pids-limit", "20",
                                  "--memory-high", "48M", "--cpu-weight", "50", "--cpuset-cpus", "0", "--io-weight", "200"])
        let resources = try #require(spec.linux?.resources)
        #expect(resources.memory?.limit == 64 << 20 && resources.memory?.swap == 128 << 20)
        #expect(resources.cpu?.quota == 50_000 && resources.cpu?.period == 100_000 && resources.cpu?.cpus == "0")
        #expect(resources.pids?.limit == 20)
        #expect(resources.unified == ["memory.high": String(48 << 20), "cpu.weight": "50", "io.weight": "default 200"])
        // The default config's device rules stay.
        #expect(resources.devices == Spec.defaultConfig().linux?.resources?.devices)
        #expect(try RunOptions(parsing: ["-m", "64M", "--cpus", "0.5", "--pids-limit", "20", "/r"]).limits.summary.description == "mem=64M cpus=0.5 pids=20")
    }

    @Test func processFlagsEditTheProcess() throws {
        let spec = try Self.spec(["-e", "A=1", "-e", "PATH=/bin", "-w", "/tmp", "-u", "1000:1001", "--hostname", "box", "--read-only"],
                                 command: ["sleep", "5"])
        let process = try #require(spec.process)
        #expect(process.args == ["sleep", "5"])
        #expect(process.env == ["TERM=xterm", "A=1", "PATH=/bin"])
        #expect(process.cwd == "/tmp" && process.user.uid == 1000 && process.user.gid == 1001)
        #expect(spec.hostname == "box" && spec.root?.readonly == true)
        #expect(spec.annotations?["org.berth.ctr.name"] == "web")
    }

    @Test func defaultsAreDockerLike() throws {
        let spec = try Self.spec([], name: "api")
        #expect(spec.hostname == "api", "the hostname is the service name")
        #expect(spec.root?.readonly == false, "the rootfs is writable without --read-only")
        #expect(spec.linux?.seccomp != nil, "the default seccomp profile applies")
        #expect(spec.linux?.namespaces?.contains { $0.type == .network } == true, "a private network namespace")
        #expect(spec.process?.terminal == false)
        #expect(spec.linux?.cgroupsPath == "ctr/0123456789ab", "under ctr's own cgroup parent")
    }

    @Test func securityAndNetworkFlags() throws {
        let spec = try Self.spec(["--network", "host", "--security-opt", "seccomp=unconfined", "--cap-add", "net_admin", "--cap-drop", "CAP_CHOWN"])
        #expect(spec.linux?.namespaces?.contains { $0.type == .network } == false)
        #expect(spec.linux?.seccomp == nil)
        let bounding = try #require(spec.process?.capabilities?.bounding)
        #expect(bounding.contains("CAP_NET_ADMIN") && !bounding.contains("CAP_CHOWN"))
        let none = try Self.spec(["--cap-drop", "ALL"])
        #expect(none.process?.capabilities?.effective == [])
        #expect { try RunOptions(parsing: ["--cap-add", "FLY", "/r"]) } throws: { "\($0)".contains("flag --cap-add") }
    }

    @Test func volumesAndTmpfsAreAppendedToTheMounts() throws {
        let spec = try Self.spec(["-v", "/tmp:/data:ro", "--tmpfs", "/run"])
        let mounts = try #require(spec.mounts)
        #expect(mounts.count == Spec.defaultMounts.count + 2)
        #expect(mounts.suffix(2).map(\.destination) == ["/data", "/run"])
    }

    @Test func ttyAndInteractiveAreTakenAndDetachedStdinIsRefused() throws {
        let options = try RunOptions(parsing: ["-it", "/r", "sh"])
        #expect(options.tty && options.interactive && !options.detach)
        let detached = try RunOptions(parsing: ["-d", "-t", "/r"])
        #expect(detached.tty && !detached.interactive)
        for flags in [["-d", "-i"], ["-dit"], ["--detach", "--interactive", "--tty"]] {
            #expect { try RunOptions(parsing: flags + ["/r"]) } throws: { "\($0)".contains("flag --interactive") }
        }
    }

    @Test func ttySetsTheProcessTerminal() throws {
        #expect(try Self.spec(["-t"]).process?.terminal == true)
        #expect(try Self.spec([]).process?.terminal == false)
    }

    @Test func namesAreCheckedAsDirectoryNames() throws {
        for name in ["web", "web-1", "a.b_c", "0"] { try ServiceName.validate(name) }
        for name in ["", ".x", "-x", "a/b", "..", "a b", String(repeating: "x", count: 65)] {
            #expect(throws: BerthError.self) { try ServiceName.validate(name) }
        }
    }
}
