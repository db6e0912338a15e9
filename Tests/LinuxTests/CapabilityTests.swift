import Linux
import Testing

@Suite struct CapabilityTests {
    @Test func namesMapToKernelNumbers() {
        #expect(Capability.number("CAP_CHOWN") == 0)
        #expect(Capability.number("CAP_NET_RAW") == 13)
        #expect(Capability.number("CAP_SYS_ADMIN") == 21)
        #expect(Capability.number("CAP_AUDIT_WRITE") == 29)
        #expect(Capability.number("CAP_CHECKPOINT_RESTORE") == 40)
    }

    @Test func unknownOrLowercaseNamesAreRejected() {
        #expect(Capability.number("CAP_FLY") == nil)
        #expect(Capability.number("cap_chown") == nil)
        #expect(Capability.number("CHOWN") == nil)
    }

    @Test func everyNumberUpToTheKernelsLastHasAName() {
        #expect(Capability.lastCap() >= 37)
        #expect(Int(Capability.lastCap()) < Capability.names.count)
    }

    @Test func rlimitNamesMapToResources() {
        #expect(Rlimit.resource("RLIMIT_NOFILE") == 7)
        #expect(Rlimit.resource("RLIMIT_CPU") == 0)
        #expect(Rlimit.resource("RLIMIT_RTTIME") == 15)
        #expect(Rlimit.resource("RLIMIT_BOGUS") == nil)
    }
}
