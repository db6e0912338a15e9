import BerthCore
import CShim
import Glibc
import Linux

/// runc's rule (1.1+, `shouldSendMountSources`): in a container with a user namespace and a
/// mount namespace, bind sources are opened by the runtime as root of the host, not by the init,
/// which is root over the mapped ids only and may not reach a source under a host directory it
/// cannot search (0700, another user's). As runc does, the parent opens each source inside the
/// init's new mount namespace, before the init has changed it, so that the init binds a mount of
/// its own namespace with the flags the kernel locked in it; the init binds from the descriptor.
enum BindSources {
    /// Opens and sends each bind source that exists. One that does not yet is left to the init:
    /// an earlier mount of the same config may make it, and the init looks for it then.
    static func send(_ plan: LaunchPlan, pid: pid_t, over channel: SyncChannel) throws(BerthError) {
        guard plan.bindsSourcesAsHostRoot, !plan.stagedNamespaces else { return }
        let kernel = LiveKernel()
        // The init's root is the host's / in its mount namespace: RESOLVE_IN_ROOT resolves a
        // symlink in the source there, as a path walk of the init's own would.
        let root = try FileDescriptor.open("/proc/\(pid)/root", BERTH_O_PATH | O_DIRECTORY)
        defer { root.close() }
        for step in plan.mounts where step.isBind {
            guard let source = step.source else { continue }
            let opened: FileDescriptor
            do throws(BerthError) { opened = try kernel.open(source, in: root, BERTH_O_PATH, mode: 0, resolve: Rootfs<LiveKernel>.resolveInRoot, describing: source) } catch where error.errno == ENOENT {
                continue
            } catch { throw error.prefixed("\(step.label).source") }
            defer { opened.close() }
            try channel.send(.bindSource(step.label), passing: opened)
        }
    }
}
