import Glibc

/// Compiled filters kept on disk between runs, because libseccomp needs milliseconds for a
/// large multi-architecture profile and a container start should not.
///
/// One file per distinct filter, named by a 64-bit FNV-1a hash of the validated plan. The
/// file holds the full plan key, and a hit requires the key to be equal byte for byte, so a
/// hash collision is a miss, never a wrong filter. A file is also refused when its checksum
/// does not match (a torn or damaged write), when it is not owned by the caller's effective
/// uid, or when group or others may write it. Writes go to a temporary file that is renamed
/// into place. Every failure is a miss: the cache never makes compilation fail.
///
/// The directory should be private to the runtime, e.g. `/run/berth/seccomp` (tmpfs, emptied at
/// boot, which also drops entries for an older libseccomp). It is created with mode 0700 when
/// missing, but its parent must exist. Nothing is ever removed: the number of files is the
/// number of distinct profiles used since boot.
public struct SeccompCache: Sendable, Equatable {
    public var directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The cache of a state root (berth's --root, a ctr service's runtime root, ctr's root):
    /// `<root>/.seccomp`, beside the containers' directories, whose names cannot start with a dot.
    public init(stateRoot: String) {
        self.init(directory: stateRoot + "/.seccomp")
    }

    static let magic: [UInt8] = Array("BERTHSCF".utf8)
    static let formatVersion: UInt32 = 1

    func path(for key: [UInt8]) -> String {
        "\(directory)/\(hex(fnv1a(key), 16)).bpf"
    }

    /// The program and warnings stored for `key`, or nil.
    func load(key: [UInt8]) -> (instructions: [BPFInstruction], warnings: [String])? {
        let fd = open(path(for: key), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid(),
              info.st_mode & (S_IWGRP | S_IWOTH) == 0, info.st_size > 0, info.st_size < 1 << 20 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            filled += n
        }
        return Self.decode(bytes, key: key)
    }

    /// Stores a program for `key`; failures are ignored.
    func store(key: [UInt8], instructions: [BPFInstruction], warnings: [String]) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { return }
        let bytes = Self.encode(key: key, instructions: instructions, warnings: warnings)
        let final = path(for: key)
        let temporary = "\(final).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            written += n
        }
        close(fd)
        if written != bytes.count || rename(temporary, final) != 0 {
            unlink(temporary)
        }
    }

    static func encode(key: [UInt8], instructions: [BPFInstruction], warnings: [String]) -> [UInt8] {
        var out = magic
        func append(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
        append(formatVersion)
        append(UInt32(key.count))
        out += key
        append(UInt32(warnings.count))
        for warning in warnings {
            append(UInt32(warning.utf8.count))
            out += warning.utf8
        }
        append(UInt32(instructions.count))
        out += SeccompProgram(instructions: instructions).bytes  // host byte order, as the kernel reads it
        withUnsafeBytes(of: fnv1a(out).littleEndian) { out += $0 }
        return out
    }

    static func decode(_ bytes: [UInt8], key: [UInt8]) -> (instructions: [BPFInstruction], warnings: [String])? {
        guard bytes.count >= magic.count + 8 + 8 else { return nil }
        let body = bytes[..<(bytes.count - 8)]
        let checksum = bytes[(bytes.count - 8)...].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard checksum == fnv1a(body), body.starts(with: magic) else { return nil }
        var offset = body.startIndex + magic.count
        func u32() -> UInt32? {
            guard body.endIndex - offset >= 4 else { return nil }
            defer { offset += 4 }
            return body[offset..<(offset + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        }
        func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, body.endIndex - offset >= count else { return nil }
            defer { offset += count }
            return body[offset..<(offset + count)]
        }
        guard u32() == formatVersion, let keyLength = u32(), let storedKey = take(Int(keyLength)),
              storedKey.count == key.count,
              key.isEmpty || storedKey.withUnsafeBytes({ a in key.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, b.count) == 0 } }), let warningCount = u32() else { return nil }
        var warnings: [String] = []
        for _ in 0..<warningCount {
            guard let length = u32(), let text = take(Int(length)) else { return nil }
            warnings.append(String(decoding: text, as: UTF8.self))
        }
        guard let count = u32(), count > 0, Int(count) <= SeccompProgram.maxInstructions,
              let code = take(Int(count) * 8), offset == body.endIndex,
              let instructions = SeccompProgram.instructions(fromBytes: Array(code)) else { return nil }
        return (instructions, warnings)
    }
}

/// FNV-1a over 64-bit little-endian words (then the remaining bytes): a fast, stable
/// (unseeded) hash for file names and checksums. Not collision resistant; the cache compares
/// whole keys.
func fnv1a<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    if let hash = bytes.withContiguousStorageIfAvailable({ fnv1a(UnsafeRawBufferPointer($0)) }) { return hash }
    return fnv1a(Array(bytes))
}

func fnv1a(_ raw: UnsafeRawBufferPointer) -> UInt64 {
    let prime: UInt64 = 0x0000_0100_0000_01b3
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    var offset = 0
    while offset + 8 <= raw.count {
        hash = (hash ^ UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))) &* prime
        offset += 8
    }
    while offset < raw.count {
        hash = (hash ^ UInt64(raw[offset])) &* prime
        offset += 1
    }
    return hash
}
