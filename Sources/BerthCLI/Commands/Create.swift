import BerthCore
import CommandLineFlags
import Glibc
import Linux
import OCI
import Runtime
import Seccomp

/// `berth create [--bundle DIR] [--pid-file F] [--no-pivot] [--preserve-fds N] ID`.
enum CreateCommand {
    static let flags: [Flag] = [
        .value("b", "bundle", placeholder: "DIR", summary: "the bundle: config.json and the rootfs (default .)"),
        .value("pid-file", placeholder: "FILE", summary: "write the container's pid to FILE"),
        .value("console-socket", placeholder: "SOCKET", summary: "send the pty master of a terminal process to this unix socket"),
        .value("pidfd-socket", placeholder: "SOCKET", summary: "send a pidfd of the container's init to this unix socket"),
        .value("preserve-fds", placeholder: "N", summary: "pass N more descriptors, from 3 up, to the process"),
        .boolean("no-pivot", summary: "move the rootfs to / instead of pivot_root (for a ramfs root)"),
        .boolean("no-new-keyring", summary: "accepted as runc takes it; berth makes no session keyring"),
    ]

    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let launcher = try makeLauncher(parsed, globals, command: "create")
        _ = try launcher.create()
        return 0
    }

    /// Reads and validates the bundle into a launcher; shared with `run`.
    static func makeLauncher(_ parsed: Arguments, _ globals: GlobalOptions, command: String) throws(BerthError) -> Launcher {
        let id = try parsed.containerID(command: command)
        try ContainerID.validate(id)
        let bundle = try absoluteBundle(parsed.value("bundle") ?? ".")
        let configPath = bundle + "/config.json"
        let bytes: [UInt8]
        do { bytes = try Files.read(configPath) } catch { throw error.prefixed("bundle") }
        let spec: Spec
        do { spec = try decodeJSON(Spec.self, from: bytes) } catch { throw BerthError(.invalidConfig, "\(configPath): \(error)") }
        var plan: LaunchPlan
        do {
            plan = try LaunchPlan(spec: spec, id: id, bundle: bundle, usePivotRoot: !parsed.flag("no-pivot"),
                                  // A dot name: never a container ID, so never listed as one or taken by one.
                                  seccompCache: SeccompCache(stateRoot: globals.root))
        } catch {
            throw error.prefixed(configPath)
        }
        // sd_notify: the container gets a socket of berth's, relayed by start (runc's way).
        var notifyDirectory: String?
        if NotifySocket.hostSocket != nil {
            notifyDirectory = NotifySocket.directory(in: globals.store.directory(id))
            notifyDirectory.map { plan.proxyNotifySocket(from: $0) }
        }
        var launcher = Launcher(store: globals.store, plan: plan, configBytes: bytes)
        launcher.notifyDirectory = notifyDirectory
        launcher.preserveFDs = try parsed.integer("preserve-fds", flag: "--preserve-fds") ?? 0
        launcher.pidFile = try parsed.value("pid-file").map { (path) throws(BerthError) in try absolutePath(path) }
        launcher.consoleSocket = try parsed.value("console-socket").map { (path) throws(BerthError) in try absolutePath(path) }
        launcher.pidfdSocket = try parsed.value("pidfd-socket").map { (path) throws(BerthError) in try absolutePath(path) }
        return launcher
    }

    static func absoluteBundle(_ path: String) throws(BerthError) -> String {
        let absolute = try absolutePath(path)
        guard Files.isDirectory(absolute) else { throw BerthError(.invalidArgument, "bundle \(absolute): not a directory") }
        return absolute
    }
}

/// `path` made absolute against the working directory.
func absolutePath(_ path: String) throws(BerthError) -> String {
    if path.hasPrefix("/") { return path }
    var buffer = [CChar](repeating: 0, count: 4096)
    guard Glibc.getcwd(&buffer, buffer.count) != nil else { throw BerthError(.system, "getcwd", errno: Glibc.errno) }
    let cwd = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return path == "." ? cwd : cwd + "/" + path
}
