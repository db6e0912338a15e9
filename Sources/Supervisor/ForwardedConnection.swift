import CShim
import Glibc
import Linux

/// One client connection and its upstream connection into a container; a direction whose
/// destination falls behind gets a pipe that holds the backlog in the kernel.
///
/// Half-close is carried through: when one side shuts its write side (EOF), what it sent is
/// delivered and then the other side's write side is shut, while the opposite direction goes
/// on. A reset on either side resets the other.
final class ForwardedConnection {
    enum Phase { case waiting, connecting, open }

    enum Progress { case going, done, reset }

    /// One direction: `source` → (pipe, when the destination is behind) → `destination`.
    struct Direction {
        /// Made the first time the destination cannot take everything at once.
        var pipe: (read: FileDescriptor, write: FileDescriptor)?
        /// Bytes in the pipe, not yet written on.
        var pending = 0
        /// The source sent EOF.
        var sourceEnded = false
        /// The destination's write side was shut after the EOF was passed on.
        var shutDown = false

        var finished: Bool { sourceEnded && pending == 0 && shutDown }
    }

    let client: FileDescriptor
    /// What epoll reports for its sockets.
    let token: UInt64
    var upstream: FileDescriptor?
    /// The container port to connect to.
    let port: UInt16
    /// The version it was (or will be) connected to; -1 before a target exists.
    var version: Int
    var phase = Phase.waiting
    /// When to try connecting again.
    var retryDue: Int64?
    /// When to stop retrying and reset the client.
    let giveUpAt: Int64
    private var toUpstream: Direction?
    private var toClient: Direction?

    /// Splice at most this much per call: the pipe's default capacity.
    static let chunk = 1 << 16

    init(client: FileDescriptor, token: UInt64, port: UInt16, version: Int, giveUpAt: Int64) {
        self.client = client
        self.token = token
        self.port = port
        self.version = version
        self.giveUpAt = giveUpAt
    }

    var descriptors: [FileDescriptor] {
        var all = [client]
        if let upstream { all.append(upstream) }
        for pipe in [toUpstream?.pipe, toClient?.pipe].compactMap({ $0 }) { all += [pipe.read, pipe.write] }
        return all
    }

    /// The upstream connect completed.
    func open() {
        toUpstream = Direction()
        toClient = Direction()
        phase = .open
    }

    /// Moves what can be moved in both directions.
    func pump(scratch: UnsafeMutableRawBufferPointer) -> Progress {
        guard let upstream, var up = toUpstream, var down = toClient else { return .reset }
        defer {
            toUpstream = up
            toClient = down
        }
        guard ForwardedConnection.move(&up, from: client, to: upstream, scratch: scratch),
              ForwardedConnection.move(&down, from: upstream, to: client, scratch: scratch) else { return .reset }
        return up.finished && down.finished ? .done : .going
    }

    /// Drains the pipe into `destination`, then moves what `source` has, until either would
    /// block. False on a reset or any other error of either socket.
    ///
    /// What arrives is received into the forwarder's scratch buffer and sent on at once: for the
    /// small messages of request/response traffic a copy costs the kernel less than splice's two
    /// calls through a pipe. Only what the destination cannot take now goes into the pipe, which
    /// then holds it in kernel memory (no per-connection buffer in the supervisor) and is
    /// drained with splice; nothing more is read from the source until it is empty.
    private static func move(_ direction: inout Direction, from source: FileDescriptor, to destination: FileDescriptor,
                             scratch: UnsafeMutableRawBufferPointer) -> Bool {
        while true {
            if direction.pending > 0 {
                guard let pipe = direction.pipe else { return false }
                let written = berth_splice(pipe.read.rawValue, destination.rawValue, UInt(direction.pending))
                if written > 0 {
                    direction.pending -= written
                    continue
                }
                return written < 0 && (Glibc.errno == EAGAIN || Glibc.errno == EINTR)
            }
            if direction.sourceEnded {
                if !direction.shutDown {
                    direction.shutDown = true
                    // ENOTCONN: the destination is gone already; its own EOF or error ends it.
                    _ = Glibc.shutdown(destination.rawValue, Int32(SHUT_WR))
                }
                return true
            }
            let read = Glibc.recv(source.rawValue, scratch.baseAddress, min(scratch.count, chunk), Int32(MSG_DONTWAIT))
            if read > 0 {
                let sent = Glibc.send(destination.rawValue, scratch.baseAddress, read, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
                if sent == read { continue }
                if sent < 0 && Glibc.errno != EAGAIN && Glibc.errno != EINTR { return false }
                let done = max(sent, 0)
                if direction.pipe == nil { direction.pipe = try? makePipe() }
                guard let pipe = direction.pipe else { return false }
                // The pipe is empty here and holds `chunk` bytes, so this takes the whole rest.
                let queued = Glibc.write(pipe.write.rawValue, scratch.baseAddress.map { $0 + done }, read - done)
                guard queued == read - done else { return false }
                direction.pending = queued
            } else if read == 0 {
                direction.sourceEnded = true
            } else {
                return Glibc.errno == EAGAIN || Glibc.errno == EINTR
            }
        }
    }

    /// Closes everything; with `reset`, both sockets send a reset rather than a FIN, so neither
    /// peer mistakes a broken forward for a clean end.
    func close(reset: Bool) {
        if reset {
            _ = berth_socket_reset_on_close(client.rawValue)
            if let upstream { _ = berth_socket_reset_on_close(upstream.rawValue) }
        }
        for fd in descriptors { fd.close() }
        upstream = nil
        toUpstream = nil
        toClient = nil
    }
}
