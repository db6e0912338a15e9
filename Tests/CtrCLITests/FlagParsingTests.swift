import CommandLineFlags
@testable import CtrCLI
import BerthCore
import Linux
import OCI
import SupervisorAPI
import Testing
import TestSupport

/// ctr's flag values: what is accepted, what it becomes, and that a refusal names the flag and
/// shows an example.
struct FlagParsingTests {
    static let sizes: [(String, Int64)] = [
        ("64M", 67_108_864), ("64m", 67_108_864), ("512k", 524_288), ("1G", 1_073_741_824), ("1gb", 1_073_741_824),
        ("1073741824", 1_073_741_824), ("0", 0), ("10MB", 10_485_760),
    ]

    @Test(arguments: sizes)
    func sizesTakeBinarySuffixes(_ text: String, _ bytes: Int64) throws {
        #expect(try FlagValues.size(text, flag: "--memory") == bytes)
    }

    @Test(arguments: ["", "M", "64X", "-1", "1.5G", "64 M", "9999999999999G", "0x10"])
    func badSizesNameTheFlagWithAnExample(_ text: String) {
        #expect {
            try FlagValues.size(text, flag: "--memory")
        } throws: { error in
            let message = "\(error)"
            return message.contains("flag --memory") && message.contains("e.g. --memory 64M")
        }
    }

    @Test func memoryBelowTheMinimumIsRefused() {
        #expect(throws: BerthError.self) { try FlagValues.memory("1M", flag: "--memory") }
        #expect((try? FlagValues.memory("6M", flag: "--memory")) == 6 << 20)
    }

    static let cpus: [(String, Int64?)] = [
        ("0.5", 50_000), ("1", 100_000), ("1.25", 125_000), (".5", 50_000), ("0.01", 1000), ("0.00001", nil),
        ("2.", 200_000), ("abc", nil), ("", nil), ("0", nil), ("1.2.3", nil), ("-1", nil), ("99999", nil),
    ]

    @Test(arguments: cpus)
    func cpusBecomeAQuotaPerTenthOfASecond(_ text: String, _ quota: Int64?) {
        if let quota {
            #expect((try? FlagValues.cpuQuota(text)) == quota)
        } else {
            #expect { try FlagValues.cpuQuota(text) } throws: { "\($0)".contains("flag --cpus") && "\($0)".contains("e.g. --cpus") }
        }
    }

    @Test func restartPoliciesParseAndPrintBack() throws {
        for text in ["no", "always", "unless-stopped", "on-failure", "on-failure:3", "on-failure:0"] {
            #expect(try RestartPolicy(parsing: text).description == text)
        }
        for text in ["sometimes", "on-failure:", "on-failure:-1", "on-failure:x", "always:3", ""] {
            #expect { try RestartPolicy(parsing: text) } throws: { "\($0)".contains("flag --restart") && "\($0)".contains("e.g. --restart") }
        }
    }

    @Test func volumesBecomeBindMounts() throws {
        let readOnly = try FlagValues.volume("/tmp:/data:ro")
        #expect(readOnly == Mount(destination: "/data", type: "bind", source: "/tmp", options: ["rbind", "ro"]))
        #expect(try FlagValues.volume("/tmp:/data").options == ["rbind", "rw"])
        for text in ["/tmp", "data:/data", "/tmp:data", "/tmp:/data:rx", "/tmp:/../etc", "/no-such-host-path:/data", "/tmp:/a:ro:x"] {
            #expect { try FlagValues.volume(text) } throws: { "\($0)".contains("flag --volume") && "\($0)".contains("e.g. -v") }
        }
    }

    @Test func tmpfsMountsAreNoexecUnlessAsked() throws {
        #expect(try FlagValues.tmpfs("/run:size=64m").options == ["noexec", "nosuid", "nodev", "size=64m"])
        #expect(try FlagValues.tmpfs("/run:exec").options == ["nosuid", "nodev", "exec"])
        #expect(throws: BerthError.self) { try FlagValues.tmpfs("run") }
        #expect(throws: BerthError.self) { try FlagValues.tmpfs("/run:suid") }
    }

    @Test func environmentTakesPairsAndPassesNamedVariablesThrough() throws {
        #expect(try FlagValues.environment("A=b=c") == "A=b=c")
        #expect(try FlagValues.environment("A=") == "A=")
        #expect(try FlagValues.environment("PATH")?.hasPrefix("PATH=/") == true)
        #expect(try FlagValues.environment("CTR_SURELY_UNSET_VARIABLE") == nil)
        #expect(throws: BerthError.self) { try FlagValues.environment("=x") }
        #expect(FlagValues.mergeEnvironment(["A=1", "B=2"], ["A=3", "C=4"]) == ["B=2", "A=3", "C=4"])
    }

    @Test func signalsByNameOrNumber() throws {
        #expect(try FlagValues.signal("TERM") == 15)
        #expect(try FlagValues.signal("sigkill") == 9)
        #expect(try FlagValues.signal("10") == 10)
        #expect(throws: BerthError.self) { try FlagValues.signal("NOPE") }
        #expect(throws: BerthError.self) { try FlagValues.signal("65") }
    }

    @Test func argumentsTakeLongShortInlineAndGroupedFlags() throws {
        let flags: [Flag] = [.boolean("d", "detach"), .value("m", "memory"), .value("e", "env"), .boolean("rm")]
        let parsed = try Arguments(["-dm64M", "--env=A=1", "-e", "B=2", "--rm", "ROOT", "-m", "not-a-flag"], flags: flags, stopAfter: 1)
        #expect(parsed.flag("detach") && parsed.flag("rm"))
        #expect(parsed.value("memory") == "64M")
        #expect(parsed.all("env") == ["A=1", "B=2"])
        #expect(parsed.positionals == ["ROOT", "-m", "not-a-flag"])
        #expect(try Arguments(["-m=1G"], flags: flags).value("memory") == "1G")
        #expect(try Arguments(["--", "-d"], flags: flags).positionals == ["-d"])
        #expect(try Arguments(["-h"], flags: flags).wantsHelp)
        #expect { try Arguments(["--bogus"], flags: flags) } throws: { "\($0)".contains("flag --bogus") }
        #expect { try Arguments(["-x"], flags: flags) } throws: { "\($0)".contains("flag -x") }
        #expect { try Arguments(["--memory"], flags: flags) } throws: { "\($0)".contains("needs a value") }
        #expect { try Arguments(["--rm=yes"], flags: flags) } throws: { "\($0)".contains("--rm") }
    }
}
