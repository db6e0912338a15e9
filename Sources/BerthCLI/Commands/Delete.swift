import BerthCore
import CommandLineFlags
import Linux
import Runtime

/// `berth delete [--force] ID`; with --force a container that does not exist is not an error.
enum DeleteCommand {
    static let flags: [Flag] = [.boolean("f", "force", summary: "kill a running container first; a missing one is no error")]

    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let id = try parsed.containerID(command: "delete")
        do {
            try Containers(store: globals.store).delete(id, force: parsed.flag("force"))
        } catch where error.code == .notFound && parsed.flag("force") {
            // As runc: --force of a container that is already gone succeeds. containerd's shim
            // deletes twice (delete, then delete --force) and podman cleans up after a failed create.
        }
        return 0
    }
}
