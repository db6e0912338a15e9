import BerthCore
import CommandLineFlags
@testable import CtrCLI
import Glibc
import Testing
import TestSupport

/// ctr's manual pages, `ctr version`'s PATH check and the refusals that tell of the other ctr
/// and of global flags put after the command.
@Suite struct ManpageTests {
    @Test func everyCommandHasAPageThatDescribesEveryFlagOfItsTable() {
        let pages = ManpageCommand.pages
        #expect(pages.map(\.name) == ["ctr"] + Ctr.commands.map { "ctr-" + $0.name })
        for (name, command) in Ctr.commands {
            guard let page = pages.first(where: { $0.name == "ctr-" + name }) else { continue }
            #expect(page.options.map(\.name) == (command.flags + [Flag.help]).map(\.name))
            for option in page.options {
                #expect(!option.summary.isEmpty, "ctr \(name) --\(option.name): neither its table nor a help gives it a line")
            }
            #expect(page.text.synopsis.first?.hasPrefix("ctr \(name)") == true, "\(name): \(page.text.synopsis)")
        }
        #expect(pages[0].globalOptions.allSatisfy { !$0.summary.isEmpty })
    }

    @Test func updateTakesTheLimitLinesOfRunsHelp() {
        let update = ManpageCommand.pages.first { $0.name == "ctr-update" }
        let memory = update?.options.first { $0.name == "memory" }
        #expect(memory?.placeholder == "SIZE")
        #expect(memory?.summary == "memory limit, with k, M or G (e.g. 64M)")
    }

    @Test func aGlobalFlagAfterTheCommandIsSaidToGoBeforeIt() {
        func refusal(_ items: [String], _ flags: [Flag]) -> String? {
            do throws(BerthError) { _ = try Arguments(items, flags: flags); return nil } catch { return error.description }
        }
        #expect(refusal(["--root", "/x", "./rootfs"], RunOptions.flags) == "flag --root: a global flag, which goes before the command (ctr --root DIR COMMAND ...)")
        #expect(refusal(["--root=/x", "web"], StopCommand.flags) == "flag --root: a global flag, which goes before the command (ctr --root DIR COMMAND ...)")
        #expect(refusal(["--debug", "web"], LogsCommand.flags) == "flag --debug: a global flag, which goes before the command (ctr --debug COMMAND ...)")
        #expect(refusal(["--bogus", "web"], StopCommand.flags) == "flag --bogus: unknown flag", "other unknown flags as before")
        #expect(refusal(["-v", "/a:/b", "./rootfs"], RunOptions.flags) == nil, "run's own -v is its volume")
    }

    @Test func containerdsCommandsNameContainerdsCtr() {
        #expect(Ctr.containerdHint("images") == " (\"ctr images\" is containerd's ctr: /usr/bin/ctr images)")
        #expect(Ctr.containerdHint("task") != "")
        #expect(Ctr.containerdHint("bogus") == "")
        #expect(Ctr.containerdHint("run") == "", "run is ours")
    }

    @Test func anotherCtrEarlierOnPathIsFound() throws {
        let directory = try TemporaryDirectory("ctr-path")
        defer { directory.remove() }
        let ours = directory.path + "/ours", theirs = directory.path + "/theirs", empty = directory.path + "/empty"
        for path in [ours, theirs, empty] { mkdir(path, 0o755) }
        for path in [ours + "/ctr", theirs + "/ctr"] {
            #expect(creat(path, 0o755) >= 0)
        }
        // A file without the execute bit is not what a shell runs.
        #expect(creat(empty + "/ctr", 0o644) >= 0)
        let executable = try #require(VersionCommand.resolved(ours + "/ctr"))
        #expect(VersionCommand.otherCtrFirstOnPath(running: executable, path: "\(empty):\(theirs):\(ours)") == .init(path: theirs + "/ctr"))
        #expect(VersionCommand.otherCtrFirstOnPath(running: executable, path: "\(empty):\(ours):\(theirs)") == nil)
        #expect(VersionCommand.otherCtrFirstOnPath(running: executable, path: empty) == nil, "no ctr on PATH at all: nothing to say")
        let warning = VersionCommand.OtherCtr(path: "/usr/bin/ctr").warning("/usr/local/bin/ctr")
        #expect(warning.contains("put /usr/local/bin before /usr/bin in PATH"))
    }
}
