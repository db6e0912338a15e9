import BerthCore
import CommandLineFlags
import Linux
import Runtime

/// `berth pause ID` and `berth resume ID`: freeze and thaw the container's cgroup.
enum PauseCommand {
    static func pause(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        try Containers(store: globals.store).pause(try parsed.containerID(command: "pause"))
        return 0
    }

    static func resume(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        try Containers(store: globals.store).resume(try parsed.containerID(command: "resume"))
        return 0
    }
}
