import Linux
import Runtime

/// `berth delete [--force] ID`.
enum DeleteCommand {
    static func run(_ arguments: [String], _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, valued: [:], booleans: ["force": "force", "f": "force"])
        try Containers(store: globals.store).delete(try parsed.containerID(command: "delete"), force: parsed.flag("force"))
        return 0
    }
}
