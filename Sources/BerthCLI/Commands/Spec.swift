import BerthCore
import Cgroup2
import CommandLineFlags
import Glibc
import Linux
import OCI

/// `berth spec [--bundle DIR] [--rootless]`: writes a default config.json.
enum SpecCommand {
    static let flags: [Flag] = [
        .value("b", "bundle", placeholder: "DIR", summary: "where to write config.json (default .)"),
        .boolean("rootless", summary: "a config for an unprivileged user, as runc's (docs/rootless.md)"),
    ]

    static let details = """
        The config is runc spec's: an interactive sh on a terminal (set process.args, and
        process.terminal to false for a process without one), a read-only root at rootfs, and
        the cgroup namespace only where /sys/fs/cgroup is cgroup v2, as runc decides. Where
        berth's defaults differ: docker's default capability set (runc's gives three, too few
        for package managers), the default seccomp profile (runc's spec has none), and
        /sys/devices/virtual/powercap masked too.
        """

    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        guard parsed.positionals.isEmpty else { throw BerthError(.invalidArgument, "spec: takes no arguments") }
        let path = (parsed.value("bundle") ?? ".") + "/config.json"
        if Files.exists(path) { throw BerthError(.exists, "\(path): already exists; remove it first") }
        let text: String
        var spec = Spec.defaultConfig(cgroupNamespace: Cgroup.isUnifiedHost)
        // Least privilege by default: the default seccomp profile is part of every new config.
        spec.linux = spec.linux ?? LinuxConfig()
        spec.linux?.seccomp = Spec.defaultSeccomp()
        if parsed.flag("rootless") { spec.makeRootless(uid: geteuid(), gid: getegid()) }
        do { text = try encodeJSON(spec, pretty: true) } catch { throw BerthError(.system, "encoding the default config: \(error)") }
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
        defer { fd.close() }
        try fd.writeAll(text + "\n")
        return 0
    }
}
