import CShim
import Glibc
import Linux

/// One client connection and its upstream connection into a container, with a pipe per
/// direction for splice(2).
///
/// Half-close is carried through: when one side shuts its write side (EOF), what it sent is
/// delivered and then the other side's write side is shut, while the opposite direction goes
/// on. A reset on either side resets the other.
final class ForwardedConnection {
    enum Phase { case waiting, connecting, open }

    enum Progress { case going, done, reset }

    /// One direction: `source` → pipe → `destination`.
    struct Direction {
        let pipe: (read: FileDescriptor, write: FileDescriptor)
        /// Bytes in the pipe, not yet written on.
        var pending = 0
        /// The source sent EOF.
        var sourceEnded = false
        /// The destination's write side was shut after the EOF was passed on.
        var shutDown = false

        var finished: Bool { sourceEnded && pending == 0 && shutDown }
    }

    let client: FileDescriptor
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

    init(client: FileDescriptor, port: UInt16, version: Int, giveUpAt: Int64) {
        self.client = client
        self.port = port
        self.version = version
        self.giveUpAt = giveUpAt
    }

    var descriptors: [FileDescriptor] {
        var all = [client]
        if let upstream { all.append(upstream) }
        for direction in [toUpstream, toClient].compactMap({ $0 }) { all += [direction.pipe.read, direction.pipe.write] }
        return all
    }

    /// The upstream connect completed: make the pipes.
    func open() throws(BerthError) {
        let first = try makePipe()
        let second: (read: FileDescriptor, write: FileDescriptor)
        do { second = try makePipe() } catch {
            first.read.close()
            first.write.close()
            throw error
        }
        toUpstream = Direction(pipe: first)
        toClient = Direction(pipe: second)
        phase = .open
    }

    /// What to poll for: readable sources with an empty pipe, writable destinations with
    /// bytes waiting. A descriptor with no interest is left out, so a hung-up socket we have
    /// finished with cannot wake the loop over and over.
    func interest() -> [(Int32, Int16)] {
        switch phase {
        case .waiting: return []
        case .connecting: return upstream.map { [($0.rawValue, Int16(POLLOUT))] } ?? []
        case .open:
            guard let upstream, let toUpstream, let toClient else { return [] }
            var clientEvents: Int16 = 0, upstreamEvents: Int16 = 0
            if !toUpstream.sourceEnded && toUpstream.pending == 0 { clientEvents |= Int16(POLLIN) }
            if toUpstream.pending > 0 { upstreamEvents |= Int16(POLLOUT) }
            if !toClient.sourceEnded && toClient.pending == 0 { upstreamEvents |= Int16(POLLIN) }
            if toClient.pending > 0 { clientEvents |= Int16(POLLOUT) }
            var result: [(Int32, Int16)] = []
            if clientEvents != 0 { result.append((client.rawValue, clientEvents)) }
            if upstreamEvents != 0 { result.append((upstream.rawValue, upstreamEvents)) }
            return result
        }
    }

    /// Moves what can be moved in both directions.
    func pump() -> Progress {
        guard let upstream, var up = toUpstream, var down = toClient else { return .reset }
        defer {
            toUpstream = up
            toClient = down
        }
        guard ForwardedConnection.move(&up, from: client, to: upstream),
              ForwardedConnection.move(&down, from: upstream, to: client) else { return .reset }
        return up.finished && down.finished ? .done : .going
    }

    /// Drains the pipe into `destination`, then refills it from `source`, until either would
    /// block. False on a reset or any other error of either socket.
    private static func move(_ direction: inout Direction, from source: FileDescriptor, to destination: FileDescriptor) -> Bool {
        while true {
            if direction.pending > 0 {
                let written = berth_splice(direction.pipe.read.rawValue, destination.rawValue, UInt(direction.pending))
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
            let read = berth_splice(source.rawValue, direction.pipe.write.rawValue, UInt(chunk))
            if read > 0 {
                direction.pending += read
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
