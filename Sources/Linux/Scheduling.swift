import BerthCore
import CShim
import Glibc

/// The fields of struct sched_attr that sched_setattr(2) takes from a config: the policy with
/// its flags, and the nice value, the static priority or the deadline parameters it uses.
public struct SchedulerAttributes: Equatable, Sendable {
    public var policy: UInt32
    public var flags: UInt64
    public var nice: Int32
    public var priority: UInt32
    public var runtime: UInt64
    public var deadline: UInt64
    public var period: UInt64

    public init(policy: UInt32, flags: UInt64 = 0, nice: Int32 = 0, priority: UInt32 = 0, runtime: UInt64 = 0, deadline: UInt64 = 0, period: UInt64 = 0) {
        self.policy = policy
        self.flags = flags
        self.nice = nice
        self.priority = priority
        self.runtime = runtime
        self.deadline = deadline
        self.period = period
    }

    /// SCHED_* of linux/sched.h; 4 is reserved for SCHED_ISO, which Linux never implemented.
    public static let policies: [String: UInt32] = [
        "SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_ISO": 4, "SCHED_IDLE": 5, "SCHED_DEADLINE": 6,
    ]
    /// SCHED_FLAG_* of linux/sched.h.
    public static let flagValues: [String: UInt64] = [
        "SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02, "SCHED_FLAG_DL_OVERRUN": 0x04, "SCHED_FLAG_KEEP_POLICY": 0x08,
        "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20, "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40,
    ]
}

/// The CPU affinity of the calling thread, for the callers outside the container's set-up
/// (`berth exec`'s parent). Bit N of a mask is CPU N, 64 CPUs a word.
public enum ThreadAffinity {
    /// runc's limit on a CPU number, which also sizes the mask that allows every CPU.
    public static let maxCPU = 64 * 1024
    /// Every CPU the kernel may ever have: what resets an inherited affinity. The kernel clamps
    /// the mask to its CPUs and to the cgroup's cpuset.
    public static var everyCPU: [UInt] { [UInt](repeating: UInt.max, count: maxCPU / 64) }

    /// sched_getaffinity(2).
    public static func current() throws(BerthError) -> [UInt] {
        var mask = [UInt](repeating: 0, count: maxCPU / 64)
        try sys("sched_getaffinity") { mask.withUnsafeMutableBufferPointer { berth_sched_getaffinity($0.baseAddress, UInt($0.count)) } }
        return mask
    }

    /// sched_setaffinity(2).
    public static func set(_ mask: [UInt], describing name: String? = nil) throws(BerthError) {
        try sys("sched_setaffinity", name) { mask.withUnsafeBufferPointer { berth_sched_setaffinity($0.baseAddress, UInt($0.count)) } }
    }
}
