import BerthCore
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

    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        guard parsed.positionals.isEmpty else { throw BerthError(.invalidArgument, "spec: takes no arguments") }
        let path = (parsed.value("bundle") ?? ".") + "/config.json"
        if Files.exists(path) { throw BerthError(.exists, "\(path): already exists; remove it first") }
        let text: String
        var spec = Spec.defaultConfig()
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
