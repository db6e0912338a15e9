import BerthCore
import Glibc

/// A user namespace with given maps, held by a descriptor and no process: what
/// mount_setattr(MOUNT_ATTR_IDMAP) takes. Made as root of the host, which may map any ids.
public enum UserNamespaceFile {
    /// A child is cloned into a new user namespace and waits; its maps are written through a
    /// verified procfs, its namespace opened, and the child let go. `uidMap` and `gidMap` are
    /// the files' contents ("inside outside count" lines).
    public static func make(uidMap: String, gidMap: String) throws(BerthError) -> FileDescriptor {
        let hold = try makePipe()
        let (pid, pidfd) = try ProcessControl.clone(namespaces: NamespaceKind.user.cloneFlag)
        if pid == 0 {
            hold.write.close()
            // End of file: the parent has what it needs.
            _ = try? hold.read.read(upTo: 1)
            Glibc._exit(0)
        }
        pidfd?.close()
        hold.read.close()
        defer {
            hold.write.close()
            _ = try? ProcessControl.wait(pid)
        }
        let proc = try Procfs()
        defer { proc.close() }
        try proc.write("\(pid)/uid_map", uidMap)
        try proc.write("\(pid)/gid_map", gidMap)
        // A magic link, which the verified procfs does not follow; the child is ours and alive.
        return try FileDescriptor.open("/proc/\(pid)/ns/user", O_RDONLY)
    }
}
