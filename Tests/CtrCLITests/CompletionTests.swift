import CommandLineFlags
@testable import CtrCLI
import Foundation
import Testing
import TestSupport

/// `ctr completion`: the scripts come from the command and flag tables, and the shells accept
/// and run them.
struct CompletionTests {
    /// Runs a shell command line; returns its status and output.
    static func shell(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func script(_ shell: String) throws -> String {
        let path = NSTemporaryDirectory() + "ctr-completion-\(UInt32.random(in: 0...UInt32.max)).\(shell)"
        try CompletionCommand.script(for: shell).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func installed(_ program: String) -> Bool {
        ["/usr/bin/", "/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + program) }
    }

    /// What the bash script offers for `line` (the cursor at its end). `ctr` is a stub that
    /// prints a `ctr ps -a` table, so service names are known.
    static func bashCompletions(_ line: String) throws -> [String] {
        let path = try script("bash")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let stub = NSTemporaryDirectory() + "ctr-stub-\(UInt32.random(in: 0...UInt32.max))"
        try "#!/bin/sh\necho \"$*\" >> \(stub).args\nprintf 'NAME ID STATUS\\nweb 1 running\\ndb 2 exited\\n'\n".write(toFile: stub, atomically: true, encoding: .utf8)
        defer { for file in [stub, stub + ".args"] { try? FileManager.default.removeItem(atPath: file) } }
        chmod(stub, 0o755)
        let words = line.replacingOccurrences(of: "ctr ", with: stub + " ", options: .anchored)
        let result = try shell(["bash", "-c", "source \(path); COMP_LINE='\(words)'; COMP_POINT=${#COMP_LINE}; _ctr; printf '%s\\n' \"${COMPREPLY[@]}\""])
        #expect(result.status == 0, "\(result.output)")
        return result.output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    @Test func bashAcceptsTheScript() throws {
        let path = try Self.script("bash")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let check = try Self.shell(["bash", "-n", path])
        #expect(check.status == 0, "\(check.output)")
    }

    @Test(arguments: ["zsh", "fish"])
    func otherShellsAcceptTheirScripts(_ shell: String) throws {
        guard Self.installed(shell) else { return }
        let path = try Self.script(shell)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let check = try Self.shell([shell, "-n", path])
        #expect(check.status == 0, "\(check.output)")
    }

    @Test(arguments: CompletionCommand.shells)
    func scriptsNameEveryCommandAndEveryRunFlag(_ shell: String) {
        let script = CompletionCommand.script(for: shell)
        for (name, _) in Ctr.commands { #expect(script.contains(name), "\(shell): \(name)") }
        for flag in RunOptions.flags {
            for spelling in flag.spellings where spelling.count > 1 { #expect(script.contains(spelling), "\(shell): --\(spelling)") }
        }
        #expect(script.contains("tty") && script.contains("interactive"))
    }

    @Test func everyValueHintNamesAFlagOfATable() {
        let model = CompletionCommand.model
        for key in model.values.keys {
            let parts = key.split(separator: ".").map(String.init)
            let commands = parts.count == 2 ? model.commands.filter { $0.name == parts[0] } : model.commands
            let flags = commands.flatMap(\.flags) + model.globalFlags
            #expect(flags.contains { $0.name == parts[parts.count - 1] }, "\(key) names no flag")
        }
    }

    @Test func bashCompletesCommandsFlagsValuesAndServiceNames() throws {
        #expect(try Self.bashCompletions("ctr ru") == ["run"])
        #expect(try Self.bashCompletions("ctr comp") == ["completion"])
        #expect(try Self.bashCompletions("ctr run --mem") == ["--memory", "--memory-high", "--memory-swap"])
        #expect(try Self.bashCompletions("ctr run --restart ") == ["no", "on-failure", "always", "unless-stopped"])
        #expect(try Self.bashCompletions("ctr run --network=h") == ["host"])
        #expect(try Self.bashCompletions("ctr stop ") == ["web", "db"])
        #expect(try Self.bashCompletions("ctr --root /tmp exec -it w") == ["web"])
        #expect(try Self.bashCompletions("ctr exec web ") == [], "after the NAME comes the container's command")
        #expect(try Self.bashCompletions("ctr run /no/such/dir -- --mem") == [], "after the ROOTFS everything is the command")
        #expect(try Self.bashCompletions("ctr completion ") == ["bash", "zsh", "fish"])
        #expect(try Self.bashCompletions("ctr ps ") == [])
    }

    @Test func bashCompletesTheRootfsAsADirectory() throws {
        let directory = try TemporaryDirectory("ctr-completion")
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.path + "/rootfs", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: directory.path + "/rootfile", contents: Data())
        #expect(try Self.bashCompletions("ctr run -d \(directory.path)/roo") == [directory.path + "/rootfs"])
    }
}
