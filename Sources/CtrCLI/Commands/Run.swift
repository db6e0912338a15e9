import BerthCore
import CommandLineFlags
import CShim
import Glibc
import Linux
import OCI
import Runtime
import Seccomp
import Supervisor
import SupervisorAPI

/// `ctr run [flags] ROOTFS|BUNDLE [--] [CMD ARGS...]`: a new service and its supervisor.
enum RunCommand: CtrCommand {
    static let summary = "start a container as a service, in the foreground or with -d in the background"
    static let usage = """
    usage: ctr run [flags] ROOTFS|BUNDLE [--] [CMD ARGS...]

    Starts a container from a root filesystem (or an OCI bundle: a directory with config.json)
    under a new supervisor. In the foreground ctr shows its output, forwards signals (Ctrl-C
    stops it, a second Ctrl-C kills it) and exits with its status. With -d it prints the id
    and returns; the service lives on under its supervisor.

    With -t the process runs on a terminal (a pty the supervisor holds; its output goes to the
    log); with -i it reads ctr's stdin, and with -it on a terminal ctr's terminal is put in raw
    mode, so every key (Ctrl-C too) goes to the container.

    flags:
      --name NAME              the service's name (default: its id)
      -d, --detach             run in the background and print the id
      -t, --tty                give the process a terminal (with -d: output still goes to ctr logs)
      -i, --interactive        pass ctr's stdin to the process (not with -d)
      --rm                     remove the service when its container has ended for good
      --restart POLICY         no (default), on-failure[:N], always or unless-stopped; back-off 0.1 s
                               doubling to 10 s; always and unless-stopped come back at boot
      -m, --memory SIZE        memory limit, with k, M or G (e.g. 64M)
      --memory-high SIZE       memory throttling threshold
      --memory-swap SIZE       memory plus swap limit; -1 for unlimited swap
      --cpus N                 CPU time, in CPUs (e.g. 0.5)
      --cpu-weight N           relative CPU weight, 1 to 10000 (default 100)
      --cpuset-cpus LIST       CPUs the container may use (e.g. 0-1)
      --pids-limit N           most processes at once; -1 for no limit
      --io-weight N            relative I/O weight, 1 to 10000
      --io-max DEV:K=V,...     I/O limits: rbps, wbps (bytes/s), riops, wiops (e.g. /dev/vda:wbps=1M)
      -e, --env KEY=VALUE      set a variable (KEY alone: take ctr's own value)
      --env-file FILE          variables from a file of KEY=VALUE lines
      -v, --volume HOST:CTR[:ro]  bind a host path into the container
      --tmpfs PATH[:OPTIONS]   a tmpfs at PATH (e.g. /run:size=64m)
      -w, --workdir DIR        working directory
      -u, --user USER[:GROUP]  user and group, by number or by name in the image
      --hostname NAME          hostname (default: the service name)
      --read-only              mount the root filesystem read-only
      --cap-add CAP, --cap-drop CAP   change the capability set (ALL for all)
      --security-opt seccomp=unconfined|FILE   replace the default seccomp profile
      --network none|host      a private network namespace (default) or the host's
      -p, --publish [ADDR:]HOST:CTR   forward host port HOST (on ADDR, default all) to the
                               container's port CTR on its loopback; the supervisor owns the port
      --listen [ADDR:]PORT     bind PORT and hand the socket to the container (socket
                               activation: LISTEN_FDS=1, LISTEN_PID=1, descriptor 3)
      --log-max-size SIZE      rotate the log at this size (default 10M; one old file is kept)
      --health-cmd CMD         check health by running /bin/sh -c CMD in the container (exit 0: pass)
      --health-interval D      time between checks (default 30s; ms, s, m, h: e.g. 500ms, 1m30s)
      --health-timeout D       a check still running after D is killed and fails (default 30s)
      --health-retries N       consecutive failures that make it unhealthy (default 3); with
                               --restart on-failure or always an unhealthy container is restarted
      --health-start-period D  failures in the first D after each start do not count (default 0s)

    examples:
      ctr run ./rootfs -- echo hello
      ctr run -it ./rootfs -- sh
      echo hello | ctr run -i ./rootfs -- cat
      ctr run -d --name web -m 64M --cpus 0.5 --restart on-failure:3 ./rootfs -- httpd -f -p 8080
      ctr run --rm -e GREETING=hi -v /srv/data:/data:ro ./rootfs -- sh -c 'echo $GREETING; ls /data'
      ctr run -d --name api --restart always --health-cmd 'wget -q -O /dev/null localhost:8080' \\
          --health-interval 10s --health-retries 3 ./rootfs -- httpd -f -p 8080

    """

    static let flags = RunOptions.flags
    static let operands = Operands.directoryThenCommand

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags, stopAfter: 1)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        let options = try RunOptions(parsed)
        let base = try ServiceSpec.base(source: try absolutePath(options.source))
        let id = try randomID()
        let name = options.name ?? id
        let service = context.service(name)
        let spec = try ServiceSpec.build(options, base: base, name: name, id: id)
        let configBytes: [UInt8]
        do { configBytes = try encodeJSONBytes(spec, pretty: true) } catch { throw BerthError(.system, "encoding config.json: \(error)") }
        // A plain rootfs's bundle is the directory of its config.json.
        let bundle = base.bundle ?? service.dataPath
        // 0700: the state names pids, paths and the control sockets.
        try Files.makeDirectories(context.root, mode: 0o700)
        if service.isSplit { try Files.makeDirectories(context.dataRoot, mode: 0o700) }
        // Every input error surfaces here, before the service directory exists.
        let plan: LaunchPlan
        do {
            plan = try LaunchPlan(spec: spec, id: id, bundle: bundle, seccompCache: SeccompCache(stateRoot: context.root))
        } catch {
            throw error.prefixed("run")
        }
        if plan.rootless == nil { try ServiceSpec.makeCgroupParent(controllers: plan.resources.controllers) }
        try claim(service)
        let definition = ServiceDefinition(name: name, id: id, source: base.bundle ?? base.rootfs, bundle: bundle, rootfs: base.rootfs,
                                           command: spec.process?.args ?? [], restart: options.restart, removeWhenDone: options.remove,
                                           limits: options.limits.summary, logMaximumBytes: options.logMaximumBytes,
                                           health: options.health, ports: options.ports.isEmpty ? nil : options.ports,
                                           listen: options.listen.isEmpty ? nil : options.listen,
                                           terminal: options.tty ? true : nil, stdin: options.interactive ? true : nil)
        var logReader: FileDescriptor?
        var input: FileDescriptor?
        var signals: Int32 = -1
        let started: SupervisorProcess.Started
        do {
            // A --rm service does not outlive its run: nothing to keep through a crash.
            try Files.writeAtomically(service.configPath, configBytes, mode: 0o600, durable: !options.remove)
            try service.save(definition, durable: !options.remove)
            let log = try FileDescriptor.open(service.logPath, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            log.close()
            if !options.detach {
                // Opened before the supervisor exists: with --rm a quick container's log could
                // otherwise be gone before we read it.
                logReader = try FileDescriptor.open(service.logPath, O_RDONLY)
                // Held from now on, so that a Ctrl-C during start-up is forwarded, not lost.
                signals = try sys("signalfd") { berth_forwarding_signalfd() }
            }
            if options.interactive { input = try openStdinFifo(service) }
            started = try SupervisorProcess.start(service: service, definition: definition, plan: plan, configBytes: configBytes)
        } catch {
            logReader?.close()
            input?.close()
            if signals >= 0 { Glibc.close(signals) }
            service.remove()
            throw error
        }
        guard !options.detach, let logReader else {
            started.channel.close()
            try writeOut(id + "\n")
            return 0
        }
        var attachment = Attachment(service: service, log: LogReader(service: service, descriptor: logReader), channel: started.channel,
                                    signals: signals)
        attachment.terminal = options.tty
        attachment.input = input.map { InputCopy(source: .standardInput, target: $0, typesEndOfFile: options.tty) }
        return attachment.run()
    }

    /// Makes stdin.fifo and opens ctr's end, before the supervisor exists: read-write, so the
    /// open does not wait for a reader and the fifo always has a writer from here on (the
    /// container's read-only end sees end of file only once this is closed), and non-blocking,
    /// so that a container that does not read cannot hang ctr. The supervisor's fork does not
    /// keep it: it closes what it inherited.
    private static func openStdinFifo(_ service: ServiceDirectory) throws(BerthError) -> FileDescriptor {
        guard Glibc.mkfifo(service.stdinFifoPath, 0o600) == 0 else { throw BerthError(.system, "mkfifo \(service.stdinFifoPath)", errno: Glibc.errno) }
        return try FileDescriptor.open(service.stdinFifoPath, O_RDWR | O_NONBLOCK)
    }

    /// Takes the name: mkdir of the persistent directory fails if a service already has it.
    /// Then the runtime directory, which exists only with a persistent one (removal takes it
    /// first): one left over is refused rather than reused.
    private static func claim(_ service: ServiceDirectory) throws(BerthError) {
        guard Glibc.mkdir(service.dataPath, 0o700) == 0 else {
            let code = Glibc.errno
            guard code == EEXIST else { throw BerthError(.system, "mkdir \(service.dataPath)", errno: code) }
            let state = (try? ServiceView(service))?.displayStatus ?? "being created or removed"
            throw BerthError(.exists, "flag --name: \"\(service.name)\" is already in use by a service that is \(state); remove it with ctr rm \(service.name) or choose another name")
        }
        guard service.isSplit else { return }
        guard Glibc.mkdir(service.path, 0o700) == 0 else {
            let code = Glibc.errno
            Files.removeTree(service.dataPath)
            throw BerthError(code == EEXIST ? .exists : .system, "mkdir \(service.path)", errno: code)
        }
    }

    /// 12 random hex digits, like the short form of a docker id.
    static func randomID() throws(BerthError) -> String {
        let fd = try FileDescriptor.open("/dev/urandom", O_RDONLY)
        defer { fd.close() }
        let bytes = try fd.read(upTo: 6)
        guard bytes.count == 6 else { throw BerthError(.system, "read /dev/urandom: short read") }
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] })
    }
}

/// `path` made absolute against the working directory.
func absolutePath(_ path: String) throws(BerthError) -> String {
    if path.hasPrefix("/") { return path }
    var buffer = [CChar](repeating: 0, count: 4096)
    guard Glibc.getcwd(&buffer, buffer.count) != nil else { throw BerthError(.system, "getcwd", errno: Glibc.errno) }
    let cwd = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    var joined = cwd
    for part in path.split(separator: "/") where part != "." { joined += "/" + part }
    return joined
}
