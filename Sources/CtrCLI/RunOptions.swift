import BerthCore
import CommandLineFlags
import Glibc
import Linux
import OCI
import SupervisorAPI

/// `ctr run`'s flags, parsed and checked before anything is created.
struct RunOptions {
    enum Network: String { case none, host }
    enum SeccompChoice: Equatable {
        case builtIn
        case unconfined
        case file(String)
    }

    var name: String?
    var detach = false
    var remove = false
    var restart: RestartPolicy = .no
    /// The ROOTFS or BUNDLE argument.
    var source = ""
    var command: [String] = []
    var environment: [String] = []
    var mounts: [Mount] = []
    var workdir: String?
    var user: String?
    var hostname: String?
    var readOnly = false
    var limits = LimitFlags()
    var capAdd: [String] = []
    var capDrop: [String] = []
    var seccomp = SeccompChoice.builtIn
    var network = Network.none
    var logMaximumBytes = ServiceDefinition.defaultLogMaximumBytes
    var health: HealthCheck?
    var ports: [PortMapping] = []
    var listen: [ListenAddress] = []
    /// -t: the process runs on a pty the supervisor holds.
    var tty = false
    /// -i: the process reads the attached ctr's stdin.
    var interactive = false

    static let flags: [Flag] = LimitFlags.flags + HealthFlags.flags + [
        .value("name"), .boolean("d", "detach"), .boolean("rm"), .value("restart"),
        .value("e", "env"), .value("env-file"), .value("v", "volume"), .value("tmpfs"), .value("w", "workdir"),
        .value("u", "user"), .value("hostname"), .boolean("read-only"), .value("cap-add"), .value("cap-drop"),
        .value("security-opt"), .value("network"), .value("log-max-size"),
        .boolean("t", "tty"), .boolean("i", "interactive"), .value("p", "publish"), .value("listen"),
    ]

    /// Parses `ctr run`'s arguments: flags, then ROOTFS|BUNDLE, then the command.
    init(parsing arguments: [String]) throws(BerthError) {
        let parsed = try Arguments(arguments, flags: RunOptions.flags, stopAfter: 1)
        try self.init(parsed)
    }

    init(_ parsed: Arguments) throws(BerthError) {
        guard let source = parsed.positionals.first else {
            throw BerthError(.invalidArgument, "run: expects a ROOTFS or BUNDLE directory (e.g. ctr run -d --name web ./rootfs -- httpd -f)")
        }
        self.source = source
        command = Array(parsed.positionals.dropFirst())
        if command.first == "--" { command.removeFirst() }
        if let name = parsed.value("name") {
            try ServiceName.validate(name)
            self.name = name
        }
        detach = parsed.flag("detach")
        tty = parsed.flag("tty")
        interactive = parsed.flag("interactive")
        if detach && interactive {
            throw BerthError(.invalidArgument, "flag --interactive: cannot be combined with --detach, since nothing would feed the container's stdin; use -d -t for a terminal whose output goes to ctr logs, or drop -d")
        }
        remove = parsed.flag("rm")
        if let text = parsed.value("restart") { restart = try RestartPolicy(parsing: text) }

        for text in parsed.all("env-file") { environment += try FlagValues.environmentFile(text) }
        for text in parsed.all("env") { if let variable = try FlagValues.environment(text) { environment.append(variable) } }
        mounts = try parsed.all("volume").map { (text) throws(BerthError) in try FlagValues.volume(text) }
        mounts += try parsed.all("tmpfs").map { (text) throws(BerthError) in try FlagValues.tmpfs(text) }
        if let text = parsed.value("workdir") {
            guard text.hasPrefix("/") else { throw BerthError(.invalidArgument, "flag --workdir: \"\(text)\" must be an absolute path (e.g. -w /srv)") }
            workdir = text
        }
        user = parsed.value("user")
        if let text = parsed.value("hostname") {
            guard !text.isEmpty, text.utf8.count <= 64, !text.contains(where: { $0 == "/" || $0 == " " || $0 == "\0" }) else {
                throw BerthError(.invalidArgument, "flag --hostname: \"\(text)\" is not a hostname of 1 to 64 characters (e.g. --hostname web)")
            }
            hostname = text
        }
        readOnly = parsed.flag("read-only")

        limits = try LimitFlags(parsed)
        health = try HealthFlags.check(parsed)
        capAdd = try parsed.all("cap-add").map { (text) throws(BerthError) in try RunOptions.capability(text, flag: "--cap-add") }
        capDrop = try parsed.all("cap-drop").map { (text) throws(BerthError) in try RunOptions.capability(text, flag: "--cap-drop") }
        for text in parsed.all("security-opt") {
            if text == "seccomp=unconfined" || text == "seccomp:unconfined" {
                seccomp = .unconfined
            } else if text.hasPrefix("seccomp=") {
                seccomp = .file(String(text.dropFirst("seccomp=".count)))
            } else if text != "no-new-privileges" && text != "no-new-privileges=true" && text != "no-new-privileges:true" {
                throw BerthError(.invalidArgument, "flag --security-opt: \"\(text)\" is not seccomp=unconfined, seccomp=FILE or no-new-privileges (e.g. --security-opt seccomp=unconfined)")
            }
        }
        if let text = parsed.value("network") {
            guard let choice = Network(rawValue: text) else {
                throw BerthError(.invalidArgument, "flag --network: \"\(text)\" is not none or host (e.g. --network host)")
            }
            network = choice
        }
        ports = try parsed.all("publish").map { (text) throws(BerthError) in try PortMapping(parsing: text) }
        listen = try parsed.all("listen").map { (text) throws(BerthError) in try ListenAddress(parsing: text) }
        let hostPorts = ports.map(\.hostPort) + listen.map(\.port)
        if let repeated = hostPorts.first(where: { port in hostPorts.count { $0 == port } > 1 }) {
            throw BerthError(.invalidArgument, "flag -p: host port \(repeated) is given twice (e.g. -p 8080:80 -p 8443:443)")
        }
        if network == .host && !ports.isEmpty {
            throw BerthError(.invalidArgument, "flag -p: a container on the host network uses the host's ports itself; drop -p or use --network none")
        }
        if let text = parsed.value("log-max-size") {
            let bytes = try FlagValues.size(text, flag: "--log-max-size", example: "10M")
            guard bytes >= 4096, bytes <= Int64(Int32.max) else {
                throw BerthError(.invalidArgument, "flag --log-max-size: \"\(text)\" is not between 4k and 2G (e.g. --log-max-size 10M)")
            }
            logMaximumBytes = Int(bytes)
        }
    }

    /// `NET_ADMIN`, `net_admin` or `CAP_NET_ADMIN` as `CAP_NET_ADMIN`; `ALL` stays `ALL`.
    static func capability(_ text: String, flag: String) throws(BerthError) -> String {
        let upper = text.uppercased()
        if upper == "ALL" { return upper }
        let name = upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
        guard Capability.number(name) != nil else {
            throw BerthError(.invalidArgument, "flag \(flag): unknown capability \"\(text)\" (e.g. \(flag) NET_ADMIN)")
        }
        return name
    }

}
