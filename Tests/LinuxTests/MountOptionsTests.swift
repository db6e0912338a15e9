import Linux
import Testing

@Suite struct MountOptionsTests {
    @Test func flagsAndDataAreSeparated() {
        let options = MountOptions(parsing: ["nosuid", "strictatime", "mode=755", "size=65536k"])
        #expect(options.flags == [.noSuid, .strictAtime])
        #expect(options.dataString == "mode=755,size=65536k")
        #expect(options.propagation.isEmpty)
    }

    @Test func laterOptionWinsOverEarlierOpposite() {
        let options = MountOptions(parsing: ["ro", "rw", "noexec", "exec"])
        #expect(!options.isReadOnly)
        #expect(!options.flags.contains(.noExec))
        #expect(options.clearedFlags.contains(.readOnly))
    }

    @Test func atimeOptionsReplaceEachOther() {
        let options = MountOptions(parsing: ["noatime", "relatime"])
        #expect(options.flags == [.relatime])
    }

    @Test func rbindIsRecursiveBind() {
        let options = MountOptions(parsing: ["rbind", "ro"])
        #expect(options.isBind)
        #expect(options.flags == [.bind, .recursive, .readOnly])
    }

    @Test func propagationOptionsAreKeptApartInOrder() {
        let options = MountOptions(parsing: ["bind", "rslave", "private"])
        #expect(options.propagation == [[.slave, .recursive], .private])
        #expect(options.flags == [.bind])
    }

    @Test func recursiveOptionsBecomeMountAttributes() {
        let options = MountOptions(parsing: ["rbind", "rro", "rnosuid", "rnoexec", "rdev", "rnoatime"])
        #expect(options.recursiveSet == [.readOnly, .noSuid, .noExec, .noAtime])
        #expect(options.recursiveClear == [.noDev, .atime])
        #expect(options.data.isEmpty, "never passed on as filesystem data, where a bind mount ignores them")
        #expect(options.flags == [.bind, .recursive])
    }

    @Test func laterRecursiveOptionWins() {
        let options = MountOptions(parsing: ["rro", "rrw", "rnoatime", "rstrictatime", "rnosymfollow", "rsymfollow"])
        #expect(options.recursiveSet == [.strictAtime])
        #expect(options.recursiveClear == [.readOnly, .atime, .noSymfollow])
        let relatime = MountOptions(parsing: ["rnoatime", "rrelatime"])
        #expect(relatime.recursiveSet == [] && relatime.recursiveClear == .atime)
    }

    @Test func idmapIsRecognisedNotData() {
        #expect(MountOptions(parsing: ["bind", "idmap"]).idmapped)
        #expect(MountOptions(parsing: ["ridmap"]).idmapped && MountOptions(parsing: ["ridmap"]).data.isEmpty)
    }

    /// A bind's remount sets exactly the flags asked for: clearing ones is a reason to remount,
    /// and clearing an atime mode names relatime, which the kernel would otherwise keep as is.
    @Test func clearedFlagsMakeABindRemount() {
        #expect(MountOptions(parsing: ["rbind", "rw"]).bindRemountFlags == [])
        #expect(MountOptions(parsing: ["bind", "dev", "exec", "suid", "atime"]).bindRemountFlags == [.relatime])
        #expect(MountOptions(parsing: ["bind", "ro", "nosuid"]).bindRemountFlags == [.readOnly, .noSuid])
        #expect(MountOptions(parsing: ["rbind", "rprivate"]).bindRemountFlags == nil)
    }

    @Test func statfsFlagsMapToMountFlags() {
        // ST_RDONLY | ST_NOSUID | ST_RELATIME (4096, which is MS_BIND's value)
        #expect(Mounts.mountFlags(statfsFlags: 1 | 2 | 4096) == [.readOnly, .noSuid, .relatime])
        #expect(Mounts.mountFlags(statfsFlags: 4 | 8 | 1024 | 2048) == [.noDev, .noExec, .noAtime, .noDirAtime])
        #expect(Mounts.mountFlags(statfsFlags: 0) == [.strictAtime])
    }

    @Test(arguments: ["private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"])
    func everyRootfsPropagationNameIsKnown(name: String) {
        #expect(MountOptions.propagation(named: name) != nil)
    }

    @Test func unknownRootfsPropagationIsNil() {
        #expect(MountOptions.propagation(named: "sideways") == nil)
    }
}
