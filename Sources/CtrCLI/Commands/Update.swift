import BerthCore
import CommandLineFlags
import Linux
import OCI
import SupervisorAPI

/// `ctr update [limit flags] NAME...`: new limits for running services, live.
enum UpdateCommand: CtrCommand {
    static let summary = "change a running service's limits, live and for its restarts"
    static let usage = """
    usage: ctr update [-m SIZE] [--memory-high SIZE] [--memory-swap SIZE] [--cpus N] [--cpu-weight N]
                      [--cpuset-cpus LIST] [--pids-limit N] [--io-weight N] [--io-max DEV:K=V,...] NAME...

    Changes the limits of running containers at once, through their supervisors, which keep the
    new values for restarts. Limits not given stay as they are. A value the kernel refuses (a
    memory limit below what the container uses and cannot reclaim) changes nothing.

    examples:
      ctr update -m 128M web
      ctr update --cpus 1.5 --pids-limit 200 web worker

    """

    static let flags: [Flag] = LimitFlags.flags

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let limits = try LimitFlags(parsed)
        guard !limits.isEmpty else { throw BerthError(.invalidArgument, "update: no limit given (e.g. ctr update -m 128M web)") }
        let changes = limits.resources(over: LinuxResources())
        return try forEach(parsed.names(command: "update"), context) { (view) throws(BerthError) in
            if view.supervisorIsGone { throw BerthError(.invalidState, view.supervisorGoneWarning) }
            _ = try ControlClient.send(.update(changes), to: view.directory, timeoutMilliseconds: 30_000)
        }
    }
}
