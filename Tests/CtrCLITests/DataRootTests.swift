@testable import CtrCLI
import Testing

/// Where ctr keeps definitions and logs: --data-root, $CTR_DATA_ROOT, --root alone, then the
/// default, /var/lib/ctr for root and podman's rule for a user.
struct DataRootTests {
    static func environment(_ values: [String: String]) -> (String) -> String? { { values[$0] } }

    @Test func defaultsFollowTheUser() throws {
        #expect(DataRoot.defaultPath(euid: 0, environment: Self.environment(["XDG_DATA_HOME": "/x", "HOME": "/root"])) == "/var/lib/ctr")
        #expect(DataRoot.defaultPath(euid: 1000, environment: Self.environment(["XDG_DATA_HOME": "/home/u/data/", "HOME": "/home/u"]))
                == "/home/u/data/ctr")
        #expect(DataRoot.defaultPath(euid: 1000, environment: Self.environment(["HOME": "/home/u"])) == "/home/u/.local/share/ctr")
        // A relative XDG_DATA_HOME is ignored, as the XDG rules say.
        #expect(DataRoot.defaultPath(euid: 1000, environment: Self.environment(["XDG_DATA_HOME": "data", "HOME": "/home/u"]))
                == "/home/u/.local/share/ctr")
    }

    @Test func flagThenVariableThenRoot() throws {
        let variable = Self.environment(["CTR_DATA_ROOT": "/srv/ctr/"])
        #expect(try DataRoot.resolve(flag: "/d", rootFlag: "/r", euid: 0, environment: variable) == "/d")
        #expect(try DataRoot.resolve(flag: nil, rootFlag: "/r", euid: 0, environment: variable) == "/srv/ctr")
        #expect(try DataRoot.resolve(flag: nil, rootFlag: "/r", euid: 0, environment: Self.environment([:])) == "/r")
        #expect(try DataRoot.resolve(flag: nil, rootFlag: nil, euid: 0, environment: Self.environment([:])) == "/var/lib/ctr")
        #expect(throws: (any Error).self) { try DataRoot.resolve(flag: "d", rootFlag: nil, euid: 0, environment: Self.environment([:])) }
        #expect(throws: (any Error).self) {
            try DataRoot.resolve(flag: nil, rootFlag: nil, euid: 0, environment: Self.environment(["CTR_DATA_ROOT": "rel"]))
        }
    }
}
