import BerthCore
import CShim
import Linux

/// --pidfd-socket (runc 1.2+): a pidfd of the container's process, sent over a unix socket so
/// that an engine can signal and wait for it without racing a reused pid. runc's init
/// pidfd_opens itself and sends the descriptor in one SCM_RIGHTS message whose data is its kind
/// ("standard" for the container's init, "setns" for an exec'd process); berth's parent holds a
/// pidfd of its child already and sends that, with the same data.
struct PidfdSocket {
    let path: String
    let socket: FileDescriptor

    /// Connected before the process exists, so that a bad path fails before anything is made.
    static func connect(_ path: String?) throws(BerthError) -> PidfdSocket? {
        guard let path else { return nil }
        return PidfdSocket(path: path, socket: FileDescriptor(rawValue: try sys("connect", "--pidfd-socket \(path)") { berth_connect_unix(path) }))
    }

    /// Sends a pidfd for `pid`: `pidfd` when the caller has one, else one opened here.
    func send(pid: pid_t, pidfd: FileDescriptor?, kind: String) throws(BerthError) {
        let opened = pidfd == nil ? try ProcessControl.openPidfd(pid) : nil
        defer { opened?.close() }
        guard let descriptor = pidfd ?? opened else { return }
        try sys("sendmsg", "--pidfd-socket \(path)") { berth_send_fd(socket.rawValue, descriptor.rawValue, kind) }
    }

    func close() { socket.close() }
}
