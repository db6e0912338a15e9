import BerthCore
import CShim
import Linux

/// The parent/child protocol of `create`, over a SOCK_SEQPACKET pair: each message is one packet,
/// so nothing needs framing. The child is single-threaded between clone and exec and only ever
/// blocks in `receive`.
///
///     parent (berth create)                    child (container init)
///     clone3(namespaces, into cgroup) ------>  [new namespaces]
///     write uid_map/gid_map
///     [bindSource(label) + fd, one per bind --> kept for the mounts below (user namespace with
///      source, opened as host root]              a mount namespace: runc's rule)
///     begin(host pid) ----------------------->  become root in the user namespace
///                                               mounts, devices (rootfs still the bundle's)
///                      <-------------------- rootfsPrepared
///     prestart, createRuntime hooks
///     hooksDone ----------------------------->  createContainer hooks, pivot_root, finalize
///                      <-------------------- ready
///     write state.json (created)
///     stateWritten -------------------------->  drop the parent-death signal,
///                                               block on the exec fifo until `start`
///     any step fails   <-------------------- failed(message); the child exits
///
/// Staged set-up (LaunchPlan.stagedNamespaces: namespaces joined by path together with a new
/// user namespace, or a joined user namespace) clones with no new namespaces; the child joins
/// by path while it still has the host's privileges, then:
///                      <-------------------- userNamespaceReady (after unshare(CLONE_NEWUSER))
///     write uid_map/gid_map, begin(pid) ---->  unshare the rest; with a new pid namespace fork
///                      <-------------------- initPid(grandchild's host pid); the first child exits
public enum SyncMessage: Equatable, Sendable {
    /// Sent first, once any id mappings are written; carries the init's pid as the host sees it.
    case begin(pid: Int32)
    case rootfsPrepared
    /// Staged set-up only: the init unshared its user namespace; the parent writes the mappings.
    case userNamespaceReady
    /// Staged set-up only: the init was forked into the new pid namespace; its host pid.
    case initPid(Int32)
    case hooksDone
    case ready
    case stateWritten
    case failed(String)
    /// A bind mount's source, opened by the parent as root of the host inside the init's mount
    /// namespace, travels with this message (SCM_RIGHTS); the label names the mount.
    case bindSource(String)

    var encoded: [UInt8] {
        switch self {
        case .begin(let pid): [1] + Array(String(pid).utf8)
        case .rootfsPrepared: [2]
        case .hooksDone: [3]
        case .ready: [4]
        case .stateWritten: [5]
        case .failed(let message): [6] + Array(message.utf8)
        case .userNamespaceReady: [7]
        case .initPid(let pid): [8] + Array(String(pid).utf8)
        case .bindSource(let label): [9] + Array(label.utf8)
        }
    }

    init?(_ bytes: [UInt8]) {
        guard let tag = bytes.first else { return nil }
        switch tag {
        case 1:
            guard let pid = Int32(String(decoding: bytes.dropFirst(), as: UTF8.self)) else { return nil }
            self = .begin(pid: pid)
        case 2: self = .rootfsPrepared
        case 3: self = .hooksDone
        case 4: self = .ready
        case 5: self = .stateWritten
        case 6: self = .failed(String(decoding: bytes.dropFirst(), as: UTF8.self))
        case 7: self = .userNamespaceReady
        case 8:
            guard let pid = Int32(String(decoding: bytes.dropFirst(), as: UTF8.self)) else { return nil }
            self = .initPid(pid)
        case 9: self = .bindSource(String(decoding: bytes.dropFirst(), as: UTF8.self))
        default: return nil
        }
    }
}

public struct SyncChannel: Sendable {
    public let descriptor: FileDescriptor

    public init(_ descriptor: FileDescriptor) { self.descriptor = descriptor }

    public func send(_ message: SyncMessage) throws(BerthError) {
        try descriptor.writeAll(message.encoded)
    }

    /// Sends `message` with `descriptor` attached (SCM_RIGHTS).
    public func send(_ message: SyncMessage, passing descriptor: FileDescriptor) throws(BerthError) {
        let text = String(decoding: message.encoded, as: UTF8.self)
        try sys("sendmsg", "create's sync socket") { berth_send_fd(self.descriptor.rawValue, descriptor.rawValue, text) }
    }

    /// The next message and the descriptor it carries, if any.
    public func receiveWithDescriptor() throws(BerthError) -> (SyncMessage, FileDescriptor?) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var fd: Int32 = -1
        let count = try sys("recvmsg", "create's sync socket") { buffer.withUnsafeMutableBytes { berth_receive_packet(descriptor.rawValue, $0.baseAddress, UInt($0.count), &fd) } }
        let passed = fd >= 0 ? FileDescriptor(rawValue: fd) : nil
        if count == 0 { return (.failed("container init exited during setup"), passed) }
        return (SyncMessage(Array(buffer.prefix(count))) ?? .failed("garbled message from the other side of create"), passed)
    }

    /// The next message; a closed peer reads as a failure, because a healthy peer never closes
    /// before the protocol ends.
    public func receive() throws(BerthError) -> SyncMessage {
        let bytes = try descriptor.read(upTo: 65536)
        if bytes.isEmpty { return .failed("container init exited during setup") }
        return SyncMessage(bytes) ?? .failed("garbled message from the other side of create")
    }

    /// Receives and checks that the message is `expected`, turning `failed` into an error.
    public func expect(_ expected: SyncMessage) throws(BerthError) {
        let message = try receive()
        if message == expected { return }
        if case .failed(let text) = message { throw BerthError(.system, text) }
        throw BerthError(.system, "create: expected \(expected), got \(message)")
    }

    public func close() { descriptor.close() }
}
