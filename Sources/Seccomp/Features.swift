import OCI

extension SeccompProgram {
    /// The `linux.seccomp` part of `berth features`: every action and operator, the
    /// architectures the installed libseccomp knows, and which flags this kernel accepts.
    public static func features(kernel: SeccompKernelSupport? = nil) -> Features.Seccomp {
        let kernel = kernel ?? .host
        return Features.Seccomp(
            enabled: true,
            actions: SeccompAction.allCases.filter { kernel.actions.contains($0) }.map(\.rawValue),
            operators: SeccompOperator.allCases.map(\.rawValue),
            archs: SeccompArch.allCases.filter { $0.libseccompToken != nil }.map(\.rawValue),
            knownFlags: SeccompFlag.allCases.map(\.rawValue),
            supportedFlags: SeccompFlag.allCases.filter { kernel.flags.contains($0) }.map(\.rawValue)
        )
    }

    /// For `berth features` annotations: `io.github.seccomp.libseccomp.version`.
    public static var featureAnnotations: [String: String] {
        ["io.github.seccomp.libseccomp.version": libseccompVersion]
    }
}
