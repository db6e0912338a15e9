import BerthCore
import Glibc
import Linux

/// The cgroup v2 freezer (`berth pause` / `berth resume`).
extension Cgroup {
    /// Writes 1 to cgroup.freeze and waits until cgroup.events says `frozen 1`: only then
    /// has every process in the subtree stopped. If that takes longer than the timeout, the
    /// cgroup is thawed again and the call throws, so a failed pause leaves it running.
    public func freeze(timeoutMilliseconds: Int = 10_000) throws(BerthError) {
        do {
            try setFrozen(true, timeoutMilliseconds: timeoutMilliseconds)
        } catch {
            if Files.exists(directory + "/cgroup.freeze") { try? write("cgroup.freeze", "0") }
            throw error
        }
    }

    /// Writes 0 to cgroup.freeze and waits until cgroup.events says `frozen 0`.
    public func thaw(timeoutMilliseconds: Int = 10_000) throws(BerthError) {
        try setFrozen(false, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// True when cgroup.events reports `frozen 1`.
    public var isFrozen: Bool {
        ((try? keyedValues("cgroup.events"))?["frozen"] ?? 0) == 1
    }

    private func setFrozen(_ frozen: Bool, timeoutMilliseconds: Int) throws(BerthError) {
        guard Files.exists(directory + "/cgroup.freeze") else {
            throw BerthError(.unsupported, "cgroup \(directory) has no cgroup.freeze: the cgroup v2 freezer needs Linux 5.2")
        }
        try write("cgroup.freeze", frozen ? "1" : "0")
        let deadline = Cgroup.monotonicMilliseconds() + Int64(timeoutMilliseconds)
        var pause: UInt32 = 500
        while isFrozen != frozen {
            if Cgroup.monotonicMilliseconds() >= deadline {
                let verb = frozen ? "freeze" : "thaw"
                throw BerthError(.system, "cgroup \(directory) did not \(verb) within \(timeoutMilliseconds) ms (cgroup.events: frozen \(frozen ? 0 : 1))")
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    static func monotonicMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
