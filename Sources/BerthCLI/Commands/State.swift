import BerthCore
import CommandLineFlags
import Linux
import Runtime

/// `berth state ID`: the OCI state JSON.
enum StateCommand {
    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let id = try parsed.containerID(command: "state")
        try FileDescriptor.standardOutput.writeAll(try Containers(store: globals.store).state(id) + "\n")
        return 0
    }
}
