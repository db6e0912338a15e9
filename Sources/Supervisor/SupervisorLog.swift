import BerthCore
import Glibc
import Linux
import SupervisorAPI

/// The supervisor's own messages, in supervisor.log beside the service's log. Not stderr: while
/// a container is being created, descriptor 2 is that container's stderr fifo.
enum SupervisorLog {
    nonisolated(unsafe) static var descriptor: FileDescriptor?

    static func open(_ path: String) {
        descriptor = try? FileDescriptor.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
    }

    static func warn(_ message: String) {
        _ = try? descriptor?.writeAll("\(Timestamp.now()) supervisor[\(Glibc.getpid())]: \(message)\n")
    }
}
