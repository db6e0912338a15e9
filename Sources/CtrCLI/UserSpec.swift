import BerthCore
import Glibc
import Linux

/// `-u UID[:GID]` or `-u NAME[:GROUP]`. Names are looked up in the container's /etc/passwd and
/// /etc/group, opened inside the rootfs (RESOLVE_IN_ROOT) so that a symlink in the image cannot
/// make ctr read the host's files.
enum UserSpec {
    static func resolve(_ text: String, rootfs: String, flag: String = "--user") throws(BerthError) -> (uid: UInt32, gid: UInt32) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not USER[:GROUP] (e.g. \(flag) 1000:1000 or \(flag) nobody)")
        }
        var uid: UInt32
        var gid: UInt32 = 0
        if let number = UInt32(parts[0]) {
            uid = number
            // A numeric uid with a passwd entry gets that entry's group, as docker does.
            if let entry = try? entries(rootfs: rootfs, file: "/etc/passwd").first(where: { $0.count > 3 && $0[2] == parts[0] }),
               let group = UInt32(entry[3]) {
                gid = group
            }
        } else {
            guard let entry = try entries(rootfs: rootfs, file: "/etc/passwd").first(where: { $0.count > 3 && $0[0] == parts[0] }),
                  let number = UInt32(entry[2]), let group = UInt32(entry[3]) else {
                throw BerthError(.invalidArgument, "flag \(flag): no user \"\(parts[0])\" in the container's /etc/passwd (e.g. \(flag) 1000:1000)")
            }
            uid = number
            gid = group
        }
        if parts.count == 2 {
            if let number = UInt32(parts[1]) {
                gid = number
            } else {
                guard let entry = try entries(rootfs: rootfs, file: "/etc/group").first(where: { $0.count > 2 && $0[0] == parts[1] }),
                      let number = UInt32(entry[2]) else {
                    throw BerthError(.invalidArgument, "flag \(flag): no group \"\(parts[1])\" in the container's /etc/group (e.g. \(flag) 1000:1000)")
                }
                gid = number
            }
        }
        return (uid, gid)
    }

    /// The colon-separated fields of each line of `file` inside `rootfs`; empty if there is none.
    private static func entries(rootfs: String, file: String) throws(BerthError) -> [[String]] {
        let root = try Rootfs(path: rootfs)
        defer { root.close() }
        let fd: FileDescriptor
        do { fd = try root.open(file, O_RDONLY) } catch where error.errno == ENOENT { return [] }
        defer { fd.close() }
        let text = String(decoding: try fd.readAll(limit: 4 << 20), as: UTF8.self)
        return text.split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
    }
}
