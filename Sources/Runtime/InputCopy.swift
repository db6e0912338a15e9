import Glibc
import Linux

/// Copies a non-blocking source into a non-blocking target without ever blocking: berth's and
/// ctr's stdin into a pty master (or a service's stdin fifo), and in the supervisor stdin.fifo
/// into the container's pty master. What the target cannot take yet waits in `pending`, and the source
/// is not read meanwhile, so a container that does not read its input cannot hang the copier.
public struct InputCopy {
    public let source: FileDescriptor
    /// The supervisor points it at each new run's master.
    public var target: FileDescriptor
    /// The target is a terminal: the source's end of file is sent as the EOF character.
    public let typesEndOfFile: Bool
    public private(set) var pending: [UInt8] = []
    /// The source has ended and everything has been written.
    public private(set) var finished = false
    private var sourceEnded = false
    private var lastByte: UInt8 = UInt8(ascii: "\n")

    /// The EOF character of a terminal in its default (canonical) mode, Ctrl-D.
    public static let endOfFile: UInt8 = 4

    public init(source: FileDescriptor, target: FileDescriptor, typesEndOfFile: Bool) {
        self.source = source
        self.target = target
        self.typesEndOfFile = typesEndOfFile
    }

    /// The poll entry for this turn: the source while nothing waits, the target's POLLOUT otherwise.
    public var entry: pollfd? {
        if finished { return nil }
        if !pending.isEmpty { return pollfd(fd: target.rawValue, events: Int16(POLLOUT), revents: 0) }
        return sourceEnded ? nil : pollfd(fd: source.rawValue, events: Int16(POLLIN), revents: 0)
    }

    /// Called when `entry` was ready: reads the source or writes what is pending.
    public mutating func step() {
        if pending.isEmpty && !sourceEnded {
            var buffer = [UInt8](repeating: 0, count: 16 << 10)
            let got = buffer.withUnsafeMutableBytes { Glibc.read(source.rawValue, $0.baseAddress, $0.count) }
            if got < 0 && (Glibc.errno == EINTR || Glibc.errno == EAGAIN) { return }
            if got <= 0 {
                sourceEnded = true
                // In canonical mode a first Ctrl-D only ends an unfinished line; a second is
                // the end of file.
                if typesEndOfFile { pending = lastByte == UInt8(ascii: "\n") ? [InputCopy.endOfFile] : [InputCopy.endOfFile, InputCopy.endOfFile] }
            } else {
                pending = Array(buffer[0..<got])
                lastByte = pending[got - 1]
            }
        }
        while !pending.isEmpty {
            let wrote = pending.withUnsafeBytes { Glibc.write(target.rawValue, $0.baseAddress, $0.count) }
            if wrote < 0 && Glibc.errno == EINTR { continue }
            if wrote < 0 && Glibc.errno == EAGAIN { return }
            // The reader is gone (EIO from a master whose terminal closed, EPIPE): this input is
            // dropped; what comes next goes to the next target, if any.
            if wrote <= 0 {
                pending = []
                break
            }
            pending.removeFirst(wrote)
        }
        if sourceEnded && pending.isEmpty { finished = true }
    }
}
