import BerthCore
import CShim
import Glibc
import Linux
import SupervisorAPI

/// The published ports of a service: listening sockets in the host's network namespace, and
/// every accepted connection spliced to the active version's container port.
///
/// It is driven by the supervisor's poll loop: `watch` adds the listeners and one epoll
/// descriptor, `handle` takes the results, `nextDeadline`/`fireTimers` run connect retries.
/// The connections' sockets live in the epoll set, edge-triggered and registered once: a busy
/// service's loop turn costs the ready connections, not a pollfd per socket. Swift never looks
/// at the bytes: each is received into one scratch buffer and sent on by the kernel, and what
/// a slow destination cannot take waits in a pipe, drained with splice(2).
///
/// A connection stays with the version it was opened to for its whole life; `target` only
/// decides where new connections go. That is the whole hand-off guarantee on this side.
final class PortForwarder {
    /// Where new connections go: `version` tags them (for counting and draining), `netns` is the
    /// container's network namespace, nil for a container sharing the host's.
    struct Target {
        var version: Int
        var netns: FileDescriptor?
    }

    struct Listener {
        let fd: FileDescriptor
        let mapping: PortMapping
    }

    private(set) var listeners: [Listener]
    var target: Target? {
        didSet { if target != nil { retryWaitingNow() } }
    }
    /// By token, the number their sockets are registered with in `epoll`.
    private var connections: [UInt64: ForwardedConnection] = [:]
    private var nextToken: UInt64 = 1
    private let epoll: FileDescriptor
    private let hostNetns: FileDescriptor
    /// Where a connection's bytes pass through on their way (see ForwardedConnection.move);
    /// one for all, since the loop serves one connection at a time.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: ForwardedConnection.chunk, alignment: 16)

    /// A connection refused by the container (it is starting, or restarting) is retried this
    /// often, for at most `connectWindow`; with no target at all it waits the same window.
    static let retryNanoseconds: Int64 = 50_000_000
    static let connectWindowNanoseconds: Int64 = 10_000_000_000
    /// Beyond this the listeners are not polled: the kernel's backlog holds the rest.
    static let maximumConnections = 4096
    static let backlog: Int32 = 1024

    /// Binds every mapping. Fails naming the first port that cannot be had, closing the others.
    static func bind(_ mappings: [PortMapping]) throws(BerthError) -> [Listener] {
        var bound: [Listener] = []
        for mapping in mappings {
            do {
                let fd = try sys("bind", "\(mapping.address):\(mapping.hostPort)") {
                    berth_tcp_listen(mapping.address, Int32(mapping.hostPort), PortForwarder.backlog)
                }
                bound.append(Listener(fd: FileDescriptor(rawValue: fd), mapping: mapping))
            } catch {
                for listener in bound { listener.fd.close() }
                throw BerthError(.invalidArgument, "flag -p \(mapping.hostPort):\(mapping.containerPort): cannot listen on \(mapping.address):\(mapping.hostPort): \(errnoDescription(error.errno))")
            }
        }
        return bound
    }

    init(listeners: [Listener]) throws(BerthError) {
        self.listeners = listeners
        epoll = FileDescriptor(rawValue: try sys("epoll_create1") { berth_epoll_create() })
        do { hostNetns = try FileDescriptor.open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC) } catch {
            epoll.close()
            throw error
        }
        PortForwarder.raiseDescriptorLimit()
    }

    /// Each connection holds up to six descriptors (two sockets, and a pipe per direction that
    /// fell behind); the usual soft limit of 1024 would cap a service at about 170 connections.
    private static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = min(limit.rlim_max, 1 << 16)
        _ = setrlimit(RLIMIT_NOFILE_VALUE, &limit)
    }

    /// Open connections to `version`.
    func connectionCount(version: Int) -> Int { connections.values.count { $0.version == version } }

    var connectionCount: Int { connections.count }

    // MARK: the loop

    func watch(_ entries: inout [pollfd]) {
        if connections.count < PortForwarder.maximumConnections {
            for listener in listeners { entries.append(pollfd(fd: listener.fd.rawValue, events: Int16(POLLIN), revents: 0)) }
        }
        entries.append(pollfd(fd: epoll.rawValue, events: Int16(POLLIN), revents: 0))
    }

    /// How many rounds of ready connections one loop turn serves before the rest of the
    /// supervisor (signals, control requests, logs) gets its turn.
    static let roundsPerTurn = 8

    /// Acts on the entries `watch` added (others are ignored).
    func handle(_ entries: some Sequence<pollfd>) {
        var acceptOn: [Listener] = []
        var connectionsReady = false
        for entry in entries where entry.revents != 0 {
            if entry.fd == epoll.rawValue {
                connectionsReady = true
            } else if let listener = listeners.first(where: { $0.fd.rawValue == entry.fd }) {
                acceptOn.append(listener)
            }
        }
        if connectionsReady { serveReadyConnections() }
        for listener in acceptOn { accept(on: listener) }
    }

    /// Advances every connection epoll reports, for a few rounds while there are any: a reply
    /// often arrives while the request's round is still being served.
    private func serveReadyConnections() {
        var tokens = [UInt64](repeating: 0, count: 64)
        for _ in 0..<PortForwarder.roundsPerTurn {
            let ready = Int(berth_epoll_wait(epoll.rawValue, &tokens, Int32(tokens.count)))
            guard ready > 0 else { return }
            for token in tokens.prefix(ready) {
                // Gone already when an earlier event of this round finished it.
                if let connection = connections[token] { advance(connection) }
            }
        }
    }

    func nextDeadline() -> Int64? { connections.values.compactMap(\.retryDue).min() }

    func fireTimers(now: Int64) {
        for connection in connections.values where (connection.retryDue ?? .max) <= now { advance(connection) }
    }

    /// Closes every listener and connection (the service has ended).
    func closeAll() {
        for connection in connections.values { finish(connection, reset: true) }
        for listener in listeners { listener.fd.close() }
        listeners = []
        epoll.close()
        hostNetns.close()
    }

    deinit { scratch.deallocate() }

    /// Resets every connection to `version` (its drain deadline passed).
    func resetConnections(version: Int) {
        for connection in connections.values where connection.version == version { finish(connection, reset: true) }
    }

    /// Edge-triggered for everything: `advance` always moves a connection as far as it goes
    /// (until EAGAIN), so a new edge is the only news worth waking for.
    private func register(_ fd: FileDescriptor, _ connection: ForwardedConnection) throws(BerthError) {
        try sys("epoll_ctl") { berth_epoll_add_edge(epoll.rawValue, fd.rawValue, connection.token) }
    }

    // MARK: connections

    private func accept(on listener: Listener) {
        while connections.count < PortForwarder.maximumConnections {
            let fd = berth_tcp_accept(listener.fd.rawValue)
            guard fd >= 0 else {
                let code = Glibc.errno
                // Out of descriptors or memory: the backlog keeps them until the next turn.
                if code != EAGAIN && code != EINTR && code != ECONNABORTED { SupervisorLog.warn("accept on port \(listener.mapping.hostPort): \(errnoDescription(code))") }
                if code == EINTR || code == ECONNABORTED { continue }
                return
            }
            let connection = ForwardedConnection(client: FileDescriptor(rawValue: fd), token: nextToken, port: listener.mapping.containerPort,
                                                  version: target?.version ?? -1,
                                                  giveUpAt: monotonicNanoseconds() + PortForwarder.connectWindowNanoseconds)
            nextToken += 1
            connections[connection.token] = connection
            do { try register(connection.client, connection) } catch {
                SupervisorLog.warn("forwarding: \(error)")
                finish(connection, reset: true)
                continue
            }
            advance(connection)
        }
    }

    /// Moves a connection on as far as it goes without blocking.
    private func advance(_ connection: ForwardedConnection) {
        switch connection.phase {
        case .waiting: connect(connection)
        case .connecting: finishConnect(connection)
        case .open:
            switch connection.pump(scratch: scratch) {
            case .going: break
            case .done: finish(connection, reset: false)
            case .reset: finish(connection, reset: true)
            }
        }
    }

    private func connect(_ connection: ForwardedConnection) {
        guard let target else { return scheduleRetry(connection) }
        connection.retryDue = nil
        connection.version = target.version
        do {
            let upstream = try openUpstream(target, port: connection.port)
            connection.upstream = upstream
            try register(upstream, connection)
            connection.phase = .connecting
            finishConnect(connection)
        } catch where error.errno == ECONNREFUSED {
            scheduleRetry(connection)
        } catch {
            SupervisorLog.warn("forwarding to port \(connection.port): \(error)")
            finish(connection, reset: true)
        }
    }

    /// Nobody listens yet (the app is starting, or restarting): tried again shortly, within the
    /// window, against whatever version is active by then.
    private func scheduleRetry(_ connection: ForwardedConnection) {
        let now = monotonicNanoseconds()
        if now >= connection.giveUpAt { finish(connection, reset: true) } else { connection.retryDue = now + PortForwarder.retryNanoseconds }
    }

    /// A socket in the container's network namespace: the namespace is entered only around
    /// socket(2), which fixes a socket's namespace for life. The supervisor is single-threaded,
    /// so nothing else runs in the container's namespace meanwhile.
    func openUpstream(_ target: Target, port: UInt16) throws(BerthError) -> FileDescriptor {
        if let netns = target.netns {
            try sys("setns", "container network namespace") { berth_setns(netns.rawValue, CLONE_NEWNET_VALUE) }
        }
        defer {
            if target.netns != nil, berth_setns(hostNetns.rawValue, CLONE_NEWNET_VALUE) != 0 {
                // Staying in a container's namespace would bind nothing wrong (listeners are
                // already bound) but would send the next version's connections astray.
                SupervisorLog.warn("setns back to the host network namespace: \(errnoDescription(Glibc.errno))")
            }
        }
        let fd = try sys("connect", "127.0.0.1:\(port)") { berth_tcp_connect("127.0.0.1", Int32(port)) }
        return FileDescriptor(rawValue: fd)
    }

    /// Sets the loopback of `pid`'s network namespace up; nothing when it is the host's.
    static func bringUpLoopback(of pid: pid_t) throws(BerthError) {
        guard let netns = VersionRun.networkNamespace(of: pid) else { return }
        defer { netns.close() }
        let own = try FileDescriptor.open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        defer { own.close() }
        try sys("setns", "/proc/\(pid)/ns/net") { berth_setns(netns.rawValue, CLONE_NEWNET_VALUE) }
        defer { _ = berth_setns(own.rawValue, CLONE_NEWNET_VALUE) }
        try sys("ioctl SIOCSIFFLAGS", "lo") { berth_interface_up("lo") }
    }

    enum ConnectOutcome { case pending, connected, failed }

    /// Where a non-blocking connect stands, without waiting.
    static func connectOutcome(_ socket: FileDescriptor) -> ConnectOutcome {
        let error = berth_socket_error(socket.rawValue)
        if error != 0 { return .failed }
        var writable = pollfd(fd: socket.rawValue, events: Int16(POLLOUT), revents: 0)
        guard Glibc.poll(&writable, 1, 0) == 1 else { return .pending }
        return berth_socket_error(socket.rawValue) == 0 ? .connected : .failed
    }

    private func finishConnect(_ connection: ForwardedConnection) {
        guard let upstream = connection.upstream else { return }
        let error = berth_socket_error(upstream.rawValue)
        var writable = pollfd(fd: upstream.rawValue, events: Int16(POLLOUT), revents: 0)
        if error == 0 {
            guard Glibc.poll(&writable, 1, 0) == 1 else { return }
            if berth_socket_error(upstream.rawValue) == 0 {
                connection.open()
                advance(connection)
                return
            }
        }
        upstream.close()
        connection.upstream = nil
        connection.phase = .waiting
        scheduleRetry(connection)
    }

    private func retryWaitingNow() {
        for connection in connections.values where connection.phase == .waiting { connect(connection) }
    }

    private func finish(_ connection: ForwardedConnection, reset: Bool) {
        // Closing the sockets takes them out of the epoll set too (nothing else holds them).
        connection.close(reset: reset)
        connections[connection.token] = nil
    }
}

private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
private let CLONE_NEWNET_VALUE: Int32 = 0x4000_0000
