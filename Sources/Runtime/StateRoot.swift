import BerthCore
import Glibc
import Linux

/// Where berth and ctr keep their state: /run/NAME for root, $XDG_RUNTIME_DIR/NAME for a user.
public enum StateRoot {
    /// runc's rule (shouldHonorXDGRuntimeDir): a non-root user with XDG_RUNTIME_DIR set gets
    /// $XDG_RUNTIME_DIR/NAME, and so does root inside a user namespace unless USER is root.
    /// Without XDG_RUNTIME_DIR it is /run/NAME, which a user cannot write: the first command
    /// that needs it fails with permission denied, as runc's does.
    public static func defaultPath(program: String, euid: uid_t = geteuid(), environment: (String) -> String? = variable,
                                   inUserNamespace: () -> Bool = runsInUserNamespace) -> String {
        if let runtime = environment("XDG_RUNTIME_DIR"), runtime.hasPrefix("/"),
           euid != 0 || (inUserNamespace() && environment("USER") != "root") {
            return (runtime.hasSuffix("/") ? String(runtime.dropLast()) : runtime) + "/" + program
        }
        return "/run/" + program
    }

    /// A user's berth works only in a state root of its own: one that another user made (a
    /// shared directory passed with --root) could hold records, fifos and sockets planted for it.
    /// `label` names where the root came from: `flag --root`, or `state root` for the default.
    /// One the user cannot even look at (inside another user's 0700 directory) is refused too,
    /// rather than read as empty. A missing one is left to the command (made, or "not found").
    public static func checkOwner(_ root: String, label: String, euid: uid_t = geteuid()) throws(BerthError) {
        guard euid != 0 else { return }
        var info = Glibc.stat()
        guard fstatat(AT_FDCWD, root, &info, 0) == 0 else {
            let code = Glibc.errno
            if code == ENOENT { return }
            throw BerthError.systemCall("stat", root, errno: code).prefixed(label)
        }
        if info.st_uid != euid {
            throw BerthError(.invalidArgument, "\(label): \(root) belongs to uid \(info.st_uid), not to this user (uid \(euid))")
        }
    }

    public static func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    /// Whether uid_map maps less than the whole id space to itself (runc's userns.RunningInUserNS).
    public static func runsInUserNamespace() -> Bool {
        guard let text = try? Files.readString("/proc/self/uid_map") else { return false }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        return !(fields.count == 3 && fields[0] == "0" && fields[1] == "0" && fields[2] == "4294967295")
    }
}
