import Foundation
import Glibc
import TestSupport
import Testing

/// linux.netDevices: berth runs inside a network namespace this test makes (never the host's),
/// in which it has made a veth pair; one end moves into the container renamed, with its address
/// and up, and goes when the container's namespace does (the runtime-spec: never moved back).
@Suite(.timeLimit(.minutes(5)))
struct NetDevicesIntegrationTests {
    /// Runs `script` with `sh` inside the network namespace `name` (nsenter keeps the mounts,
    /// where `ip netns exec` would remount /sys without the cgroup2 hierarchy berth needs).
    static func inNamespace(_ s: BerthSandbox, _ name: String, _ script: String) async throws -> CommandResult {
        let process = try SpawnedProcess("/usr/bin/nsenter", ["--net=/run/netns/\(name)", "sh", "-c", script],
                                         environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", s.marker],
                                         stdoutPath: s.directory.path + "/\(name).out", stderrPath: s.directory.path + "/\(name).err")
        return await process.wait()
    }

    @Test func aVethMovesInRenamedWithItsAddressAndUpAndGoesWithTheContainer() async throws {
        try await withBerthSandbox { s in
            let namespace = "berth-nd-\(getpid())"
            try #require(system("ip netns add \(namespace)") == 0)
            defer { _ = system("ip netns del \(namespace)") }
            let bundle = try await s.foreignBundle(.runc, ["sh", "-c", "ls /sys/class/net; cat /sys/class/net/eth7/flags; grep -c 10.9.0.1 /proc/net/fib_trie"]) {
                $0["linux.netDevices"] = ["v0": ["name": "eth7"]]
            }
            let script = """
                ip link add v0 type veth peer name v1 && ip addr add 10.9.0.1/24 dev v0 || exit 9
                \(s.berthPath) --root \(s.stateRoot) run --bundle \(bundle.path) \(s.newID()) || exit 8
                ip link show v0 >/dev/null 2>&1 && echo v0-still-here
                # The kernel frees the container's namespace, and the veth with it, asynchronously.
                i=0; while ip link show v1 >/dev/null 2>&1 && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
                ip link show v1 >/dev/null 2>&1 && echo v1-still-here
                exit 0
                """
            let run = try await Self.inNamespace(s, namespace, script)
            #expect(run.status == 0, "\(run)")
            // The container's interfaces, eth7 up (IFF_UP), its address kept; then the pair is gone.
            #expect(run.lines == ["eth7", "lo", "0x1003", "2"], "\(run)")
        }
    }

    @Test func netDevicesAreRefusedByPath() async throws {
        try await withBerthSandbox { s in
            let hostNetwork = try await s.foreignBundle(.runc, ["true"]) {
                $0["linux.netDevices"] = ["v0": [String: String]()]
                $0["linux.namespaces"] = ($0["linux.namespaces"] as? [[String: Any]] ?? []).filter { $0["type"] as? String != "network" }
            }
            let run = try await s.berth("run", "--bundle", hostNetwork.path, s.newID())
            #expect(run.status != 0 && run.errorLine.contains(": linux.netDevices: needs a network namespace of the container's own"), "\(run)")
            let badName = try await s.foreignBundle(.runc, ["true"]) { $0["linux.netDevices"] = ["v0": ["name": "a/b"]] }
            let refused = try await s.berth("run", "--bundle", badName.path, s.newID())
            #expect(refused.status != 0 && refused.errorLine.contains(": linux.netDevices[\"v0\"].name: \"a/b\" is not an interface name"), "\(refused)")
            let missing = try await s.foreignBundle(.runc, ["true"]) { $0["linux.netDevices"] = ["berth-none0": [String: String]()] }
            let failed = try await s.berth("run", "--bundle", missing.path, s.newID())
            #expect(failed.status != 0 && failed.errorLine.contains(": linux.netDevices[\"berth-none0\"]: finding it or taking it down: no such device"), "\(failed)")
        }
    }
}
