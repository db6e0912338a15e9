import BerthCore
import CommandLineFlags
import Linux
import Runtime

/// `berth start ID`.
enum StartCommand {
    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let id = try parsed.containerID(command: "start")
        try Containers(store: globals.store).start(id)
        return 0
    }
}
