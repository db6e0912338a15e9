import BerthCore
import CShim
import Glibc

extension KernelCalls {
    /// Copies what the directory `source` holds into the directory `destination`, as runc's
    /// `tmpcopyup` does: directories, files, symbolic links, device nodes and fifos, with their
    /// modes and owners (not their times; a chown clears set-user-ID bits, as in runc). Each name
    /// is opened relative to its directory without following a link, so a link in the tree is
    /// copied as a link and never leads the copy elsewhere. Needs the umask at 0 for exact modes.
    public func copyTree(from source: FileDescriptor, to destination: FileDescriptor, describing path: String) throws(BerthError) {
        for name in try directoryEntries(source, describing: path) {
            let entryPath = path + "/" + name
            let item = try open(name, in: source, BERTH_O_PATH | O_NOFOLLOW, mode: 0, resolve: 0, describing: entryPath)
            let info: Glibc.stat
            do { info = try status(of: item, describing: entryPath) } catch { close(item); throw error }
            close(item)
            let mode = info.st_mode & 0o7777
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try makeDirectory(name, in: destination, mode: mode, describing: entryPath)
                let from = try open(name, in: source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, mode: 0, resolve: 0, describing: entryPath)
                defer { close(from) }
                let to = try open(name, in: destination, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, mode: 0, resolve: 0, describing: entryPath)
                defer { close(to) }
                try copyTree(from: from, to: to, describing: entryPath)
            case S_IFREG:
                let from = try open(name, in: source, O_RDONLY | O_NOFOLLOW, mode: 0, resolve: 0, describing: entryPath)
                defer { close(from) }
                let to = try open(name, in: destination, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode, resolve: 0, describing: entryPath)
                defer { close(to) }
                while true {
                    let chunk = try read(from, upTo: 1 << 16)
                    if chunk.isEmpty { break }
                    try writeAll(to, chunk, describing: entryPath)
                }
            case S_IFLNK:
                guard let target = readLink(name, in: source) else { throw BerthError.systemCall("readlink", entryPath, errno: EINVAL) }
                try makeSymbolicLink(name, in: destination, to: target, describing: entryPath)
            case S_IFCHR, S_IFBLK, S_IFIFO:
                try makeNode(name, in: destination, mode: info.st_mode, device: info.st_rdev, describing: entryPath)
            default:
                // A socket is a name for a listener that is not there: nothing to copy.
                continue
            }
            try changeOwner(name, in: destination, uid: info.st_uid, gid: info.st_gid, describing: entryPath)
        }
    }
}
