import BerthCore
import CommandLineFlags
import Linux
import OCI
import Runtime
import Seccomp

/// `berth features`: what this build supports, in the runtime-spec's features.json format, so
/// that engines can ask rather than guess. It lists only what berth enforces today.
enum FeaturesCommand {
    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        guard parsed.positionals.isEmpty else { throw BerthError(.invalidArgument, "features: takes no arguments") }
        let features = Features(
            ociVersionMin: "1.0.0", ociVersionMax: Spec.version,
            hooks: ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
            mountOptions: MountOptions.knownOptions,
            linux: Features.Linux(
                namespaces: NamespaceKind.allCases.map(\.rawValue),
                capabilities: Array(Capability.names.prefix(Int(Capability.lastCap()) + 1)),
                cgroup: Features.Cgroup(v1: false, v2: true, systemd: false, systemdUser: false, rdma: false),
                seccomp: SeccompProgram.features(),
                apparmor: Features.Enabled(enabled: false),
                selinux: Features.Enabled(enabled: false),
                // Built; a host without resctrl refuses a config that asks for it.
                intelRdt: Features.IntelRdt(enabled: true, schemata: true, monitoring: true),
                memoryPolicy: Features.MemoryPolicy(modes: LaunchPlan.MemoryPolicy.modes.keys.sorted(), flags: LaunchPlan.MemoryPolicy.flags.keys.sorted()),
                mountExtensions: Features.MountExtensions(idmap: Features.Enabled(enabled: true)),
                netDevices: Features.Enabled(enabled: true)),
            // The one annotation the runtime-spec names, which runc and crun print too.
            annotations: ["io.github.seccomp.libseccomp.version": libseccompVersion])
        let text: String
        do { text = try encodeJSON(features, pretty: true) } catch { throw BerthError(.system, "encoding features: \(error)") }
        try FileDescriptor.standardOutput.writeAll(text + "\n")
        return 0
    }
}
