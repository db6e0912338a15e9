import BerthCore
import Glibc
import Linux

/// ctr's side of the control socket: one request, one response, one connection.
public enum ControlClient {
    /// Sends `request` to the supervisor of `service` and waits up to `timeoutMilliseconds` for
    /// the answer (-1: no limit). A `failed` answer becomes an error with its message.
    public static func send(_ request: ControlRequest, to service: ServiceDirectory, timeoutMilliseconds: Int32) throws(BerthError) -> ControlResponse {
        let fd = try post(request, to: service)
        defer { fd.close() }
        var entry = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        let ready = try sys("poll") { Glibc.poll(&entry, 1, timeoutMilliseconds) }
        guard ready > 0 else { throw BerthError(.noAnswer, "service \"\(service.name)\": the supervisor did not answer in \(timeoutMilliseconds) ms") }
        switch try ControlSocket.receive(on: fd) {
        case .message(let bytes):
            let response = try ControlResponse(decoding: bytes)
            if case .failed(let message) = response { throw BerthError(.invalidState, "service \"\(service.name)\": \(message)") }
            return response
        case .oversized(let length):
            throw BerthError(.system, "service \"\(service.name)\": a \(length)-byte answer is over the protocol's limit")
        case .closed, .wouldBlock:
            throw BerthError(.system, "service \"\(service.name)\": the supervisor closed the connection without answering")
        }
    }

    /// Sends `request` and returns the connection without waiting: the answer arrives on it.
    public static func post(_ request: ControlRequest, to service: ServiceDirectory) throws(BerthError) -> FileDescriptor {
        let fd: FileDescriptor
        do {
            fd = try ControlSocket.connect(to: service.socketPath)
        } catch where error.errno == ENOENT || error.errno == ECONNREFUSED {
            throw BerthError(.invalidState, "service \"\(service.name)\": its supervisor is not running")
        }
        do {
            try ControlSocket.send(request.encoded, on: fd)
        } catch {
            fd.close()
            throw error
        }
        return fd
    }
}

extension BerthError.Code {
    /// A supervisor did not answer in time: it is stopped (SIGSTOP), stuck, or overloaded. The
    /// request is not acted on later: the supervisor drops a request whose client has gone.
    public static let noAnswer = BerthError.Code(rawValue: "no answer")
}
