import BerthCore
import Linux
import Runtime

/// `berth state ID`: the OCI state JSON.
enum StateCommand {
    static func run(_ arguments: [String], _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let id = try Arguments(arguments, valued: [:], booleans: [:]).containerID(command: "state")
        try FileDescriptor.standardOutput.writeAll(try Containers(store: globals.store).state(id) + "\n")
        return 0
    }
}
