import BerthCore
import CShim
import Glibc
import Linux
import SupervisorAPI

/// The service's ports: published ones (-p) are forwarded by the supervisor; --listen ones are
/// sockets the supervisor binds and every version of the container accepts on itself.
extension Supervisor {
    /// Binds the published ports. A port that cannot be had fails the start with its flag.
    static func publishedPorts(_ definition: ServiceDefinition) throws(BerthError) -> PortForwarder? {
        guard let mappings = definition.ports, !mappings.isEmpty else { return nil }
        return try PortForwarder(listeners: PortForwarder.bind(mappings))
    }

    /// The --listen sockets, once: taken back from the running container when a supervisor
    /// adopts one (it holds them as 3, 4, ...; binding anew would fail, the port being in use),
    /// else bound.
    func openActivationSockets(adoptingFrom pid: pid_t? = nil) throws(BerthError) {
        guard let addresses = definition.listen, !addresses.isEmpty, activationSockets.isEmpty else { return }
        if let pid, let taken = takeActivationSockets(from: pid, addresses) {
            activationSockets = taken
            return
        }
        var bound: [FileDescriptor] = []
        for address in addresses {
            do {
                let fd = try sys("bind", address.description) { berth_tcp_listen(address.address, Int32(address.port), PortForwarder.backlog) }
                bound.append(FileDescriptor(rawValue: fd))
            } catch {
                for socket in bound { socket.close() }
                throw BerthError(.invalidArgument, "flag --listen \(address): cannot listen: \(errnoDescription(error.errno))")
            }
        }
        activationSockets = bound
    }

    /// Copies of the container's descriptors 3... when they are still its listening sockets on
    /// the expected ports (the app may have closed or moved them).
    private func takeActivationSockets(from pid: pid_t, _ addresses: [ListenAddress]) -> [FileDescriptor]? {
        guard let pidfd = try? ProcessControl.openPidfd(pid) else { return nil }
        defer { pidfd.close() }
        var taken: [FileDescriptor] = []
        for (index, address) in addresses.enumerated() {
            let fd = berth_pidfd_getfd(pidfd.rawValue, Int32(3 + index))
            guard fd >= 0 else { break }
            taken.append(FileDescriptor(rawValue: fd))
            guard berth_socket_port(fd) == Int32(address.port) else { break }
        }
        guard taken.count == addresses.count, zip(taken, addresses).allSatisfy({ berth_socket_port($0.0.rawValue) == Int32($0.1.port) }) else {
            for socket in taken { socket.close() }
            return nil
        }
        return taken
    }
}
