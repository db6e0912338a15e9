import BerthCore
import Linux
import Runtime

/// `berth start ID`.
enum StartCommand {
    static func run(_ arguments: [String], _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let id = try Arguments(arguments, valued: [:], booleans: [:]).containerID(command: "start")
        try Containers(store: globals.store).start(id)
        return 0
    }
}
