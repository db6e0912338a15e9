import Testing
import Glibc

/// Where cgroup v2 with the resource controllers is usable: in the test VM
/// (scripts/vm-run.sh sets BERTH_IN_VM=1) or on a host that runs cgroup v2 only.
public enum CgroupV2Host {
    /// The controllers the VM suites need; a hybrid host lacks them on cgroup2.
    static let required: Set<Substring> = ["memory", "cpu", "io", "pids"]

    /// True when /sys/fs/cgroup is a cgroup2 root offering memory, cpu, io and pids.
    public static var hasControllers: Bool {
        guard let text = readSmallFile("/sys/fs/cgroup/cgroup.controllers") else { return false }
        let offered = Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }))
        return required.isSubset(of: offered)
    }

    /// True inside the test VM.
    public static var inVM: Bool {
        guard let value = getenv("BERTH_IN_VM") else { return false }
        return String(cString: value) == "1"
    }

    // Foundation stays out of the test support module, so read with plain syscalls.
    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return n == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }
}

extension Trait where Self == ConditionTrait {
    /// For suites that need cgroup v2 controllers. In the VM it never skips, so a
    /// VM whose cgroups are broken fails loudly instead of passing by skipping.
    public static var cgroupV2: Self {
        .enabled(
            if: CgroupV2Host.inVM || CgroupV2Host.hasControllers,
            "needs cgroup v2 controllers (memory, cpu, io, pids): runs in the VM, see make test-vm"
        )
    }
}
