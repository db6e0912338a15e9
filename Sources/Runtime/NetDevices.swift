import BerthCore
import Glibc
import Linux
import OCI

extension LaunchPlan {
    /// An interface linux.netDevices moves into the container, by its host name and the name
    /// it gets there.
    public struct NetDeviceMove: Equatable, Sendable {
        public var host: String
        public var container: String
    }

    /// `linux.netDevices`, checked as runc checks it: a network namespace of the container's
    /// (new, or joined by a path that is not the host's), names the kernel takes (a `%d`
    /// template in the container's name lets the kernel pick a free one). In a user namespace
    /// that makes its network namespace itself (after `begin`) berth cannot move them yet.
    static func netDevices(_ linux: LinuxConfig, new: [NamespaceKind], joined: [(kind: NamespaceKind, path: String)], staged: Bool) throws(BerthError) -> [NetDeviceMove] {
        guard let devices = linux.netDevices, !devices.isEmpty else { return [] }
        let label = "linux.netDevices"
        let joinedNetwork = joined.first { $0.kind == .network }.map { !isHostNamespace(.network, path: $0.path) } ?? false
        guard new.contains(.network) || joinedNetwork else {
            throw BerthError(.invalidConfig, "\(label): needs a network namespace of the container's own, or the interfaces would stay the host's")
        }
        if staged && new.contains(.network) {
            throw BerthError(.unsupported, "\(label): with this user namespace setup the init makes its network namespace itself, and berth cannot move interfaces into it yet")
        }
        return try devices.sorted { $0.key < $1.key }.map { (host, device) throws(BerthError) in
            guard NetworkDevice.isValidName(host) else { throw BerthError(.invalidConfig, "\(label): \"\(ErrorText.short(host))\" is not an interface name") }
            let name = device.name.flatMap { $0.isEmpty ? nil : $0 } ?? host
            guard NetworkDevice.isValidName(name) else {
                throw BerthError(.invalidConfig, "\(label)[\"\(host)\"].name: \"\(ErrorText.short(name))\" is not an interface name")
            }
            return NetDeviceMove(host: host, container: name)
        }
    }
}

extension Launcher {
    /// Moves linux.netDevices into the init's network namespace: the one it was cloned into, or
    /// the one it will join. Before `begin`, so the interfaces are there for every hook and step
    /// (runc moves them right after the init's namespaces exist). Nothing moves them back: the
    /// kernel does when the namespace goes (physical devices) or destroys them (veth, macvlan),
    /// as the runtime-spec asks.
    func moveNetDevices(pid: pid_t) throws(BerthError) {
        guard !plan.netDevices.isEmpty else { return }
        let path = plan.joins(.network) ?? "/proc/\(pid)/ns/net"
        let namespace = try FileDescriptor.open(path, O_RDONLY)
        defer { namespace.close() }
        for device in plan.netDevices {
            do { try NetworkDevice.move(device.host, into: namespace, as: device.container) } catch {
                throw error.prefixed("linux.netDevices[\"\(device.host)\"]")
            }
        }
    }
}
