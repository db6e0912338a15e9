import BerthCore
import Linux
@testable import Supervisor
import SupervisorAPI
import Testing

/// What a version's timers decide after the switch (the drain, its deadline, the stop's grace
/// period), and how a supervisor that adopts a service mid-rollout recovers its versions.
struct VersionRunTests {
    static let ms: Int64 = 1_000_000

    static func version(_ role: VersionRun.Role, killDue: Int64? = nil, drainDue: Int64? = nil) -> VersionRun {
        VersionRun(version: ServiceVersion(number: 1, id: "aaaa", source: "/v1", bundle: "/v1", rootfs: "/v1", command: ["webapp"]),
                   role: role, container: container(), netns: nil, killDue: killDue, drainDue: drainDue)
    }

    /// A run with no process behind it: the decisions never touch it.
    static func container() -> ContainerRun {
        ContainerRun(pid: 4242, pidStartTime: 1, pidfd: FileDescriptor(rawValue: -1), pumps: [], startedAt: Timestamp(nanoseconds: 0),
                     startedMonotonic: 0)
    }

    @Test func aDrainingVersionIsStoppedOnceItsLastForwardedConnectionCloses() {
        let draining = Self.version(.draining, drainDue: 5_000 * Self.ms)
        #expect(draining.nextStep(now: 0, connections: 1, sharesSockets: false) == nil)
        #expect(draining.nextStep(now: 0, connections: 0, sharesSockets: false)
                == .stop(graceSeconds: Supervisor.defaultStopTimeout, resetConnections: false))
    }

    @Test func atTheDrainDeadlineForwardedConnectionsAreResetAndTheVersionStopped() {
        let draining = Self.version(.draining, drainDue: 5_000 * Self.ms)
        #expect(draining.nextStep(now: 4_999 * Self.ms, connections: 3, sharesSockets: false) == nil)
        #expect(draining.nextStep(now: 5_000 * Self.ms, connections: 3, sharesSockets: false)
                == .stop(graceSeconds: Supervisor.defaultStopTimeout, resetConnections: true))
    }

    @Test func aListenVersionDrainsUntilItExitsAndIsKilledAtItsDeadline() {
        // Its connections are the app's own: none counted does not mean idle.
        let draining = Self.version(.draining, drainDue: 5_000 * Self.ms)
        #expect(draining.nextStep(now: 4_999 * Self.ms, connections: 0, sharesSockets: true) == nil)
        #expect(draining.nextStep(now: 5_000 * Self.ms, connections: 0, sharesSockets: true) == .stop(graceSeconds: 0, resetConnections: true))
    }

    @Test func aStoppingVersionAndAStoppingActiveOneAreKilledAtTheEndOfTheirGracePeriod() {
        for role in [VersionRun.Role.stopping, .active] {
            let version = Self.version(role, killDue: 10_000 * Self.ms)
            #expect(version.nextStep(now: 9_999 * Self.ms, connections: 0, sharesSockets: false) == nil)
            #expect(version.nextStep(now: 10_000 * Self.ms, connections: 0, sharesSockets: false) == .kill)
        }
        #expect(Self.version(.active).nextStep(now: .max, connections: 0, sharesSockets: false) == nil)
        #expect(Self.version(.candidate).nextStep(now: .max, connections: 0, sharesSockets: false) == nil)
    }

    static func recorded(_ role: VersionRole, drainDeadline: Timestamp? = nil) -> VersionStatus {
        VersionStatus(version: ServiceVersion(number: 2, id: "bbbb", source: "/v2", bundle: "/v2", rootfs: "/v2", command: ["webapp"]),
                      role: role, pid: 4242, pidStartTime: 1, startedAt: nil, drainDeadline: drainDeadline)
    }

    @Test func anAdoptedCandidateIsRolledBackAndKilledAtOnce() {
        let now = 77 * Self.ms
        let adopted = VersionRun.adopted(Self.recorded(.candidate), container: Self.container(), netns: nil, now: now,
                                         wallNow: Timestamp(nanoseconds: 1_000_000 * Self.ms))
        #expect(adopted.role == .stopping && adopted.killDue == now)
        #expect(adopted.status()?.role == .stopping)
        #expect(adopted.nextStep(now: now, connections: 0, sharesSockets: false) == .kill)
        let stopping = VersionRun.adopted(Self.recorded(.stopping), container: Self.container(), netns: nil, now: now,
                                          wallNow: Timestamp(nanoseconds: 0))
        #expect(stopping.nextStep(now: now, connections: 0, sharesSockets: false) == .kill)
    }

    @Test func anAdoptedDrainingVersionKeepsWhatIsLeftOfItsDrain() {
        let wallNow = Timestamp(nanoseconds: 1_000_000 * Self.ms)
        let deadline = Timestamp(nanoseconds: wallNow.nanoseconds + 3_000 * Self.ms)
        let adopted = VersionRun.adopted(Self.recorded(.draining, drainDeadline: deadline), container: Self.container(), netns: nil,
                                         now: 50 * Self.ms, wallNow: wallNow)
        #expect(adopted.role == .draining && adopted.killDue == nil)
        #expect(adopted.drainDue == 3_050 * Self.ms && adopted.drainDeadline == deadline)
        // Its forwarded connections died with the old supervisor: with published ports it is idle now.
        #expect(adopted.nextStep(now: 50 * Self.ms, connections: 0, sharesSockets: false)
                == .stop(graceSeconds: Supervisor.defaultStopTimeout, resetConnections: false))
        // A --listen one still serves its own connections, until the deadline.
        #expect(adopted.nextStep(now: 3_049 * Self.ms, connections: 0, sharesSockets: true) == nil)
        #expect(adopted.nextStep(now: 3_050 * Self.ms, connections: 0, sharesSockets: true) == .stop(graceSeconds: 0, resetConnections: true))
        // One whose deadline passed while no supervisor watched is due at once.
        let late = VersionRun.adopted(Self.recorded(.draining, drainDeadline: Timestamp(nanoseconds: 0)), container: Self.container(),
                                      netns: nil, now: 50 * Self.ms, wallNow: wallNow)
        #expect(late.drainDue == 50 * Self.ms)
    }

    @Test func onlyVersionsBesideTheActiveOneAreListedInTheStatus() {
        #expect(Self.version(.active).status() == nil)
        #expect(Self.version(.draining).status(connections: 2)?.role == .draining)
        #expect(Self.version(.draining).status(connections: 2)?.connections == 2)
    }
}
