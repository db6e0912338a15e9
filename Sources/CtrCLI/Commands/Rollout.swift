import BerthCore
import CommandLineFlags
import Glibc
import Linux
import OCI
import Runtime
import Seccomp
import SupervisorAPI

/// `ctr rollout NAME [--rootfs DIR | --bundle DIR] [flags] [-- CMD ARGS...]`: replace a running
/// service with a new version without dropping a connection; `--status` shows the versions.
enum RolloutCommand: CtrCommand {
    static let summary = "replace a service with a new version, without dropping a connection"
    static let usage = """
    usage: ctr rollout NAME [--rootfs DIR | --bundle DIR] [flags] [-- CMD ARGS...]
           ctr rollout NAME --status

    Starts the new version beside the running one, with the same limits, ports and
    environment (a --bundle brings its own config; the service's limits fill in what it does
    not set). Once it is ready (its health check passes; without one, its first published port
    accepts a connection; a --listen service without a health check: it stays up for 1 s),
    every new connection goes to it, while connections already open stay with the old
    version, which is stopped once they have closed or --drain-timeout has passed. A new
    version that exits or is not ready in time is removed: the old one never stops serving,
    and ctr exits with status 1 and the reason.

    flags:
      --rootfs DIR             the new version's root filesystem
      --bundle DIR             the new version's OCI bundle (config.json and rootfs)
      --ready-timeout D        how long the new version has to become ready (default 30s)
      --drain-timeout D        how long the old version keeps its connections (default 5m)
      --drain-signal SIG       what tells a --listen service's old version to stop accepting
                               (default TERM)
      --status                 show the versions, their connections and their states

    examples:
      ctr rollout web --rootfs ./webapp/v2/rootfs
      ctr rollout web --bundle ./web-v2 --ready-timeout 1m --drain-timeout 30s
      ctr rollout web --status
      ctr rollback web

    """

    static let flags: [Flag] = [
        .value("rootfs"), .value("bundle"), .value("ready-timeout"), .value("drain-timeout"), .value("drain-signal"),
        .boolean("status"),
    ]
    static let operands = Operands.nameThenCommand

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        // Flags may follow the name; the new command comes after --.
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        guard let name = parsed.positionals.first else {
            throw BerthError(.invalidArgument, "rollout: expects a service name (see ctr rollout --help)")
        }
        let command = Array(parsed.positionals.dropFirst())
        if parsed.flag("status") {
            guard command.isEmpty, parsed.value("rootfs") == nil, parsed.value("bundle") == nil else {
                throw BerthError(.invalidArgument, "flag --status: takes only the service name (e.g. ctr rollout web --status)")
            }
            return try showStatus(name, context)
        }
        if parsed.value("rootfs") != nil && parsed.value("bundle") != nil {
            throw BerthError(.invalidArgument, "flag --bundle: give --rootfs or --bundle, not both (e.g. ctr rollout web --rootfs ./v2/rootfs)")
        }
        let timing = try Timing(parsed)
        let view = try ServiceView.loadAdopting(name, in: context)
        var spec = try currentSpec(view)
        let source: String, bundle: String, rootfs: String
        if let path = parsed.value("bundle") {
            let base = try ServiceSpec.base(source: try absolutePath(path))
            guard let bundleDirectory = base.bundle else {
                throw BerthError(.invalidArgument, "flag --bundle: \(path) has no config.json (for a plain root filesystem use --rootfs)")
            }
            var bundled = base.spec
            var linux = bundled.linux ?? LinuxConfig()
            if linux.resources == nil { linux.resources = spec.linux?.resources }
            bundled.linux = linux
            let environment = FlagValues.mergeEnvironment(bundled.process?.env ?? [], activationEnvironment(spec))
            bundled.process?.env = environment
            spec = bundled
            (source, bundle, rootfs) = (bundleDirectory, bundleDirectory, base.rootfs)
        } else if let path = parsed.value("rootfs") {
            let directory = try absolutePath(path)
            guard Files.isDirectory(directory) else { throw BerthError(.invalidArgument, "flag --rootfs: \(path) is not a directory") }
            spec.root = Root(path: directory, readonly: spec.root?.readonly)
            (source, bundle, rootfs) = (directory, view.definition.bundle, directory)
        } else {
            guard !command.isEmpty else {
                throw BerthError(.invalidArgument, "rollout: give --rootfs, --bundle or a new command (e.g. ctr rollout web --rootfs ./v2/rootfs)")
            }
            (source, bundle, rootfs) = (view.definition.source, view.definition.bundle, view.definition.rootfs)
        }
        if !command.isEmpty { spec.process?.args = command }
        let number = (view.status?.version ?? 1) + 1
        let version = ServiceVersion(number: number, id: try RunCommand.randomID(), source: source, bundle: bundle, rootfs: rootfs,
                                     command: spec.process?.args ?? [])
        return try roll(view, to: version, spec: spec, timing: timing, context)
    }

    /// The rollout's timeouts and signal.
    struct Timing {
        var ready = RolloutRequest.defaultReadyTimeout
        var drain = RolloutRequest.defaultDrainTimeout
        var signal = SIGTERM

        init(_ parsed: Arguments) throws(BerthError) {
            if let text = parsed.value("ready-timeout") { ready = Int(try FlagValues.duration(text, flag: "--ready-timeout", example: "30s")) }
            if let text = parsed.value("drain-timeout") {
                drain = Int(try FlagValues.duration(text, flag: "--drain-timeout", minimum: 0, example: "5m"))
            }
            if let text = parsed.value("drain-signal") { signal = try FlagValues.signal(text, flag: "--drain-signal") }
        }
    }

    /// Validates the new version's config, hands it to the supervisor and waits for the outcome.
    static func roll(_ view: ServiceView, to version: ServiceVersion, spec: Spec, timing: Timing, _ context: CtrContext) throws(BerthError) -> Int32 {
        var spec = spec
        var linux = spec.linux ?? LinuxConfig()
        // Each version is a container of its own, in a cgroup of its own.
        if linux.cgroupsPath?.hasPrefix(ServiceSpec.cgroupParent + "/") ?? true {
            linux.cgroupsPath = ServiceSpec.cgroupParent + "/" + version.id
        }
        spec.linux = linux
        do {
            _ = try LaunchPlan(spec: spec, id: version.id, bundle: version.bundle, seccompCache: SeccompCache(stateRoot: context.root))
        } catch {
            throw error.prefixed("rollout")
        }
        let bytes: [UInt8]
        do { bytes = try encodeJSONBytes(spec, pretty: true) } catch { throw BerthError(.system, "encoding the new config: \(error)") }
        try Files.writeAtomically(view.directory.nextConfigPath, bytes, mode: 0o600)
        let request = RolloutRequest(version: version, readyTimeout: timing.ready, drainTimeout: timing.drain, drainSignal: timing.signal)
        let answer: ControlResponse
        do {
            answer = try ControlClient.send(.rollout(request), to: view.directory, timeoutMilliseconds: Int32(clamping: timing.ready + 30_000))
        } catch {
            throw BerthError(.invalidState, "rollout of \(view.name) to version \(version.number) failed: \(error.message)")
        }
        guard case .status(let status) = answer else { throw BerthError(.system, "rollout: unexpected answer from the supervisor") }
        var line = "\(view.name): version \(version.number) (\(version.id)) serves new connections"
        for other in status.others ?? [] where other.role == .draining {
            line += "; version \(other.version.number) drains \(other.connections.map { "\($0) connection\($0 == 1 ? "" : "s")" } ?? "its connections")"
        }
        try writeOut(line + "\n")
        return 0
    }

    /// The active version's config, which the new one starts from.
    static func currentSpec(_ view: ServiceView) throws(BerthError) -> Spec {
        do { return try decodeJSON(Spec.self, from: try Files.read(view.directory.configPath)) } catch {
            throw BerthError(.system, "\(view.directory.configPath): \(error)")
        }
    }

    /// LISTEN_FDS and LISTEN_PID of a --listen service, which any new version needs too.
    static func activationEnvironment(_ spec: Spec) -> [String] {
        (spec.process?.env ?? []).filter { $0.hasPrefix("LISTEN_FDS=") || $0.hasPrefix("LISTEN_PID=") }
    }

    static func showStatus(_ name: String, _ context: CtrContext) throws(BerthError) -> Int32 {
        let view = try ServiceView.loadAdopting(name, in: context)
        guard case .status(let status) = try ControlClient.send(.status, to: view.directory, timeoutMilliseconds: 10_000) else {
            throw BerthError(.system, "rollout: unexpected answer from the supervisor")
        }
        let definition = try view.directory.loadDefinition()
        var rows = [["VERSION", "ID", "ROLE", "STATE", "PID", "CONNECTIONS", "SOURCE"]]
        let connections: (Int?) -> String = { count in count.map(String.init) ?? "-" }
        rows.append([String(status.version ?? 1), definition.id, "active", status.state.rawValue, status.pid > 0 ? String(status.pid) : "-",
                     connections(status.connections), definition.source])
        for other in status.others ?? [] {
            rows.append([String(other.version.number), other.version.id, other.role.rawValue, "running", String(other.pid),
                         connections(other.connections), other.version.source])
        }
        if let previous = try view.directory.loadPreviousVersion() {
            rows.append([String(previous.number), previous.id, "previous", "kept for rollback", "-", "-", previous.source])
        }
        try writeOut(formatTable(rows))
        return 0
    }
}

/// `ctr rollback NAME`: a rollout back to the version before the last one, while it is kept.
enum RollbackCommand: CtrCommand {
    static let summary = "return a service to its previous version, the way rollout does"
    static let usage = """
    usage: ctr rollback NAME [--ready-timeout D] [--drain-timeout D] [--drain-signal SIG]

    Starts the version the last rollout replaced (its config is kept in the service
    directory) as a new version, and hands over to it exactly as ctr rollout does.

    examples:
      ctr rollback web

    """

    static let flags = RolloutCommand.flags.filter { ["ready-timeout", "drain-timeout", "drain-signal"].contains($0.name) }

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let name = try parsed.name(command: "rollback")
        let timing = try RolloutCommand.Timing(parsed)
        let view = try ServiceView.loadAdopting(name, in: context)
        guard let previous = try view.directory.loadPreviousVersion(), Files.exists(view.directory.previousConfigPath) else {
            throw BerthError(.notFound, "rollback: service \"\(name)\" has no previous version (it was never rolled out)")
        }
        let spec: Spec
        do { spec = try decodeJSON(Spec.self, from: try Files.read(view.directory.previousConfigPath)) } catch {
            throw BerthError(.system, "\(view.directory.previousConfigPath): \(error)")
        }
        var version = previous
        version.number = (view.status?.version ?? 1) + 1
        version.id = try RunCommand.randomID()
        return try RolloutCommand.roll(view, to: version, spec: spec, timing: timing, context)
    }
}
