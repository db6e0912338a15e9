import BerthCore
import Testing
@testable import OCI

@Suite struct SpecDecodingTests {
    @Test func runtimeSpecConfigExampleDecodes() throws {
        let spec = try decodeJSON(Spec.self, from: Fixtures.specExample)
        #expect(spec.ociVersion == "1.0.1")
        #expect(spec.hostname == "slartibartfast")
        #expect(spec.root == Root(path: "rootfs", readonly: true))

        let process = try #require(spec.process)
        #expect(process.terminal == true)
        #expect(process.user == User(uid: 1, gid: 1, additionalGids: [5, 6]))
        #expect(process.args == ["sh"])
        #expect(process.cwd == "/")
        #expect(process.capabilities?.effective == ["CAP_AUDIT_WRITE", "CAP_KILL"])
        #expect(process.capabilities?.ambient == ["CAP_NET_BIND_SERVICE"])
        #expect(process.rlimits == [POSIXRlimit(type: .core, hard: 1024, soft: 1024),
                                    POSIXRlimit(type: .nofile, hard: 1024, soft: 1024)])
        #expect(process.oomScoreAdj == 100)
        #expect(process.ioPriority == IOPriority(class: .idle, priority: 4))
        #expect(process.noNewPrivileges == true)

        #expect(spec.mounts?.count == 7)
        #expect(spec.mounts?[2].options?.contains("ptmxmode=0666") == true)
        #expect(spec.hooks?.prestart?.count == 2)
        #expect(spec.hooks?.poststart?.first?.timeout == 5)
        #expect(spec.hooks?.poststop?.first?.args == ["cleanup.sh", "-f"])
        #expect(spec.annotations == ["com.example.key1": "value1", "com.example.key2": "value2"])

        let linux = try #require(spec.linux)
        #expect(linux.devices?.first == LinuxDevice(path: "/dev/fuse", type: .char, major: 10, minor: 229,
                                                    fileMode: 438, uid: 0, gid: 0))
        #expect(linux.uidMappings == [LinuxIDMapping(containerID: 0, hostID: 1000, size: 32000)])
        #expect(linux.sysctl?["net.core.somaxconn"] == "256")
        #expect(linux.cgroupsPath == "/myRuntime/myContainer")
        #expect(linux.rootfsPropagation == "slave")
        #expect(linux.namespaces?.map(\.type) == [.pid, .network, .ipc, .uts, .mount, .user, .cgroup, .time])
        #expect(linux.timeOffsets?["monotonic"] == LinuxTimeOffset(secs: 172800, nanosecs: 0))
        #expect(linux.maskedPaths?.count == 4)
        #expect(linux.mountLabel == "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811")

        let resources = try #require(linux.resources)
        #expect(resources.network?.classID == 1048577)
        #expect(resources.pids == LinuxPids(limit: 32771))
        #expect(resources.hugepageLimits?.first?.limit == 9223372036854772000)
        #expect(resources.memory?.kernel == -1)
        #expect(resources.memory?.disableOOMKiller == false)
        #expect(resources.cpu?.idle == 1)
        #expect(resources.cpu?.cpus == "2-3")
        #expect(resources.devices?.first == LinuxDeviceCgroup(allow: false, access: "rwm"))
        #expect(resources.devices?[2].type == .block)
        #expect(resources.blockIO?.weightDevice?[1] == LinuxWeightDevice(major: 8, minor: 16, weight: 500))
        #expect(resources.blockIO?.throttleWriteIOPSDevice?.first?.rate == 300)

        #expect(linux.seccomp?.defaultAction == .allow)
        #expect(linux.seccomp?.architectures == [.x86, .x32])
        #expect(linux.seccomp?.syscalls == [LinuxSyscall(names: ["getcwd", "chmod"], action: .errno)])
    }

    @Test func everyModeledFieldDecodes() throws {
        let spec = try decodeJSON(Spec.self, from: Fixtures.kitchenSink)
        let process = try #require(spec.process)
        #expect(process.consoleSize == ConsoleSize(height: 24, width: 80))
        #expect(process.user == User(uid: 1000, gid: 1000, umask: 0o22, additionalGids: [5, .max],
                                     username: "ignored-on-linux"))
        #expect(process.args.last == "echo \"hi\" é😀")
        #expect(process.commandLine == "sh -c echo")
        #expect(process.capabilities?.inheritable == [])
        #expect(process.rlimits?[1] == POSIXRlimit(type: .core, hard: .max, soft: .max))
        #expect(process.oomScoreAdj == -1000)
        #expect(process.scheduler == Scheduler(policy: .deadline, nice: -20, priority: 0,
                                               flags: [.resetOnFork, .utilClampMax],
                                               runtime: 1_000_000, deadline: 2_000_000, period: 3_000_000))
        #expect(process.ioPriority == IOPriority(class: .realtime, priority: 0))
        #expect(process.execCPUAffinity == CPUAffinity(initial: "0", final: "0-3,7"))

        #expect(spec.domainname == "example.org")
        #expect(spec.mounts?[1].uidMappings == [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)])
        #expect(spec.mounts?[2] == Mount(destination: "/tmp"))
        #expect(spec.hooks?.createRuntime?.first == Hook(path: "/usr/bin/net-setup", args: ["net-setup", "--up"],
                                                          env: ["A=1"], timeout: 10))
        #expect(spec.hooks?.createContainer?.count == 1)
        #expect(spec.hooks?.startContainer?.first?.timeout == 1)
        #expect(spec.annotations?["com.example/weird key"] == "v")

        let linux = try #require(spec.linux)
        #expect(linux.namespaces?[1] == LinuxNamespace(type: .network, path: "/var/run/netns/sink"))
        #expect(linux.timeOffsets?["monotonic"] == LinuxTimeOffset(secs: -86400, nanosecs: 999_999_999))
        #expect(linux.devices?.map(\.type) == [.char, .block, .unbufferedChar, .fifo])
        #expect(linux.devices?[3].major == nil)
        #expect(linux.intelRdt == LinuxIntelRdt(closID: "guaranteed", l3CacheSchema: "L3:0=7f0;1=1f",
                                                memBwSchema: "MB:0=20;1=70", enableCMT: true, enableMBM: false))
        #expect(linux.personality == LinuxPersonality(domain: .linux32, flags: []))
        #expect(linux.rootfsPropagation == "rslave")

        let resources = try #require(linux.resources)
        #expect(resources.devices?[2] == LinuxDeviceCgroup(allow: true, type: .all))
        #expect(resources.memory == LinuxMemory(limit: 536870912, reservation: 268435456, swap: -1, kernel: -1,
                                                kernelTCP: -1, swappiness: 60, disableOOMKiller: false,
                                                useHierarchy: true, checkBeforeUpdate: true))
        #expect(resources.cpu == LinuxCPU(shares: 1024, quota: -1, burst: 10000, period: 100000,
                                          realtimeRuntime: 950000, realtimePeriod: 1000000, cpus: "0-3",
                                          mems: "0", idle: 0))
        #expect(resources.blockIO?.throttleWriteBpsDevice == [LinuxThrottleDevice(major: 8, minor: 0, rate: 52428800)])
        #expect(resources.blockIO?.throttleReadIOPSDevice?.first?.rate == 1000)
        #expect(resources.hugepageLimits?.first?.limit == .max)
        #expect(resources.rdma?["mlx4_0"] == LinuxRdma(hcaObjects: 1000))
        #expect(resources.unified?["io.max"] == "8:0 rbps=1048576")

        let seccomp = try #require(linux.seccomp)
        #expect(seccomp.defaultAction == .errno)
        #expect(seccomp.defaultErrnoRet == 1)
        #expect(seccomp.flags == SeccompFlag.allCases)
        #expect(seccomp.listenerPath == "/run/seccomp-agent.sock")
        #expect(seccomp.listenerMetadata == "profile=strict")
        #expect(seccomp.syscalls?[2] == LinuxSyscall(
            names: ["clone"], action: .errno, errnoRet: 38,
            args: [LinuxSeccompArg(index: 0, value: 2114060288, valueTwo: 0, op: .maskedEqual)]))
        #expect(seccomp.syscalls?.map(\.action) == [.allow, .allow, .errno, .notify, .killProcess, .log])
    }

    @Test(arguments: ["specExample", "kitchenSink"])
    func decodedSpecReencodesToAnEqualSpec(fixture: String) throws {
        let spec = try decodeJSON(Spec.self, from: Fixtures.named(fixture))
        #expect(try decodeJSON(Spec.self, from: encodeJSON(spec)) == spec)
        #expect(try decodeJSON(Spec.self, from: encodeJSON(spec, pretty: true)) == spec)
    }
}

@Suite struct SpecErrorTests {
    /// The message decoding `Fixtures.specExample` fails with after replacing the first
    /// occurrence of `old` by `new`.
    private func errorAfterEdit(_ old: String, _ new: String) throws -> String {
        var edited = Fixtures.specExample
        let range = try #require(edited.firstRange(of: old), "fixture must contain \(old)")
        edited.replaceSubrange(range, with: new)
        let error = try #require(throws: BerthError.self) { try decodeJSON(Spec.self, from: edited) }
        return error.description
    }

    @Test func unknownNamespaceNamesPathAndValue() throws {
        #expect(try errorAfterEdit(#""type": "ipc""#, #""type": "foo""#)
                == #"linux.namespaces[2].type: unknown namespace "foo""#)
    }

    @Test func wrongTypeAtNestedPath() throws {
        #expect(try errorAfterEdit(#""uid": 1,"#, #""uid": "1","#)
                == "process.user.uid: expected unsigned integer, found string")
        #expect(try errorAfterEdit("\"args\": [\n            \"sh\"\n        ]", #""args": "sh""#)
                == "process.args: expected array, found string")
    }

    @Test func missingRequiredFieldNamesTheField() throws {
        #expect(try errorAfterEdit(#""cwd": "/","#, "") == #"process: missing required field "cwd""#)
        #expect(try errorAfterEdit(#""ociVersion": "1.0.1","#, "") == #"missing required field "ociVersion""#)
        #expect(try errorAfterEdit(#""path": "/usr/bin/setup-network""#, #""timeout": 1"#)
                == #"hooks.prestart[1]: missing required field "path""#)
    }

    /// Go's decoder leaves a missing uid, gid or user zero, and runc runs such a process as it.
    @Test func aMissingUserOrGidIsZeroAsInRunc() throws {
        let withoutGid = try decodeJSON(Process.self, from: #"{"args": ["sh"], "cwd": "/", "user": {"uid": 1000}}"#)
        #expect(withoutGid.user == User(uid: 1000, gid: 0))
        let withoutUser = try decodeJSON(Process.self, from: #"{"args": ["sh"], "cwd": "/"}"#)
        #expect(withoutUser.user == User(uid: 0, gid: 0))
        #expect(try errorAfterEdit(#""uid": 1,"#, #""uid": "1","#) == "process.user.uid: expected unsigned integer, found string")
    }

    @Test func negativeUIDIsOutOfRange() throws {
        #expect(try errorAfterEdit(#""uid": 1,"#, #""uid": -1,"#) == "process.user.uid: value -1 out of range for uint32")
        #expect(try errorAfterEdit(#""hostID": 1000,"#, #""hostID": 4294967296,"#)
                == "linux.uidMappings[0].hostID: value 4294967296 out of range for uint32")
    }

    @Test func unknownEnumValuesNamePathAndValue() throws {
        #expect(try errorAfterEdit(#""action": "SCMP_ACT_ERRNO""#, #""action": "SCMP_ACT_ALOW""#)
                == #"linux.seccomp.syscalls[0].action: unknown seccomp action "SCMP_ACT_ALOW""#)
        #expect(try errorAfterEdit(#""SCMP_ARCH_X32""#, #""SCMP_ARCH_Z80""#)
                == #"linux.seccomp.architectures[1]: unknown seccomp architecture "SCMP_ARCH_Z80""#)
        #expect(try errorAfterEdit(#""RLIMIT_CORE""#, #""RLIMIT_FOO\n""#)
                == #"process.rlimits[0].type: unknown rlimit "RLIMIT_FOO\n""#)
        let long = String(repeating: "x", count: 10_000)
        #expect(try errorAfterEdit(#""type": "pid""#, "\"type\": \"\(long)\"")
                == "linux.namespaces[0].type: unknown namespace \"\(long.prefix(30))...\(long.suffix(30))\"")
        #expect(try errorAfterEdit(#""IOPRIO_CLASS_IDLE""#, "7")
                == "process.ioPriority.class: expected string, found 7")
        #expect(try errorAfterEdit(#""type": "b","#, #""type": "x","#)
                == #"linux.devices[1].type: unknown device type "x""#)
    }

    @Test func dottedMapKeysAreQuotedInPaths() throws {
        #expect(try errorAfterEdit(#""net.core.somaxconn": "256""#, #""net.core.somaxconn": 256"#)
                == #"linux.sysctl["net.core.somaxconn"]: expected string, found 256"#)
        #expect(try errorAfterEdit(#""secs": 604800,"#, #""secs": "604800","#)
                == "linux.timeOffsets.boottime.secs: expected integer, found string")
    }

    @Test func unknownKeysAnywhereAreIgnored() throws {
        let edited = Fixtures.specExample
            .replacing(#""cwd": "/","#, with: #""cwd": "/", "futureField": {"a": [1]},"#)
            .replacing(#""type": "pid""#, with: #""type": "pid", "x-flag": true"#)
            .replacing(#""ociVersion": "1.0.1","#, with: #""ociVersion": "1.0.1", "windows": {"layerFolders": []},"#)
        #expect(try decodeJSON(Spec.self, from: edited) == decodeJSON(Spec.self, from: Fixtures.specExample))
    }
}

@Suite struct DefaultSpecTests {
    @Test func defaultSpecEncodesAndDecodesBackEqual() throws {
        let spec = Spec.defaultConfig()
        #expect(try decodeJSON(Spec.self, from: encodeJSON(spec)) == spec)
        #expect(try decodeJSON(Spec.self, from: encodeJSONBytes(spec, pretty: true)) == spec)
    }

    @Test func prettyDefaultSpecIsRuncStyle() throws {
        let text = try encodeJSON(Spec.defaultConfig(), pretty: true)
        _ = try JSONValue.parse(text)
        #expect(text.hasPrefix("{\n  \"ociVersion\": \"1.2.0\",\n  \"process\": {\n    \"terminal\": true,\n"))
        #expect(text.hasSuffix("\n}"))
        #expect(!text.contains("inheritable"))
        #expect(!text.contains("ambient"))
    }

    @Test func defaultSpecHasDockerCapabilitiesAndRuncMounts() {
        let spec = Spec.defaultConfig()
        #expect(spec.ociVersion == "1.2.0")
        #expect(spec.hostname == "berth")
        #expect(spec.root == Root(path: "rootfs", readonly: true))
        #expect(spec.process?.user == User(uid: 0, gid: 0))
        #expect(spec.process?.args == ["sh"])
        #expect(spec.process?.noNewPrivileges == true)
        #expect(spec.process?.rlimits == [POSIXRlimit(type: .nofile, hard: 1024, soft: 1024)])
        let caps = spec.process?.capabilities
        #expect(caps?.bounding?.count == 14)
        #expect(caps?.bounding == caps?.effective)
        #expect(caps?.bounding == caps?.permitted)
        #expect(caps?.inheritable == nil && caps?.ambient == nil)
        #expect(spec.mounts?.map(\.destination) == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                                                    "/sys/fs/cgroup"])
        #expect(spec.mounts?.last == Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
                                           options: ["nosuid", "noexec", "nodev", "relatime", "ro"]))
        #expect(spec.linux?.namespaces?.map(\.type) == [.pid, .network, .ipc, .uts, .mount, .cgroup])
        #expect(Spec.defaultConfig(cgroupNamespace: false).linux?.namespaces?.map(\.type) == [.pid, .network, .ipc, .uts, .mount])
        #expect(spec.process?.terminal == true)
        #expect(spec.linux?.maskedPaths?.count == 11)
        #expect(spec.linux?.readonlyPaths?.count == 5)
    }
}

@Suite struct StateTests {
    @Test func stateEncodesExactlyTheOCIFieldNames() throws {
        let state = State(id: "c1", status: .running, pid: 4242, bundle: "/run/b", annotations: ["b": "2", "a": "1"])
        #expect(try encodeJSON(state)
                == #"{"ociVersion":"1.2.0","id":"c1","status":"running","pid":4242,"bundle":"/run/b","annotations":{"a":"1","b":"2"}}"#)
        #expect(try decodeJSON(State.self, from: encodeJSON(state)) == state)
    }

    @Test func stoppedStateOmitsPid() throws {
        let state = State(id: "c1", status: .stopped, bundle: "/b")
        #expect(try encodeJSON(state) == #"{"ociVersion":"1.2.0","id":"c1","status":"stopped","bundle":"/b"}"#)
    }

    @Test func pausedStatusIsAccepted() throws {
        let state = try decodeJSON(State.self, from: #"{"ociVersion":"1.0.2","id":"x","status":"paused","bundle":"/"}"#)
        #expect(state.status == .paused)
        #expect(throws: BerthError(.jsonSchema, path: "status", #"unknown container status "zombie""#)) {
            try decodeJSON(State.self, from: #"{"ociVersion":"1","id":"x","status":"zombie","bundle":"/"}"#)
        }
    }

    @Test func featuresRoundTrip() throws {
        let features = Features(
            ociVersionMin: "1.0.0", ociVersionMax: Spec.version, hooks: ["prestart", "poststop"],
            linux: Features.Linux(namespaces: LinuxNamespaceType.allCases.map(\.rawValue),
                                  cgroup: Features.Cgroup(v1: false, v2: true),
                                  seccomp: Features.Seccomp(enabled: true,
                                                            actions: SeccompAction.allCases.map(\.rawValue)),
                                  mountExtensions: Features.MountExtensions(idmap: Features.Enabled(enabled: true))))
        #expect(try decodeJSON(Features.self, from: encodeJSON(features)) == features)
    }
}
