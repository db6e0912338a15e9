import BerthCore
import CommandLineFlags
import Glibc
import Linux
import SupervisorAPI

/// `ctr wait NAME...`: blocks until each service has ended for good and prints its exit status.
enum WaitCommand: CtrCommand {
    static let summary = "wait until services end for good and print their exit status"
    static let usage = """
    usage: ctr wait NAME...

    Blocks until each service has ended for good (restarts included: a service whose policy
    restarts it has not ended), then prints its exit status, one line per name: the exit code,
    or 128+N for signal N. A service that has ended already prints its last status at once.

    examples:
      ctr wait job
      ctr run -d --name job ./rootfs -- sh -c 'exit 3' && ctr wait job    # prints 3

    """

    static let flags: [Flag] = []

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let names = try parsed.names(command: "wait")
        var failed = false
        for name in names {
            do throws(BerthError) {
                let status = try wait(try ServiceView.loadAdopting(name, in: context))
                guard let code = status.lastExit?.shellStatus else {
                    throw BerthError(.invalidState, "service \"\(name)\" ended with an unknown exit status (see ctr inspect \(name))")
                }
                try writeOut("\(code)\n")
            } catch {
                if names.count == 1 { throw error }
                failed = true
                _ = try? FileDescriptor.standardError.writeAll("ctr: \(context.debug ? error.chain : error.description)\n")
            }
        }
        return failed ? 1 : 0
    }

    /// The service's final status: from status.json when it has ended, else from its supervisor's
    /// answer to `wait`. The supervisor's pidfd is watched too, so that a supervisor that dies
    /// does not leave ctr waiting for an answer that cannot come.
    static func wait(_ view: ServiceView) throws(BerthError) -> ServiceStatus {
        guard view.isActive, let status = view.status, !view.supervisorIsGone else {
            if view.supervisorIsGone { throw BerthError(.invalidState, view.supervisorGoneWarning) }
            return view.status ?? ServiceStatus(state: .exited)
        }
        let connection: FileDescriptor
        do { connection = try ControlClient.post(.wait, to: view.directory) } catch where error.code == .invalidState {
            // It ended between the look at status.json and the request.
            return try ServiceView(view.directory).status ?? status
        }
        defer { connection.close() }
        let supervisor = try? ProcessControl.openPidfd(status.supervisorPid)
        defer { supervisor?.close() }
        var entries = [pollfd(fd: connection.rawValue, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: supervisor?.rawValue ?? -1, events: Int16(POLLIN), revents: 0)]
        while (try? sys("poll") { Glibc.poll(&entries, 2, -1) }) == nil {}
        if entries[0].revents != 0, case .message(let bytes)? = try? ControlSocket.receive(on: connection),
           case .ended(let final)? = try? ControlResponse(decoding: bytes) {
            return final
        }
        // The supervisor went away without answering; what it last recorded, if anything.
        let again = try? ServiceView(view.directory)
        guard let final = again?.status, final.state == .exited else {
            throw BerthError(.system, "service \"\(view.name)\": the supervisor exited without saying how the service ended")
        }
        return final
    }
}
