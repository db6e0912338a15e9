import BerthCore
import Testing

@Suite struct TimestampTests {
    @Test func timestampsPrintAndParseBack() throws {
        let time = Timestamp(nanoseconds: 1_795_910_341_123_456_789)
        #expect(time.description == "2026-11-28T23:59:01.123456789Z")
        #expect(Timestamp(parsing: time.description) == time)
        #expect(Timestamp(parsing: "2026-11-28T23:59:01Z") == Timestamp(nanoseconds: 1_795_910_341_000_000_000))
        #expect(Timestamp(parsing: "2026-11-28T23:59:01.5Z") == Timestamp(nanoseconds: 1_795_910_341_500_000_000))
        for bad in ["", "yesterday", "2026-11-28 21:19:01Z", "2026-13-28T21:19:01Z", "2026-11-28T23:59:01.1234567890Z", "2026-11-28T23:59:01"] {
            #expect(Timestamp(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func theFractionKeepsItsLeadingZeros() {
        // runc writes `created` this way, and engines parse it.
        #expect(Timestamp(nanoseconds: 0).description == "1970-01-01T00:00:00.000000000Z")
        #expect(Timestamp(nanoseconds: 1_795_564_741_000_000_007).description == "2026-11-24T23:59:01.000000007Z")
    }
}
