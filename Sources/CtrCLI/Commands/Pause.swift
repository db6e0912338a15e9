import BerthCore
import CommandLineFlags
import Linux
import SupervisorAPI

/// `ctr pause NAME...`: freezes every process of the container (cgroup.freeze).
enum PauseCommand: CtrCommand {
    static let summary = "freeze every process of a service's container"
    static let usage = """
    usage: ctr pause NAME...

    Freezes every process of the container until ctr unpause. ctr ps shows it as paused.

    example:
      ctr pause web

    """

    static let flags: [Flag] = []

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        try askSupervisors(.pause, command: "pause", arguments, context, usage: usage)
    }
}

/// `ctr unpause NAME...`: thaws a paused container.
enum UnpauseCommand: CtrCommand {
    static let summary = "thaw a paused service's container"
    static let usage = """
    usage: ctr unpause NAME...

    Thaws a container frozen by ctr pause.

    example:
      ctr unpause web

    """

    static let flags: [Flag] = []

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        try askSupervisors(.resume, command: "unpause", arguments, context, usage: usage)
    }
}

/// Sends a request that needs a live supervisor to each named service.
private func askSupervisors(_ request: ControlRequest, command: String, _ arguments: [String], _ context: CtrContext,
                            usage: String) throws(BerthError) -> Int32 {
    // pause and unpause take no flags (their `flags` tables are empty).
    let parsed = try Arguments(arguments, flags: [])
    if parsed.wantsHelp { return Ctr.printUsage(usage) }
    return try forEach(parsed.names(command: command), context) { (view) throws(BerthError) in
        if view.supervisorIsGone { throw BerthError(.invalidState, view.supervisorGoneWarning) }
        _ = try ControlClient.send(request, to: view.directory, timeoutMilliseconds: 30_000)
    }
}
