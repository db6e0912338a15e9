import BerthCore
import Glibc
import Linux

/// The service's log file with a size cap and one rotation: when the next write would take
/// `log` past `maximumBytes`, `log` becomes `log.1` (replacing the previous one) and a new
/// `log` starts. At most about twice the cap is ever on disk.
struct LogFile {
    let path: String
    let rotatedPath: String
    let maximumBytes: Int
    private var descriptor: FileDescriptor
    private(set) var size: Int

    init(path: String, rotatedPath: String, maximumBytes: Int) throws(BerthError) {
        self.path = path
        self.rotatedPath = rotatedPath
        self.maximumBytes = max(maximumBytes, 1)
        descriptor = try LogFile.open(path)
        size = Int(try descriptor.stat().st_size)
    }

    /// Appends whole lines. A batch never straddles a rotation by more than itself: the
    /// rotation happens before the batch that would cross the cap.
    mutating func append(_ bytes: [UInt8]) throws(BerthError) {
        guard !bytes.isEmpty else { return }
        if size > 0 && size + bytes.count > maximumBytes { try rotate() }
        try descriptor.writeAll(bytes)
        size += bytes.count
    }

    private mutating func rotate() throws(BerthError) {
        try sys("rename", path) { Glibc.rename(path, rotatedPath) }
        let fresh = try LogFile.open(path)
        descriptor.close()
        descriptor = fresh
        size = 0
    }

    func close() { descriptor.close() }

    private static func open(_ path: String) throws(BerthError) -> FileDescriptor {
        try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
    }
}
