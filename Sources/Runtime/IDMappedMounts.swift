import BerthCore
import CShim
import Glibc
import Linux
import OCI

extension LaunchPlan {
    /// A mount's idmapping (mounts[].uidMappings/gidMappings, or `idmap`/`ridmap` with the
    /// container's own maps): the maps of the user namespace MOUNT_ATTR_IDMAP takes, and whether
    /// it covers the submounts of an rbind too (`ridmap`).
    public struct MountIDMap: Equatable, Sendable {
        public var uidMappings: [IDMapping]
        public var gidMappings: [IDMapping]
        public var recursive: Bool
    }

    /// The runtime-spec's rules: both maps or neither; `idmap`/`ridmap` without maps takes the
    /// container's user namespace maps, and without one is an error. Mappings alone idmap the
    /// top mount, as runc does.
    static func mountIDMap(_ mount: OCI.Mount, label: String, container: (uid: [IDMapping], gid: [IDMapping])) throws(BerthError) -> MountIDMap? {
        let options = mount.options ?? []
        let recursive = options.contains("ridmap")
        let asked = recursive || options.contains("idmap")
        switch (mount.uidMappings, mount.gidMappings) {
        case (nil, nil):
            guard asked else { return nil }
            guard !container.uid.isEmpty && !container.gid.isEmpty else {
                throw BerthError(.invalidConfig, "\(label).options: \(recursive ? "ridmap" : "idmap") without uidMappings and gidMappings needs a new user namespace in linux.namespaces, whose maps it takes")
            }
            return MountIDMap(uidMappings: container.uid, gidMappings: container.gid, recursive: recursive)
        case (.some, nil): throw BerthError(.invalidConfig, "\(label).gidMappings: needed with uidMappings")
        case (nil, .some): throw BerthError(.invalidConfig, "\(label).uidMappings: needed with gidMappings")
        case (.some(let uid), .some(let gid)):
            let uidMappings = try mappings(uid, label: "\(label).uidMappings"), gidMappings = try mappings(gid, label: "\(label).gidMappings")
            if uidMappings.isEmpty { throw BerthError(.invalidConfig, "\(label).uidMappings: needs at least one mapping") }
            if gidMappings.isEmpty { throw BerthError(.invalidConfig, "\(label).gidMappings: needs at least one mapping") }
            return MountIDMap(uidMappings: uidMappings, gidMappings: gidMappings, recursive: recursive)
        }
    }

    /// What berth does not build yet: a filesystem the init mounts itself (tmpfs) belongs to the
    /// container's user namespace, and the init may idmap it only through a user namespace
    /// nested in that one, which the parent does not make. runc idmaps bind mounts only.
    static func checkIDMapBuildable(_ step: MountStep, createsUser: Bool) throws(BerthError) {
        guard step.idmap != nil, !step.isBind, createsUser else { return }
        throw BerthError(.unsupported, "\(step.label): an idmapped \(step.type ?? "") mount in a container with its own user namespace is not supported by berth yet (bind mounts are)")
    }
}

/// The descriptors of the idmapped mounts, made by create's parent as root of the host before
/// clone and inherited by the init (close-on-exec, so never by the container's process). A
/// mount's idmapping needs CAP_SYS_ADMIN over the user namespace of its filesystem: for a bind
/// of a host directory that is the host's, which an init inside a user namespace has lost.
struct IDMappedMountFiles {
    /// By mount label: a detached, idmapped clone of a bind mount's source, to be moved in place.
    var trees: [String: FileDescriptor] = [:]
    /// By mount label: the user namespace for a filesystem the init mounts itself (tmpfs),
    /// which the init owns and so may idmap.
    var namespaces: [String: FileDescriptor] = [:]
    private var userNamespaces: [FileDescriptor] = []

    init() {}

    /// One user namespace per distinct pair of maps; one open_tree(OPEN_TREE_CLONE) per bind.
    init(for plan: LaunchPlan) throws(BerthError) {
        var made: [String: FileDescriptor] = [:]
        do throws(BerthError) {
            for step in plan.mounts {
                guard let idmap = step.idmap else { continue }
                let uidMap = idmap.uidMappings.map(\.line).joined(), gidMap = idmap.gidMappings.map(\.line).joined()
                let key = uidMap + "/" + gidMap
                let namespace: FileDescriptor
                if let known = made[key] {
                    namespace = known
                } else {
                    do { namespace = try UserNamespaceFile.make(uidMap: uidMap, gidMap: gidMap) } catch { throw error.prefixed(step.label) }
                    made[key] = namespace
                    userNamespaces.append(namespace)
                }
                guard step.isBind, let source = step.source else {
                    namespaces[step.label] = namespace
                    continue
                }
                trees[step.label] = try Self.idmappedTree(source, recursive: step.options.flags.contains(.recursive), idmap: idmap, namespace: namespace,
                                                         label: step.label, kernel: LiveKernel())
            }
        } catch {
            close()
            throw error
        }
    }

    /// A detached clone of `source` (with its submounts for an rbind), idmapped.
    static func idmappedTree<Kernel: KernelCalls>(_ source: String, recursive: Bool, idmap: LaunchPlan.MountIDMap, namespace: FileDescriptor,
                                                  label: String, kernel: Kernel) throws(BerthError) -> FileDescriptor {
        let opened: FileDescriptor
        do { opened = try kernel.open(source, BERTH_O_PATH, mode: 0, relativeTo: nil) } catch { throw error.prefixed("\(label).source") }
        defer { kernel.close(opened) }
        let tree = try kernel.openTree(opened, flags: Mounts.openTreeClone | Mounts.openTreeCloexec | (recursive ? Mounts.atRecursive : 0), describing: source)
        do { try kernel.setIDMapping(tree, userNamespace: namespace, recursive: idmap.recursive, describing: source) } catch {
            kernel.close(tree)
            throw IDMappedMountFiles.explain(error, source: source).prefixed(label)
        }
        return tree
    }

    /// EINVAL from MOUNT_ATTR_IDMAP mostly means a filesystem this kernel cannot idmap (tmpfs
    /// before Linux 6.3, many network filesystems): said so, with the JSON path.
    static func explain(_ error: BerthError, source: String) -> BerthError {
        guard error.errno == EINVAL else { return error }
        return BerthError(.unsupported, "the filesystem of \(source) does not support idmapped mounts on this kernel", errno: EINVAL)
    }

    /// Every descriptor, for the init to keep when it closes what it inherited.
    var descriptors: [FileDescriptor] { Array(trees.values) + userNamespaces }

    func close() {
        for fd in descriptors { fd.close() }
    }
}

extension KernelCalls {
    /// Replaces the filesystem just mounted on `target` (opened again as `mounted`) by an
    /// idmapped clone of it: the clone is made and idmapped detached, the original unmounted,
    /// the clone moved onto the directory below. Used for what the init mounts itself (tmpfs),
    /// whose filesystem belongs to the init's user namespace.
    func idmapMounted(_ mounted: FileDescriptor, over target: FileDescriptor, namespace: FileDescriptor, recursive: Bool,
                      destination: String) throws(BerthError) {
        let clone = try openTree(mounted, flags: Mounts.openTreeClone | Mounts.openTreeCloexec, describing: destination)
        defer { close(clone) }
        do { try setIDMapping(clone, userNamespace: namespace, recursive: recursive, describing: destination) } catch {
            throw IDMappedMountFiles.explain(error, source: destination)
        }
        try unmount(mounted.procPath, detach: true)
        try moveMount(clone, onto: target, describing: destination)
    }
}
