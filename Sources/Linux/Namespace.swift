import BerthCore

/// The kinds of Linux namespace, with their clone flags and their names under /proc/PID/ns.
public enum NamespaceKind: String, CaseIterable, Sendable {
    case user, mount, pid, uts, ipc, network, cgroup, time

    public var cloneFlag: UInt64 {
        switch self {
        case .user: 0x1000_0000
        case .mount: 0x0002_0000
        case .pid: 0x2000_0000
        case .uts: 0x0400_0000
        case .ipc: 0x0800_0000
        case .network: 0x4000_0000
        case .cgroup: 0x0200_0000
        case .time: 0x0000_0080
        }
    }

    /// The file name under /proc/PID/ns.
    public var procName: String {
        switch self {
        case .mount: "mnt"
        case .network: "net"
        default: rawValue
        }
    }

    /// setns(2) into the namespace behind `fd`.
    public static func join(_ fd: FileDescriptor, kind: NamespaceKind, path: String) throws(BerthError) {
        try LiveKernel().setNamespace(fd, kind: kind, path: path)
    }

    /// unshare(2) of the given namespaces.
    public static func unshare(_ kinds: [NamespaceKind]) throws(BerthError) {
        try LiveKernel().unshare(kinds)
    }
}
