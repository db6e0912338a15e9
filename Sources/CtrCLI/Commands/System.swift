import BerthCore
import CommandLineFlags
import Glibc
import Linux
import SupervisorAPI

/// `ctr system SUBCOMMAND`: what concerns every service at once.
enum SystemCommand: CtrCommand {
    static let subcommands: [(name: String, command: any CtrCommand.Type)] = [("boot", SystemBootCommand.self)]

    static let summary = "commands for every service at once: boot"
    static var usage: String {
        var text = """
        usage: ctr system SUBCOMMAND [ARGS...]

        subcommands:

        """
        for (name, command) in subcommands {
            text += "  " + name + String(repeating: " ", count: max(1, 10 - name.count)) + command.summary + "\n"
        }
        return text + "\nctr system SUBCOMMAND --help shows a subcommand's flags and examples.\n"
    }

    static let flags: [Flag] = []
    static var operands: Operands { .words(subcommands.map(\.name)) }

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        guard let first = arguments.first, !first.hasPrefix("-") else {
            if arguments.first == "-h" || arguments.first == "--help" { return Ctr.printUsage(usage) }
            throw BerthError(.invalidArgument, "system: expects a subcommand: \(subcommands.map(\.name).joined(separator: ", ")) (see ctr system --help)")
        }
        guard let handler = subcommands.first(where: { $0.name == first })?.command else {
            throw BerthError(.invalidArgument, "system: unknown subcommand \"\(first)\" (see ctr system --help)")
        }
        return try handler.run(Array(arguments.dropFirst()), context)
    }
}

/// `ctr system boot`: after a reboot, brings back every service whose restart policy is
/// `always` or `unless-stopped`, unless the user stopped it. Run at boot by
/// packaging/systemd/ctr-boot.service, or by hand; running it again does nothing more.
enum SystemBootCommand: CtrCommand {
    static let summary = "start the services that should run: --restart always or unless-stopped, not stopped by the user"
    static let usage = """
    usage: ctr system boot

    Starts, as ctr start does, every service that is not running, whose restart policy is
    always or unless-stopped, and that the user has not stopped (ctr stop). A service that
    ended while the machine went down comes back with its name, limits, ports and log; one the
    user stopped stays stopped. Running services are left alone, so running it twice is the
    same as once. Prints each name started; a service that fails to start is reported and the
    others are still started (exit status 1).

    Run at boot by packaging/systemd/ctr-boot.service (make install puts it in place); without
    systemd, run it from the boot scripts once the file systems are mounted (docs/cli.md).

    examples:
      ctr system boot
      ctr --data-root /srv/ctr system boot

    """

    static let flags: [Flag] = []
    static let operands = Operands.none

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        guard parsed.positionals.isEmpty else { throw BerthError(.invalidArgument, "system boot: takes no arguments (see ctr system boot --help)") }
        let wanted = ServiceView.all(in: context).filter { $0.definition.restart.startsAtBoot && !$0.isStoppedByUser && !$0.isActive }
        var failed = false
        for view in wanted {
            do throws(BerthError) {
                try StartCommand.start(view, context)
                try writeOut(view.name + "\n")
            } catch where error.code == .invalidState {
                // Started meanwhile (another boot, a ctr start): nothing to do.
            } catch {
                failed = true
                _ = try? FileDescriptor.standardError.writeAll("ctr: service \"\(view.name)\": \(context.debug ? error.chain : error.description)\n")
            }
        }
        return failed ? 1 : 0
    }
}
