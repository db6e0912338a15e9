import CommandLineFlags
import BerthCore
import Testing

/// The parser in both dialects: what each spelling becomes, and that each refusal is one line
/// naming the flag.
@Suite struct ArgumentsTests {
    static let table: [Flag] = [
        .value("b", "bundle", placeholder: "DIR", summary: "the bundle"),
        .value("pid-file", placeholder: "FILE", summary: "the pid file"),
        .value("e", "env", placeholder: "K=V", summary: "a variable"),
        .value("f", "format", placeholder: "FORMAT", choices: ["table", "json"], summary: "table or json"),
        .boolean("d", "detach", summary: "do not wait"),
        .boolean("t", "tty", summary: "a terminal"),
        .boolean("no-pivot"),
    ]

    static func runc(_ items: [String], stopAfter: Int? = nil) throws(BerthError) -> Arguments {
        try Arguments(items, flags: table, dialect: .runc, stopAfter: stopAfter)
    }

    static func docker(_ items: [String], stopAfter: Int? = nil) throws(BerthError) -> Arguments {
        try Arguments(items, flags: table, dialect: .docker, stopAfter: stopAfter)
    }

    /// The message of the error `body` throws, or nil.
    static func refusal(_ body: () throws(BerthError) -> Arguments) -> String? {
        do throws(BerthError) {
            _ = try body()
            return nil
        } catch {
            return error.description
        }
    }

    // MARK: runc

    /// What containerd's shim and podman's conmon pass (docs/engines.md), and Go's other spellings.
    @Test(arguments: [
        ["--bundle", "/b", "--pid-file", "/p", "id"], ["-bundle", "/b", "-pid-file", "/p", "id"],
        ["--bundle=/b", "--pid-file=/p", "id"], ["-bundle=/b", "-pid-file=/p", "id"], ["-b", "/b", "id", "--pid-file", "/p"],
        ["id", "-b=/b", "-pid-file", "/p"],
    ])
    func runcTakesLongFlagsWithOneOrTwoDashes(_ items: [String]) throws {
        let parsed = try Self.runc(items)
        #expect(parsed.value("bundle") == "/b" && parsed.value("pid-file") == "/p" && parsed.positionals == ["id"])
    }

    @Test func runcBooleansTakeTrueOrFalse() throws {
        #expect(try Self.runc(["-no-pivot", "x"]).flag("no-pivot"))
        #expect(try Self.runc(["--detach=true"]).flag("detach"))
        #expect(try !Self.runc(["--detach", "--detach=false"]).flag("detach"), "the last one counts")
        #expect(Self.refusal { () throws(BerthError) in try Self.runc(["--detach=yes"]) } == "flag --detach: takes true or false, not \"yes\"")
    }

    @Test func runcDoesNotGroupLetters() {
        #expect(Self.refusal { () throws(BerthError) in try Self.runc(["-dt", "id"]) } == "flag -dt: unknown flag")
    }

    @Test func runcStopsAfterTheGivenArguments() throws {
        let parsed = try Self.runc(["-e", "A=1", "id", "sh", "-c", "--bundle", "--", "-h"], stopAfter: 1)
        #expect(parsed.positionals == ["id", "sh", "-c", "--bundle", "--", "-h"])
        #expect(parsed.all("env") == ["A=1"] && !parsed.wantsHelp)
    }

    // MARK: docker

    @Test func dockerGroupsLettersAndTakesAValueAfterTheLast() throws {
        let parsed = try Self.docker(["-dtb/b", "-e=A=1", "--env", "B=2", "-f", "json", "id", "--format=table"])
        #expect(parsed.flag("detach") && parsed.flag("tty"))
        #expect(parsed.value("bundle") == "/b")
        #expect(parsed.all("env") == ["A=1", "B=2"])
        #expect(parsed.value("format") == "table" && parsed.all("format") == ["json", "table"])
        #expect(parsed.positionals == ["id"])
    }

    @Test func dockerTakesLongFlagsWithTwoDashesOnly() throws {
        #expect(try Self.docker(["-bundle"]).value("bundle") == "undle", "-b with the value undle, as docker reads it")
        #expect(Self.refusal { () throws(BerthError) in try Self.docker(["-no-pivot"]) } == "flag -n: unknown flag")
        #expect(Self.refusal { () throws(BerthError) in try Self.docker(["--b", "/b"]) } == "flag --b: unknown flag")
    }

    @Test(arguments: [Dialect.runc, .docker])
    func dashDashEndsTheFlagsAndALoneDashIsAnArgument(_ dialect: Dialect) throws {
        let parsed = try Arguments(["-", "--", "--detach", "-x"], flags: Self.table, dialect: dialect)
        #expect(parsed.positionals == ["-", "--detach", "-x"] && !parsed.flag("detach"))
    }

    // MARK: refusals

    /// (dialect, items, the whole message)
    static let refusals: [(Dialect, [String], String)] = [
        (.runc, ["--bogus"], "flag --bogus: unknown flag"),
        (.runc, ["-bogus=1", "id"], "flag -bogus: unknown flag"),
        (.docker, ["--bogus=1"], "flag --bogus: unknown flag"),
        (.docker, ["-dx"], "flag -x: unknown flag"),
        (.runc, ["id", "--bundle"], "flag --bundle: needs a value"),
        (.runc, ["-pid-file"], "flag -pid-file: needs a value"),
        (.docker, ["-db"], "flag -b: needs a value"),
        (.docker, ["--format", "xml"], "flag --format: \"xml\" is not table or json"),
        (.runc, ["-f=xml"], "flag --format: \"xml\" is not table or json"),
        (.docker, ["--tty=1"], "flag --tty: takes true or false, not \"1\""),
    ]

    @Test(arguments: refusals)
    func eachRefusalIsOneLineNamingTheFlag(_ dialect: Dialect, _ items: [String], _ message: String) {
        let refusal = Self.refusal { () throws(BerthError) in try Arguments(items, flags: Self.table, dialect: dialect) }
        #expect(refusal == message)
        #expect(refusal?.contains("\n") == false)
    }

    // MARK: help

    @Test(arguments: [Dialect.runc, .docker])
    func everyTableTakesHelp(_ dialect: Dialect) throws {
        #expect(try Arguments(["-h"], flags: [], dialect: dialect).wantsHelp)
        #expect(try Arguments(["--help", "id"], flags: [], dialect: dialect).wantsHelp)
        #expect(try !Arguments(["id"], flags: [], dialect: dialect).wantsHelp)
    }

    @Test func helpAmongTheFlagsWinsOverAnError() throws {
        #expect(try Self.runc(["--bogus", "--help"]).wantsHelp)
        #expect(try Self.docker(["-x", "-h"]).wantsHelp)
        #expect(try Self.runc(["-help"]).wantsHelp, "Go's flag package takes -help")
        // After the first argument, -h is no flag of the parser's: the error stands.
        #expect(Self.refusal { () throws(BerthError) in try Self.runc(["--bogus", "id", "-h"]) } == "flag --bogus: unknown flag")
    }

    @Test func helpListsTheFlagsWithASummaryAligned() {
        let text = (Self.table + [Flag.help]).helpText
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "  -b, --bundle DIR      the bundle")
        #expect(lines.contains("  -f, --format FORMAT   table or json"))
        #expect(lines.contains("  -h, --help            show this help"))
        #expect(!text.contains("no-pivot"), "a flag without a summary is left out")
    }

    @Test func theCanonicalNameIsTheFirstLongSpelling() {
        #expect(Flag.value("m", "memory", "mem").name == "memory")
        #expect(Flag.boolean("q").name == "q")
        #expect(Flag.value("m", "memory").spelled == ["-m", "--memory"])
    }
}
