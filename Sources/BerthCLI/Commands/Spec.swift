import BerthCore
import Glibc
import Linux
import OCI

/// `berth spec [--bundle DIR]`: writes a default config.json.
enum SpecCommand {
    static func run(_ arguments: [String], _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, valued: ["bundle": "bundle", "b": "bundle"], booleans: ["rootless": "rootless"])
        if parsed.flag("rootless") { throw BerthError(.unsupported, "flag --rootless: rootless containers are not supported yet") }
        guard parsed.positionals.isEmpty else { throw BerthError(.invalidArgument, "spec: takes no arguments") }
        let path = (parsed.value("bundle") ?? ".") + "/config.json"
        if Files.exists(path) { throw BerthError(.exists, "\(path): already exists; remove it first") }
        let text: String
        var spec = Spec.defaultConfig()
        // Least privilege by default: the default seccomp profile is part of every new config.
        spec.linux = spec.linux ?? LinuxConfig()
        spec.linux?.seccomp = Spec.defaultSeccomp()
        do { text = try encodeJSON(spec, pretty: true) } catch { throw BerthError(.system, "encoding the default config: \(error)") }
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
        defer { fd.close() }
        try fd.writeAll(text + "\n")
        return 0
    }
}
