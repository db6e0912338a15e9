import BerthCore
import CommandLineFlags
import Glibc
import Linux
import OCI
import Seccomp

/// `ctr version`: the release, what it was built against, and which file runs. containerd's
/// package ships a /usr/bin/ctr of its own: when the `ctr` a shell finds on PATH is another
/// program, this says so (docs/cli.md, "Two programs named ctr").
enum VersionCommand: CtrCommand {
    static let summary = "print ctr's version, and warn when another ctr comes first on PATH"
    static let usage = """
    usage: ctr version

    Prints ctr's release, the OCI runtime spec and libseccomp it was built with, the file that
    runs and the state root. When the ctr that PATH finds first is another program (containerd
    ships its own ctr in /usr/bin), a warning on stderr names it.

    examples:
      ctr version
      /usr/local/bin/ctr version

    """
    static let flags: [Flag] = []
    static let operands = Operands.none

    static func run(_ arguments: [String], _ context: CtrContext) throws(BerthError) -> Int32 {
        let parsed = try Arguments(arguments, flags: flags)
        if parsed.wantsHelp { return Ctr.printUsage(usage) }
        guard parsed.positionals.isEmpty else { throw BerthError(.invalidArgument, "version: takes no arguments") }
        let executable = resolved("/proc/self/exe") ?? "unknown"
        try writeOut("""
        ctr version \(Release.version)
        spec: \(Spec.version)
        libseccomp: \(libseccompVersion)
        executable: \(executable)
        root: \(context.root)

        """)
        if let other = otherCtrFirstOnPath(running: executable, path: getenv("PATH").map { String(cString: $0) } ?? "") {
            _ = try? FileDescriptor.standardError.writeAll("ctr: warning: \(other.warning(executable))\n")
        }
        return 0
    }

    /// The `ctr` a shell runs, when it is not `executable`: the first executable file named ctr
    /// in PATH's directories (an empty entry is the current directory, as for the shell).
    static func otherCtrFirstOnPath(running executable: String, path: String) -> OtherCtr? {
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/ctr"
            guard access(candidate, X_OK) == 0, let real = resolved(candidate) else { continue }
            return real == executable ? nil : OtherCtr(path: candidate)
        }
        return nil
    }

    struct OtherCtr: Equatable {
        var path: String

        func warning(_ executable: String) -> String {
            "\"ctr\" on PATH is \(path), another program (containerd ships one as /usr/bin/ctr); this one is \(executable): "
                + "put \(directory(of: executable)) before \(directory(of: path)) in PATH, or call this one by its path"
        }

        private func directory(of file: String) -> String {
            guard let slash = file.lastIndex(of: "/") else { return "." }
            return slash == file.startIndex ? "/" : String(file[..<slash])
        }
    }

    /// realpath(3): the file without symbolic links, nil when it does not exist.
    static func resolved(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}
