/// `berth spec --rootless`: runc's rootless shape (specconv.ToRootless), applied to any config.
extension Spec {
    /// A user namespace mapping container root to the caller's own ids (which the caller may
    /// map without newuidmap), no network namespace (an unprivileged user cannot connect one
    /// to the host), /sys bound from the host read-only (sysfs is mountable only by the owner
    /// of the network namespace), no uid=/gid= mount options (ids the namespace does not map),
    /// and no linux.resources (limits need a delegated cgroup, which a user rarely has).
    public mutating func makeRootless(uid: UInt32, gid: UInt32) {
        var linux = self.linux ?? LinuxConfig()
        linux.namespaces = (linux.namespaces ?? []).filter { $0.type != .network && $0.type != .user } + [LinuxNamespace(type: .user)]
        linux.uidMappings = [LinuxIDMapping(containerID: 0, hostID: uid, size: 1)]
        linux.gidMappings = [LinuxIDMapping(containerID: 0, hostID: gid, size: 1)]
        linux.resources = nil
        self.linux = linux
        mounts = mounts.map { list in
            list.map { mount in
                if mount.destination.split(separator: "/") == ["sys"] {
                    return Mount(destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"])
                }
                var kept = mount
                kept.options = mount.options.map { $0.filter { !$0.hasPrefix("uid=") && !$0.hasPrefix("gid=") } }
                return kept
            }
        }
    }
}
