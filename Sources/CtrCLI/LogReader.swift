import Glibc
import Linux
import SupervisorAPI

/// Reading a service's log: all of it (log.1, then log) for `ctr logs`, and following it as the
/// supervisor appends and rotates, for `ctr logs -f` and an attached `ctr run`.
struct LogReader {
    let service: ServiceDirectory
    private var file: FileDescriptor?
    private var inode: UInt64 = 0
    private var pending: [UInt8] = []

    /// Starts at the beginning of log.1 when it exists, else of log. With `atEnd`, starts where
    /// the log ends now: only what is written from here on is read.
    init(service: ServiceDirectory, atEnd: Bool = false) {
        self.service = service
        if !atEnd, let rotated = try? FileDescriptor.open(service.rotatedLogPath, O_RDONLY) {
            file = rotated
            // The rotated file is done; moving on from it is decided by `log`'s inode.
            inode = 0
        } else if let current = try? FileDescriptor.open(service.logPath, O_RDONLY) {
            file = current
            inode = LogReader.inode(of: current)
            if atEnd { _ = Glibc.lseek(current.rawValue, 0, SEEK_END) }
        }
    }

    /// Opens an already open descriptor of the log (an attached run opens it before the
    /// supervisor exists, so nothing the container writes can be missed).
    init(service: ServiceDirectory, descriptor: FileDescriptor) {
        self.service = service
        file = descriptor
        inode = LogReader.inode(of: descriptor)
    }

    /// The complete lines written since the last call. When the file has ended and `log` is now
    /// another file (rotation), moves on to it.
    mutating func readLines() -> [LogLine] {
        var lines: [LogLine] = []
        while let current = file {
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            let got = chunk.withUnsafeMutableBytes { Glibc.read(current.rawValue, $0.baseAddress, $0.count) }
            if got < 0 && Glibc.errno == EINTR { continue }
            if got > 0 {
                pending += chunk[0..<got]
                continue
            }
            // End of this file: if `log` is a different file now, it was rotated under us.
            guard let next = try? FileDescriptor.open(service.logPath, O_RDONLY) else { break }
            let nextInode = LogReader.inode(of: next)
            if nextInode == inode {
                next.close()
                break
            }
            current.close()
            file = next
            inode = nextInode
        }
        var start = 0
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if let line = LogLine(parsing: pending[start..<newline]) { lines.append(line) }
            start = newline + 1
        }
        pending.removeFirst(start)
        // LogLine's text slices index into the buffer they came from; give them their own.
        return lines.map { LogLine(timestamp: $0.timestamp, stream: $0.stream, partial: $0.partial, text: ArraySlice(Array($0.text))) }
    }

    func close() { file?.close() }

    private static func inode(of fd: FileDescriptor) -> UInt64 {
        (try? fd.stat()).map { UInt64($0.st_ino) } ?? 0
    }
}

/// Writes log lines back out: stdout lines to stdout, stderr lines to stderr, as the container
/// wrote them; with `timestamps` each line starts with its time.
struct LogPrinter {
    var timestamps = false

    func print(_ lines: some Sequence<LogLine>) {
        var out: [UInt8] = []
        var err: [UInt8] = []
        for line in lines {
            var bytes: [UInt8] = []
            if timestamps { bytes += Array(line.timestamp.utf8) + [UInt8(ascii: " ")] }
            bytes += line.text
            if !line.partial { bytes.append(UInt8(ascii: "\n")) }
            if line.stream == .stdout { out += bytes } else { err += bytes }
            // Interleaving stays close to the original without a write per line.
            if out.count + err.count > 32 << 10 { flush(&out, &err) }
        }
        flush(&out, &err)
    }

    private func flush(_ out: inout [UInt8], _ err: inout [UInt8]) {
        if !out.isEmpty { _ = try? FileDescriptor.standardOutput.writeAll(out) }
        if !err.isEmpty { _ = try? FileDescriptor.standardError.writeAll(err) }
        out.removeAll(keepingCapacity: true)
        err.removeAll(keepingCapacity: true)
    }
}
