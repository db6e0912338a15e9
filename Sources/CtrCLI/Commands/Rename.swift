import BerthCore
import CommandLineFlags
import CShim
import Glibc
import Linux
import SupervisorAPI

/// `ctr rename OLD NEW`: a service that is not running takes a new name.
enum RenameCommand: CtrCommand {
    static let summary = "give a service that is not running a new name"
    static let usage = """
    usage: ctr rename OLD NEW

    Renames a service that has ended: its state, log and definition move to the new name
    (its container id stays). A running service is refused: stop it first. NEW must be free.

    example:
      ctr stop web && ctr rename web web-old

    """

    static let flags: [Flag] = []

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        guard parsed.positionals.count == 2 else {
            throw BerthError(.invalidArgument, "rename: expects OLD and NEW, got \(parsed.positionals.count) names (see ctr rename --help)")
        }
        let (old, new) = (parsed.positionals[0], parsed.positionals[1])
        try ServiceName.validate(new, label: "new name")
        let view = try ServiceView.loadAdopting(old, in: context)
        let lock = try view.directory.lockPersistent()
        defer { lock.close() }
        let current = try ServiceView(view.directory)
        guard !current.isActive else {
            throw BerthError(.invalidState, "service \"\(old)\" is \(current.displayStatus): stop it first (ctr stop \(old)), then rename it")
        }
        StopCommand.waitForSupervisorExit(current)
        try rename(current, to: context.service(new))
        return 0
    }

    /// Takes NEW as `ctr run` takes a name (mkdir of its persistent directory: EEXIST means it
    /// is in use), renames the persistent directory over that empty one in one step, then the
    /// runtime one if there is one, and records the name in service.json.
    static func rename(_ view: ServiceView, to target: ServiceDirectory) throws(BerthError) {
        let source = view.directory
        guard Glibc.mkdir(target.dataPath, 0o700) == 0 else {
            let code = Glibc.errno
            if code == EEXIST { throw BerthError(.exists, "rename: \"\(target.name)\" is already in use by another service; choose another name") }
            throw BerthError(.system, "mkdir \(target.dataPath)", errno: code)
        }
        do {
            try sys("rename", source.dataPath) { Glibc.rename(source.dataPath, target.dataPath) }
        } catch {
            _ = Glibc.rmdir(target.dataPath)
            throw error
        }
        if source.isSplit && source.hasRuntimeState {
            try sys("rename", source.path) { Glibc.rename(source.path, target.path) }
        }
        var definition = view.definition
        definition.name = target.name
        // A plain rootfs's bundle is the directory of its config.json.
        if definition.bundle == source.dataPath { definition.bundle = target.dataPath }
        try target.save(definition)
    }
}
