/// The delay before each restart: 0.1 s, doubling after every quick failure up to 10 s, and
/// back to 0.1 s once a container has stayed up for 10 s. A crash loop thus costs at most a
/// container start every 10 s, and a service that fails once a day restarts at once.
struct RestartBackoff: Equatable {
    static let initialNanoseconds: Int64 = 100_000_000
    static let maximumNanoseconds: Int64 = 10_000_000_000
    /// Uptime after which a container counts as healthy and the delay starts over.
    static let resetAfterNanoseconds: Int64 = 10_000_000_000

    private(set) var nextNanoseconds: Int64 = RestartBackoff.initialNanoseconds

    /// The delay before the restart that follows a run of `uptime` nanoseconds.
    mutating func delay(afterUptime uptime: Int64) -> Int64 {
        if uptime >= RestartBackoff.resetAfterNanoseconds { nextNanoseconds = RestartBackoff.initialNanoseconds }
        let delay = nextNanoseconds
        nextNanoseconds = min(nextNanoseconds * 2, RestartBackoff.maximumNanoseconds)
        return delay
    }
}
