import BerthCore
import Linux
import Runtime

/// `berth pause ID` and `berth resume ID`: freeze and thaw the container's cgroup.
enum PauseCommand {
    static func pause(_ arguments: [String], _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        try Containers(store: globals.store).pause(try Arguments(arguments, valued: [:], booleans: [:]).containerID(command: "pause"))
        return 0
    }

    static func resume(_ arguments: [String], _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        try Containers(store: globals.store).resume(try Arguments(arguments, valued: [:], booleans: [:]).containerID(command: "resume"))
        return 0
    }
}
