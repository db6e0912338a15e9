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
