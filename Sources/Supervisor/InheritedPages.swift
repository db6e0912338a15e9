import Glibc
import Linux

/// The supervisor is a fork of ctr, so it starts with every page of the binary that ctr touched
/// mapped: argument parsing, the spec builder, the seccomp compiler. With one service nobody
/// else maps them, and they count as the supervisor's private memory for as long as it runs.
///
/// Unmapping (MADV_DONTNEED) the read-only file-backed mappings of the executable lets them come
/// back only when the supervisor runs that code again. It is safe only where the mapping holds no
/// private (anonymous, copy-on-write) pages, whose contents DONTNEED would throw away: a GOT
/// patched at start-up is one. Those mappings are left alone.
enum InheritedPages {
    static func drop() {
        guard let smaps = try? Files.readString("/proc/self/smaps"),
              let executable = readLink("/proc/self/exe") else { return }
        var candidate: (start: UInt, end: UInt)?
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), fields.count >= 5, !range.hasSuffix(":") {
                // A mapping's header: "start-end perms offset dev inode [path]".
                candidate = nil
                let bounds = range.split(separator: "-")
                guard fields.count == 6, fields[5] == executable, !fields[1].contains("w"), bounds.count == 2,
                      let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16) else { continue }
                candidate = (start, end)
            } else if let mapping = candidate, fields.first == "Anonymous:", fields.count >= 2 {
                candidate = nil
                guard fields[1] == "0", let address = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
                _ = Glibc.madvise(address, Int(mapping.end - mapping.start), MADV_DONTNEED)
            }
        }
        // The heap ctr freed (the seccomp compiler's, when it built the filter) stays with the
        // process until trimmed.
        _ = mallocTrim(0)
    }

    private static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = Glibc.readlink(path, &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// glibc's malloc_trim(3); <malloc.h> is not part of Swift's Glibc module.
@_silgen_name("malloc_trim")
private func mallocTrim(_ pad: Int) -> Int32
