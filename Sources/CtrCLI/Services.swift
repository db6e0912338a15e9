import BerthCore
import Glibc
import Linux
import SupervisorAPI

/// A service as ctr sees it from disk: its definition, the supervisor's last status, and
/// whether that supervisor still runs. Nothing here talks to a supervisor.
struct ServiceView {
    let directory: ServiceDirectory
    let definition: ServiceDefinition
    /// nil while the supervisor has not written its first status.
    let status: ServiceStatus?

    /// The service called `name`, or a not-found error.
    static func load(_ name: String, in context: CtrContext) throws(BerthError) -> ServiceView {
        try ServiceName.validate(name, label: "service name")
        let directory = context.service(name)
        guard directory.exists else { throw BerthError(.notFound, "no service named \"\(name)\" (see ctr ps -a)") }
        return try ServiceView(directory)
    }

    /// `load`, and when the service's supervisor is gone, a new one adopts the container first:
    /// what commands that act on a service use (ps and inspect only look).
    static func loadAdopting(_ name: String, in context: CtrContext) throws(BerthError) -> ServiceView {
        try load(name, in: context).adoptingIfOrphaned()
    }

    init(_ directory: ServiceDirectory) throws(BerthError) {
        self.directory = directory
        do {
            definition = try directory.loadDefinition()
        } catch where error.errno == ENOENT {
            throw BerthError(.notFound, "service \"\(directory.name)\" is being created or removed")
        }
        // A service.json copied or planted under another name is not this service.
        guard definition.name == directory.name else {
            throw BerthError(.notFound, "\(directory.definitionPath) names service \"\(definition.name)\", not \"\(directory.name)\"")
        }
        // No runtime directory: the machine rebooted (or /run was wiped) since it last ran.
        booted = directory.isSplit && !directory.hasRuntimeState
        status = booted ? nil : try directory.loadStatus()
    }

    /// The service has no runtime state: it has not run since the machine started.
    let booted: Bool

    var name: String { directory.name }

    /// True when status.json says a supervisor should be running but it is not: it was killed.
    var supervisorIsGone: Bool {
        guard let status, status.state.isActive else { return false }
        return !status.supervisorIsAlive
    }

    /// Whether a container may still be running: the supervisor is active, or gone while its
    /// container lives on.
    var isActive: Bool {
        if booted { return false }
        guard let status else { return true }
        if !status.state.isActive { return false }
        return status.supervisorIsAlive || status.containerIsAlive
    }

    /// `running`, `exited (1)`, `restarting`, `paused`... and what is wrong when the supervisor
    /// is gone.
    var displayStatus: String {
        if booted { return isStoppedByUser ? "exited (before boot, stopped)" : "exited (before boot)" }
        guard let status else { return "starting" }
        if supervisorIsGone {
            return status.containerIsAlive ? "running (supervisor gone)" : "unknown (supervisor gone)"
        }
        switch status.state {
        case .exited:
            guard let last = status.lastExit else { return "exited" }
            if last.oomKilled { return "exited (\(last.shellStatus.map(String.init) ?? "?"), oom)" }
            // No status: it never started (an error), or it ended unobserved (adopted, or stopped
            // directly after its supervisor died).
            return last.shellStatus.map { "exited (\($0))" } ?? (last.startedAt == nil ? "exited (error)" : "exited (unknown)")
        case .running:
            switch status.health?.state {
            case nil: return "running"
            case .starting: return "running (health: starting)"
            case .healthy: return "running (healthy)"
            case .unhealthy: return "running (unhealthy)"
            }
        default:
            return status.state.rawValue
        }
    }

    /// A warning for commands that act on a service whose supervisor was killed.
    var supervisorGoneWarning: String {
        "service \"\(name)\": its supervisor (pid \(status?.supervisorPid ?? 0)) is gone; the container was left running without one"
    }

    var isStoppedByUser: Bool { directory.isStoppedByUser }

    /// Every service; one whose files are half written is skipped.
    static func all(in context: CtrContext) -> [ServiceView] {
        ServiceDirectory.all(root: context.root, dataRoot: context.dataRoot).compactMap { try? ServiceView($0) }
    }
}

/// Short human durations: 45s, 3m, 2h, 4d.
func humanDuration(_ seconds: Double) -> String {
    let whole = max(0, Int(seconds))
    if whole < 60 { return "\(whole)s" }
    if whole < 3600 { return "\(whole / 60)m" }
    if whole < 86_400 { return "\(whole / 3600)h" }
    return "\(whole / 86_400)d"
}

func writeOut(_ text: String) throws(BerthError) { try FileDescriptor.standardOutput.writeAll(text) }

func warn(_ text: String) { _ = try? FileDescriptor.standardError.writeAll("ctr: warning: \(text)\n") }
