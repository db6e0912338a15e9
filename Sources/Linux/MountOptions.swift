/// mount(2) flags, spelled out because glibc's header exposes them as an anonymous enum whose
/// Swift type varies.
public struct MountFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let readOnly = MountFlags(rawValue: 1)
    public static let noSuid = MountFlags(rawValue: 2)
    public static let noDev = MountFlags(rawValue: 4)
    public static let noExec = MountFlags(rawValue: 8)
    public static let synchronous = MountFlags(rawValue: 16)
    public static let remount = MountFlags(rawValue: 32)
    public static let mandatoryLock = MountFlags(rawValue: 64)
    public static let dirSync = MountFlags(rawValue: 128)
    public static let noSymfollow = MountFlags(rawValue: 256)
    public static let noAtime = MountFlags(rawValue: 1024)
    public static let noDirAtime = MountFlags(rawValue: 2048)
    public static let bind = MountFlags(rawValue: 4096)
    public static let move = MountFlags(rawValue: 8192)
    public static let recursive = MountFlags(rawValue: 16384)
    public static let silent = MountFlags(rawValue: 32768)
    public static let unbindable = MountFlags(rawValue: 1 << 17)
    public static let `private` = MountFlags(rawValue: 1 << 18)
    public static let slave = MountFlags(rawValue: 1 << 19)
    public static let shared = MountFlags(rawValue: 1 << 20)
    public static let relatime = MountFlags(rawValue: 1 << 21)
    public static let iVersion = MountFlags(rawValue: 1 << 23)
    public static let strictAtime = MountFlags(rawValue: 1 << 24)
    public static let lazyTime = MountFlags(rawValue: 1 << 25)

    public static let propagation: MountFlags = [.unbindable, .private, .slave, .shared]
}

/// The meaning of a mount's `options` list: flags to set, flags to clear, propagation changes
/// (applied in a second mount(2) call, which is the only way the kernel takes them), and the
/// rest as the filesystem's data string.
public struct MountOptions: Equatable, Sendable {
    public var flags: MountFlags = []
    public var clearedFlags: MountFlags = []
    public var propagation: [MountFlags] = []
    public var data: [String] = []
    /// The recursive options (`rro`, `rnosuid`, `rnoatime`, ...): attributes mount_setattr sets
    /// and clears on the mount and every mount below it, once it is in place.
    public var recursiveSet: Mounts.Attributes = []
    public var recursiveClear: Mounts.Attributes = []
    /// `idmap` or `ridmap` was given: the mount is to be idmapped.
    public var idmapped = false
    /// `tmpcopyup`: a tmpfs starts with a copy of the directory it covers (runc's extension).
    public var copyUp = false

    public init() {}

    public var isBind: Bool { flags.contains(.bind) }
    public var isReadOnly: Bool { flags.contains(.readOnly) }
    /// The atime options replace each other rather than add up.
    static let atimeFlags: MountFlags = [.noAtime, .relatime, .strictAtime]

    /// Parses an OCI mount's options. Unknown words are filesystem data (`mode=755`, `size=64k`),
    /// which the kernel checks.
    public init(parsing options: [String]) {
        for option in options {
            if let (set, clear) = MountOptions.flagTable[option] {
                if set.intersection(MountOptions.atimeFlags) != [] { flags.subtract(MountOptions.atimeFlags) }
                flags.formUnion(set)
                flags.subtract(clear)
                clearedFlags.formUnion(clear)
                clearedFlags.subtract(set)
            } else if let propagationFlags = MountOptions.propagationTable[option] {
                propagation.append(propagationFlags)
            } else if let (set, clear) = MountOptions.recursiveTable[option] {
                recursiveSet.subtract(clear)
                recursiveSet.formUnion(set)
                recursiveClear.subtract(set)
                recursiveClear.formUnion(clear)
            } else if option == "idmap" || option == "ridmap" {
                idmapped = true
            } else if option == "tmpcopyup" {
                copyUp = true
            } else {
                data.append(option)
            }
        }
    }

    public var dataString: String { data.joined(separator: ",") }

    /// The flags a bind mount takes in its second step, a remount (the kernel ignores all but
    /// MS_REC on the first); nil when the options neither set nor clear any. A remount sets the
    /// mount's flags to exactly these, so a cleared flag is simply left out; only an atime mode
    /// is kept by the kernel when none is given, so clearing noatime or strictatime names the
    /// default (relatime) explicitly.
    public var bindRemountFlags: MountFlags? {
        var remaining = flags.subtracting([.bind, .recursive, .remount])
        guard !remaining.isEmpty || !clearedFlags.subtracting([.bind, .recursive, .remount]).isEmpty else { return nil }
        if !clearedFlags.intersection(MountOptions.atimeFlags).isEmpty && remaining.intersection(MountOptions.atimeFlags).isEmpty {
            remaining.insert(.relatime)
        }
        return remaining
    }

    static let flagTable: [String: (MountFlags, MountFlags)] = [
        "defaults": ([], []),
        "ro": (.readOnly, []), "rw": ([], .readOnly),
        "suid": ([], .noSuid), "nosuid": (.noSuid, []),
        "dev": ([], .noDev), "nodev": (.noDev, []),
        "exec": ([], .noExec), "noexec": (.noExec, []),
        "sync": (.synchronous, []), "async": ([], .synchronous),
        "dirsync": (.dirSync, []),
        "remount": (.remount, []),
        "mand": (.mandatoryLock, []), "nomand": ([], .mandatoryLock),
        "atime": ([], .noAtime), "noatime": (.noAtime, []),
        "diratime": ([], .noDirAtime), "nodiratime": (.noDirAtime, []),
        "relatime": (.relatime, []), "norelatime": ([], .relatime),
        "strictatime": (.strictAtime, []), "nostrictatime": ([], .strictAtime),
        "lazytime": (.lazyTime, []), "nolazytime": ([], .lazyTime),
        "iversion": (.iVersion, []), "noiversion": ([], .iVersion),
        "symfollow": ([], .noSymfollow), "nosymfollow": (.noSymfollow, []),
        "silent": (.silent, []), "loud": ([], .silent),
        "bind": (.bind, []), "rbind": ([.bind, .recursive], []),
    ]

    /// The recursive options of mount_setattr(2), as runc and crun take them: (set, clear). An
    /// atime mode is one value of a 3-bit field, so setting one clears the whole field; the
    /// negated atime options go back to the kernel's default, relatime (`rnorelatime`, which
    /// has no default to go back to, means strictatime).
    static let recursiveTable: [String: (Mounts.Attributes, Mounts.Attributes)] = [
        "rro": (.readOnly, []), "rrw": ([], .readOnly),
        "rnosuid": (.noSuid, []), "rsuid": ([], .noSuid),
        "rnodev": (.noDev, []), "rdev": ([], .noDev),
        "rnoexec": (.noExec, []), "rexec": ([], .noExec),
        "rnodiratime": (.noDirAtime, []), "rdiratime": ([], .noDirAtime),
        "rnosymfollow": (.noSymfollow, []), "rsymfollow": ([], .noSymfollow),
        "rrelatime": ([], .atime), "ratime": ([], .atime), "rnostrictatime": ([], .atime),
        "rnoatime": (.noAtime, .atime), "rstrictatime": (.strictAtime, .atime), "rnorelatime": (.strictAtime, .atime),
    ]

    static let propagationTable: [String: MountFlags] = [
        "private": .private, "rprivate": [.private, .recursive],
        "shared": .shared, "rshared": [.shared, .recursive],
        "slave": .slave, "rslave": [.slave, .recursive],
        "unbindable": .unbindable, "runbindable": [.unbindable, .recursive],
    ]

    /// Every option word that is a flag or a propagation change, for `berth features`.
    public static var knownOptions: [String] {
        (Array(flagTable.keys) + Array(propagationTable.keys) + Array(recursiveTable.keys) + ["tmpcopyup"]).sorted()
    }

    /// The propagation flags for a `rootfsPropagation` value, or nil when it is not one.
    public static func propagation(named name: String) -> MountFlags? { propagationTable[name] }
}
