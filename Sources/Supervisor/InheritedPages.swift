import CShim
import Glibc
import Linux

/// The supervisor is a fork of ctr, so it starts with every page of the binary that ctr touched
/// mapped: argument parsing, the spec builder, the seccomp compiler; starting a container (and
/// every restart) maps the runtime's code too. With one service nobody else maps these pages,
/// and they count as the supervisor's private memory for as long as it runs, though an idle
/// loop never touches them again.
///
/// `dropThenPoll` unmaps (MADV_DONTNEED) the pages of the executable's private mappings that
/// are straight from the page cache, so they come back only when the supervisor runs that code
/// or reads that data again. Copy-on-write pages (a GOT patched at start-up, Swift metadata the
/// runtime wrote) are anonymous: DONTNEED would throw their contents away, so they are kept;
/// `berth_drop_pages_and_poll` tells them apart page by page from /proc/self/pagemap. A file
/// page that comes back holds what it held before: it was never written.
///
/// The kernel maps up to 64 KiB around each page fault on a cached file (fault-around; neither
/// MADV_RANDOM nor MADV_COLD turns it off), so each piece of code that runs after the drop
/// costs its whole neighbourhood. The drop therefore happens in the C function that then
/// blocks in poll(): until the next event, nothing but that function and syscall(2) runs.
enum InheritedPages {
    /// How long the loop must have had nothing to do before the drop.
    static let quietNanoseconds: Int64 = 1_000_000_000

    /// Drops the pages, then polls `entries` like poll(2).
    static func dropThenPoll(_ entries: inout [pollfd], timeout: Int32) -> Int32 {
        // The code last: whatever runs after its drop is mapped again.
        let mappings = executableMappings().sorted { !$0.executable && $1.executable }
        let starts = mappings.map(\.start), ends = mappings.map(\.end)
        // The heap ctr freed (the seccomp compiler's, when it built the filter) stays with the
        // process until trimmed; so does what reading the mappings took.
        _ = mallocTrim(0)
        return berth_drop_pages_and_poll(starts, ends, Int32(mappings.count), &entries, UInt(entries.count), timeout)
    }

    /// The private mappings of the executable, from /proc/self/maps.
    private static func executableMappings() -> [(start: UInt, end: UInt, executable: Bool)] {
        guard let maps = try? Files.readString("/proc/self/maps"),
              let executable = readLink("/proc/self/exe") else { return [] }
        var mappings: [(start: UInt, end: UInt, executable: Bool)] = []
        for line in maps.utf8.split(separator: UInt8(ascii: "\n")) {
            // "start-end perms offset dev inode path"; the path may contain spaces.
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[1].last == UInt8(ascii: "p"),
                  String(decoding: fields[5].drop { $0 == UInt8(ascii: " ") }, as: UTF8.self) == executable else { continue }
            let bounds = fields[0].split(separator: UInt8(ascii: "-"))
            guard bounds.count == 2, let start = UInt(String(decoding: bounds[0], as: UTF8.self), radix: 16),
                  let end = UInt(String(decoding: bounds[1], as: UTF8.self), radix: 16) else { continue }
            mappings.append((start, end, fields[1].dropLast().last == UInt8(ascii: "x")))
        }
        return mappings
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
