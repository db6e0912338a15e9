import BerthCore
import CommandLineFlags
import CShim
import Glibc
import Linux
import OCI
import Runtime
import Seccomp
import Supervisor
import SupervisorAPI

/// `ctr start NAME...`: a service that has ended comes back with its definition: the same
/// config.json (command, limits, mounts), ports, restart policy and log.
enum StartCommand: CtrCommand {
    static let summary = "start services that have ended, with the flags they were run with"
    static let usage = """
    usage: ctr start NAME...

    Starts each stopped service again under a new supervisor, from its saved definition: the
    same command, limits, mounts, ports, restart policy and log (new output is appended). The
    exit history goes on. A running service is refused. Prints each name started.

    examples:
      ctr stop web
      ctr start web

    """

    static let flags: [Flag] = []

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        return try forEach(parsed.names(command: "start"), context) { (view) throws(BerthError) in try start(view, context) }
    }

    /// Starts an ended service again. Under the service directory's lock, so that two commands
    /// at once start one supervisor; a service found active is refused.
    static func start(_ view: ServiceView, _ context: CtrContext) throws(BerthError) {
        let directory = view.directory
        let lock = try directory.lockPersistent()
        defer { lock.close() }
        let current = try ServiceView(directory)
        guard !current.isActive else {
            throw BerthError(.invalidState, "service \"\(view.name)\" is \(current.displayStatus); ctr restart \(view.name) stops and starts it")
        }
        let definition = current.definition
        let configBytes = try Files.read(directory.configPath)
        let spec: Spec
        do { spec = try decodeJSON(Spec.self, from: configBytes) } catch { throw BerthError(.invalidConfig, "\(directory.configPath): \(error)") }
        let plan: LaunchPlan
        do {
            plan = try LaunchPlan(spec: spec, id: definition.id, bundle: definition.bundle, seccompCache: SeccompCache(stateRoot: context.root))
        } catch {
            throw error.prefixed("start \(view.name)")
        }
        if plan.rootless == nil { try ServiceSpec.makeCgroupParent(controllers: plan.resources.controllers) }
        // What the last run may have left: its supervisor's last steps, a container a supervisor
        // that died mid-way did not remove.
        StopCommand.waitForSupervisorExit(current)
        try directory.makeRuntimeDirectory()
        try OrphanedService(view: current).removeContainer()
        directory.clearStoppedByUser()
        if definition.hasStdin && Glibc.mkfifo(directory.stdinFifoPath, 0o600) != 0 && Glibc.errno != EEXIST {
            // Nobody writes into it now: the container reads end of file.
            throw BerthError(.system, "mkfifo \(directory.stdinFifoPath)", errno: Glibc.errno)
        }
        let started = try SupervisorProcess.startAgain(service: directory, definition: definition, plan: plan, configBytes: configBytes,
                                                       history: current.status?.exits ?? [])
        started.channel.close()
    }
}

/// `ctr restart [-t SECONDS] NAME...`: stop (as ctr stop) if running, then start (as ctr start).
enum RestartCommand: CtrCommand {
    static let summary = "stop services (if running) and start them again with their definition"
    static let usage = """
    usage: ctr restart [-t SECONDS] NAME...

    Stops each running service as ctr stop does (SIGTERM, then after the grace period the
    kill), then starts it again as ctr start does. A service that has ended is just started.
    Prints each name restarted.

    flags:
      -t, --time SECONDS   grace period before the kill (default 10; 0 kills at once)

    examples:
      ctr restart web
      ctr restart -t 2 web worker

    """

    static let flags: [Flag] = [.value("t", "time")]

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let timeout = try parsed.value("time").map { (text) throws(BerthError) in try FlagValues.seconds(text, flag: "--time") }
            ?? StopCommand.defaultTimeout
        return try forEach(parsed.names(command: "restart"), context) { (view) throws(BerthError) in
            if view.isActive, case let failure?? = StopCommand.stop([view], timeoutSeconds: timeout).first?.1 { throw failure }
            try StartCommand.start(try ServiceView(view.directory), context)
        }
    }
}

extension ServiceDirectory {
    /// An exclusive flock on the persistent directory, which every service has (its runtime one
    /// may be gone): starting, booting and renaming take it, so that two at once do one thing.
    func lockPersistent() throws(BerthError) -> FileDescriptor {
        let lock = try FileDescriptor.open(dataPath, O_RDONLY | O_DIRECTORY)
        guard berth_flock(lock.rawValue, LOCK_EX) == 0 else {
            let code = Glibc.errno
            lock.close()
            throw BerthError(.system, "flock \(dataPath)", errno: code)
        }
        return lock
    }
}
