import BerthCore
import Glibc
import Linux
import Runtime

/// Where ctr keeps what must outlive a reboot: service definitions and logs. The runtime state
/// (statuses, sockets, fifos, the runtime's store) stays under --root, on /run's tmpfs.
enum DataRoot {
    /// `--data-root`, else $CTR_DATA_ROOT, else, when `--root` was given, that directory (both
    /// kinds of state in one place, as before the split), else the default: /var/lib/ctr for root,
    /// $XDG_DATA_HOME/ctr or ~/.local/share/ctr for a user (podman's rule for its storage).
    static func resolve(flag: String?, rootFlag: String?, euid: uid_t = geteuid(),
                        environment: (String) -> String? = StateRoot.variable) throws(BerthError) -> String {
        if let flag {
            guard flag.hasPrefix("/") else { throw BerthError(.invalidArgument, "flag --data-root: \"\(flag)\" must be an absolute path") }
            return trimmed(flag)
        }
        if let variable = environment("CTR_DATA_ROOT"), !variable.isEmpty {
            guard variable.hasPrefix("/") else { throw BerthError(.invalidArgument, "CTR_DATA_ROOT: \"\(variable)\" must be an absolute path") }
            return trimmed(variable)
        }
        if let rootFlag { return rootFlag }
        return defaultPath(euid: euid, environment: environment)
    }

    static func defaultPath(euid: uid_t = geteuid(), environment: (String) -> String? = StateRoot.variable) -> String {
        guard euid != 0 else { return "/var/lib/ctr" }
        if let data = environment("XDG_DATA_HOME"), data.hasPrefix("/") { return trimmed(data) + "/ctr" }
        if let home = environment("HOME"), home.hasPrefix("/") { return trimmed(home) + "/.local/share/ctr" }
        return "/var/lib/ctr"
    }

    private static func trimmed(_ path: String) -> String {
        path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }
}

/// ctr's checks on its roots (--root and the data root), for root as for any user: ctr trusts
/// what it finds there (definitions name binaries and mounts, sockets take requests), so a
/// root must be this user's own and writable by nobody else.
enum RootCheck {
    static func check(_ root: String, label: String, euid: uid_t = geteuid()) throws(BerthError) {
        var info = Glibc.stat()
        guard fstatat(AT_FDCWD, root, &info, 0) == 0 else {
            let code = Glibc.errno
            if code == ENOENT { return }
            throw BerthError(.invalidArgument, "\(label): \(root): permission denied: \(code == EACCES ? "this user (uid \(euid)) cannot reach it" : "stat failed")",
                             errno: code == EACCES ? 0 : code)
        }
        if info.st_uid != euid {
            throw BerthError(.invalidArgument, "\(label): \(root): permission denied: it belongs to uid \(info.st_uid), not to this user (uid \(euid))")
        }
        if info.st_mode & 0o022 != 0 {
            throw BerthError(.invalidArgument, "\(label): \(root) is writable by other users (mode \(String(info.st_mode & 0o7777, radix: 8))), who could plant services in it; use a directory only its owner can write (chmod go-w)")
        }
    }
}
