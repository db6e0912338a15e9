// swift-tools-version: 6.0
import PackageDescription

// Dependencies point one way. BerthCore (BerthError, Timestamp) is under everything; OCI <-
// Cgroup2, Seccomp; Linux <- Cgroup2; OCI, Linux, Cgroup2, Seccomp <- Runtime <- BerthCLI; OCI,
// Linux <- SupervisorAPI; Runtime, SupervisorAPI <- Supervisor <- CtrCLI; BerthCore <-
// CommandLineFlags <- BerthCLI, CtrCLI. Each target lists
// every module its sources import: scripts/check-modules.sh checks that, and the architecture
// (docs/architecture.md, which shows this graph).
// `berth` links no package dependencies and no Foundation: its start-up time is part of
// every container's start-up time.
let package = Package(
    name: "Berth",
    products: [
        .executable(name: "berth", targets: ["berth"]),
        .executable(name: "ctr", targets: ["ctr"]),
    ],
    targets: [
        .target(name: "CShim"),
        .systemLibrary(name: "CLibseccomp", pkgConfig: "libseccomp",
                       providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CLibcap", pkgConfig: "libcap",
                       providers: [.apt(["libcap-dev"])]),
        .target(name: "BerthCore"),
        .target(name: "OCI", dependencies: ["BerthCore"]),
        .target(name: "Linux", dependencies: ["BerthCore", "CShim", "CLibcap"]),
        .target(name: "Cgroup2", dependencies: ["BerthCore", "OCI", "Linux", "CShim"]),
        .target(name: "Seccomp", dependencies: ["BerthCore", "OCI", "CLibseccomp"]),
        .target(name: "Runtime", dependencies: ["BerthCore", "OCI", "Linux", "Cgroup2", "Seccomp", "CShim"]),
        // One argument parser, driven by flag tables, for both command lines.
        .target(name: "CommandLineFlags", dependencies: ["BerthCore"]),
        .target(name: "BerthCLI", dependencies: ["BerthCore", "Runtime", "Seccomp", "OCI", "Linux", "Cgroup2", "CShim", "CommandLineFlags"]),
        .executableTarget(name: "berth", dependencies: ["BerthCLI"]),
        // ctr, like berth, links no Foundation. Its supervisor is the same binary, forked.
        .target(name: "SupervisorAPI", dependencies: ["BerthCore", "OCI", "Linux", "CShim"]),
        .target(name: "Supervisor", dependencies: ["BerthCore", "SupervisorAPI", "Runtime", "Cgroup2", "Seccomp", "OCI", "Linux", "CShim"]),
        .target(name: "CtrCLI", dependencies: ["BerthCore", "Supervisor", "SupervisorAPI", "Runtime", "Cgroup2", "Seccomp", "OCI", "Linux", "CShim",
                                               "CommandLineFlags"]),
        .executableTarget(name: "ctr", dependencies: ["CtrCLI"]),

        .target(name: "TestSupport", dependencies: ["BerthCore", "Linux"], path: "Tests/TestSupport"),
        .testTarget(name: "BerthCoreTests", dependencies: ["BerthCore"]),
        .testTarget(name: "OCITests", dependencies: ["BerthCore", "OCI", "TestSupport"]),
        .testTarget(name: "LinuxTests", dependencies: ["BerthCore", "Linux", "TestSupport"]),
        .testTarget(name: "Cgroup2Tests", dependencies: ["BerthCore", "Cgroup2", "TestSupport", "OCI", "Linux", "CShim"]),
        .testTarget(name: "SeccompTests", dependencies: ["BerthCore", "Seccomp", "OCI", "CLibseccomp"]),
        .testTarget(name: "RuntimeTests", dependencies: ["BerthCore", "Runtime", "TestSupport", "OCI", "Linux", "Seccomp"]),
        .testTarget(name: "CommandLineFlagsTests", dependencies: ["BerthCore", "CommandLineFlags"]),
        .testTarget(name: "BerthCLITests", dependencies: ["BerthCLI", "TestSupport", "Cgroup2", "CShim", "CommandLineFlags"]),
        .testTarget(name: "SupervisorAPITests", dependencies: ["BerthCore", "SupervisorAPI", "OCI", "Linux"]),
        .testTarget(name: "SupervisorTests", dependencies: ["BerthCore", "Supervisor", "SupervisorAPI", "TestSupport", "Linux", "CShim"]),
        .testTarget(name: "CtrCLITests", dependencies: ["BerthCore", "CtrCLI", "SupervisorAPI", "TestSupport", "OCI", "Linux", "CommandLineFlags"]),
    ]
)
