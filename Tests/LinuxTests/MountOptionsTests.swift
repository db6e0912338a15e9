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

    @Test(arguments: ["private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"])
    func everyRootfsPropagationNameIsKnown(name: String) {
        #expect(MountOptions.propagation(named: name) != nil)
    }

    @Test func unknownRootfsPropagationIsNil() {
        #expect(MountOptions.propagation(named: "sideways") == nil)
    }
}
