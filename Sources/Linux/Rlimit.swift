import BerthCore

/// Resource limits by their OCI names.
public enum Rlimit {
    static let resources: [String: Int32] = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
        "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
        "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
        "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
    ]

    /// The resource number of an OCI rlimit type; nil when there is none.
    public static func resource(_ name: String) -> Int32? { resources[name] }

    /// prlimit(2) on the calling process.
    public static func set(_ resource: Int32, soft: UInt64, hard: UInt64, name: String) throws(BerthError) {
        try LiveKernel().setResourceLimit(resource, soft: soft, hard: hard, name: name)
    }
}
