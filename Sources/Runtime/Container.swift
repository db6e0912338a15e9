import BerthCore
import CShim
import Cgroup2
import Glibc
import Linux
import OCI

/// The OCI state of a container, as `berth state` prints it and hooks read it on stdin.
struct ContainerState {
    var id: String
    var status: ContainerStatus
    var pid: Int32
    var bundle: String
    var annotations: [String: String]

    func json(pretty: Bool = false) throws(BerthError) -> String {
        let state = State(id: id, status: status, pid: status == .stopped ? 0 : Int(pid), bundle: bundle,
                          annotations: annotations.isEmpty ? nil : annotations)
        do { return try encodeJSON(state, pretty: pretty) } catch { throw BerthError(.system, "encoding state: \(error)") }
    }
}

/// Operations on an existing container. Each takes the container's lock for its duration.
public struct Containers {
    public let store: StateStore

    public init(store: StateStore) { self.store = store }

    /// The OCI state JSON of `id`.
    public func state(_ id: String) throws(BerthError) -> String {
        let lock = try store.lock(id)
        defer { lock.close() }
        let record = try store.load(id)
        let status = store.status(of: record, id: id)
        guard let record else {
            return try ContainerState(id: id, status: .creating, pid: 0, bundle: "", annotations: [:]).json(pretty: true)
        }
        let state = State(id: id, status: status, pid: status == .stopped ? 0 : Int(record.pid), bundle: record.bundle,
                          annotations: record.annotations.isEmpty ? nil : record.annotations)
        // The OCI state plus the fields runc adds (and go-runc's State decodes): rootfs, created, owner.
        guard case .object(var members) = try encoded(state) else { throw BerthError(.system, "encoding state: not an object") }
        members += [("rootfs", .string(record.rootfs)), ("created", .string(record.created)), ("owner", .string(""))]
        return JSONValue.object(members).serialized(pretty: true)
    }

    private func encoded(_ state: State) throws(BerthError) -> JSONValue {
        do { return try encodeJSONValue(state) } catch { throw BerthError(.system, "encoding state: \(error)") }
    }

    /// Lets a created container's init exec its process, then runs the poststart hooks.
    public func start(_ id: String) throws(BerthError) {
        let lock = try store.lock(id)
        defer { lock.close() }
        guard var record = try store.load(id) else { throw BerthError(.invalidState, "container \"\(id)\" is still being created") }
        let status = store.status(of: record, id: id)
        guard status == .created else { throw BerthError(.invalidState, "container \"\(id)\" is \(status.rawValue), not created") }
        try openExecFifo(id, pid: record.pid)
        record.started = true
        try store.save(record)
        let state = try ContainerState(id: id, status: .running, pid: record.pid, bundle: record.bundle, annotations: record.annotations).json()
        for hook in record.poststart {
            // A failing poststart hook is reported but does not stop the container (runtime-spec).
            do { try hook.command.run(state: state) } catch { warn("\(error)") }
        }
    }

    /// Opening the fifo for reading releases the init blocked on opening it for writing; the byte
    /// it writes tells us it got past that point.
    private func openExecFifo(_ id: String, pid: Int32) throws(BerthError) {
        let path = store.fifoPath(id)
        let fifo = try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK)
        defer { fifo.close() }
        let pidfd = try? ProcessControl.openPidfd(pid)
        defer { pidfd?.close() }
        while true {
            var entries = [pollfd(fd: fifo.rawValue, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: pidfd?.rawValue ?? -1, events: Int16(POLLIN), revents: 0)]
            _ = try sys("poll") { Glibc.poll(&entries, 2, 1000) }
            if entries[0].revents & Int16(POLLIN) != 0 {
                let bytes = try fifo.read(upTo: 1)
                if bytes == Array("0".utf8) { break }
            }
            if entries[1].revents != 0 || pidfd == nil {
                throw BerthError(.invalidState, "container \"\(id)\": its init exited before start")
            }
        }
        _ = Glibc.unlink(path)
    }

    /// Sends `signal` to the init, or with `all` to every process of the container. As runc:
    /// `all` on a stopped container signals what is left in its cgroup and is not an error; a
    /// stopped container's init cannot be signalled, and the error says "container not running",
    /// which containerd's shim takes to mean "already finished". SIGKILL of a container without
    /// a pid namespace of its own kills its whole cgroup, init gone or not, as runc 1.2 does:
    /// only the death of a namespace's init takes the other processes with it.
    public func kill(_ id: String, signal: Int32, all: Bool) throws(BerthError) {
        let lock = try store.lock(id)
        defer { lock.close() }
        guard let record = try store.load(id) else { throw BerthError(.invalidState, "container \"\(id)\" is still being created") }
        let status = store.status(of: record, id: id)
        let cgroup = record.cgroup.map { Cgroup(root: $0.root, path: $0.path) }
        if all, let cgroup {
            guard cgroup.exists else { return }
            if signal == SIGKILL { try cgroup.killAll() } else { cgroup.signalAll(signal) }
            return
        }
        if signal == SIGKILL, let cgroup, cgroup.exists, !cgroup.processes().isEmpty, !hasOwnPidNamespace(id) {
            try cgroup.killAll()
            return
        }
        guard status != .stopped || all else { throw BerthError(.invalidState, "container \"\(id)\" is stopped: container not running") }
        if status == .stopped { return }
        // A pidfd checked against the recorded start time cannot hit a recycled pid.
        let pidfd = try ProcessControl.openPidfd(record.pid)
        defer { pidfd.close() }
        guard ProcessControl.startTime(record.pid) == record.pidStartTime else {
            throw BerthError(.invalidState, "container \"\(id)\" is stopped: container not running")
        }
        try ProcessControl.signal(pidfd: pidfd, signal)
    }

    /// True when the container's config asks for a new pid namespace. A config that cannot be
    /// read counts as one: an unreadable file must not widen a kill to the whole cgroup.
    private func hasOwnPidNamespace(_ id: String) -> Bool {
        guard let spec = try? Exec.containerSpec(store: store, id: id) else { return true }
        return spec.linux?.namespaces?.contains { $0.type == .pid && ($0.path ?? "").isEmpty } ?? false
    }

    /// Removes a stopped or created container (as runc, a created one's init is killed: it has
    /// run nothing of the user's yet); with `force` kills a live one first. Runs poststop hooks.
    public func delete(_ id: String, force: Bool) throws(BerthError) {
        let lock = try store.lock(id)
        defer { lock.close() }
        let record = try store.load(id)
        let status = store.status(of: record, id: id)
        if status != .stopped && status != .created && !force {
            throw BerthError(.invalidState, "container \"\(id)\" is \(status.rawValue): stop it first or use --force")
        }
        if let record {
            if let location = record.cgroup {
                let cgroup = Cgroup(root: location.root, path: location.path)
                try removeContainerCgroup(cgroup, created: record.cgroupCreated, id: id)
            } else if status != .stopped, let pidfd = try? ProcessControl.openPidfd(record.pid) {
                try? ProcessControl.signal(pidfd: pidfd, SIGKILL)
                _ = try? ProcessControl.waitReadable(pidfd, milliseconds: 10_000)
                pidfd.close()
            }
            if let group = record.resctrlGroup { Resctrl.remove(group) }
            let state = try ContainerState(id: id, status: .stopped, pid: 0, bundle: record.bundle, annotations: record.annotations).json()
            for hook in record.poststop {
                // poststop failures are logged and ignored, as the runtime-spec says.
                do { try hook.command.run(state: state) } catch { warn("\(error)") }
            }
        }
        store.remove(id)
    }

    /// The records of every container, with their status.
    public func list() -> [(record: ContainerRecord?, id: String, status: ContainerStatus)] {
        store.list().map { id in
            let record = try? store.load(id)
            return (record ?? nil, id, store.status(of: record ?? nil, id: id))
        }
    }
}

/// Warnings go to stderr (and the log file, through the CLI's handler).
public nonisolated(unsafe) var warningHandler: (String) -> Void = { message in
    _ = try? FileDescriptor.standardError.writeAll("berth: warning: \(message)\n")
}

func warn(_ message: String) { warningHandler(message) }
