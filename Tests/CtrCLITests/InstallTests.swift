import Foundation
import Testing
import TestSupport

/// `make install` and `make uninstall` (scripts/install.sh) with the built binaries, into a
/// temporary DESTDIR: the binaries run, the shells accept the completions, man renders every
/// page without a warning, the units get their path, and uninstall leaves nothing.
@Suite struct InstallTests {
    /// Runs scripts/install.sh ACTION with the test's build as BUILD_DIR.
    static func install(_ action: String, _ environment: [String: String]) throws -> (status: Int32, output: String) {
        let build = (try CtrPaths.ctr() as NSString).deletingLastPathComponent
        var variables = ["BUILD_DIR=" + build]
        for (key, value) in environment { variables.append(key + "=" + value) }
        return try CompletionTests.shell(variables + [BerthPaths.repositoryRoot + "/scripts/install.sh", action])
    }

    static func files(under path: String) -> [String] {
        (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted()
    }

    @Test func installPutsEverythingThatWorksAndUninstallRemovesIt() throws {
        let directory = try TemporaryDirectory("berth-install")
        defer { directory.remove() }
        let destdir = directory.path + "/stage", units = directory.path + "/units"
        try FileManager.default.createDirectory(atPath: destdir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: units, withIntermediateDirectories: true)
        try "[Service]\nExecStart=@BINDIR@/ctr system boot\n".write(toFile: units + "/ctr-test.service", atomically: true, encoding: .utf8)
        let environment = ["DESTDIR": destdir, "PREFIX": "/opt/berth", "UNIT_DIR": units]
        let installed = try Self.install("install", environment)
        #expect(installed.status == 0, "\(installed.output)")
        let root = destdir + "/opt/berth"

        for program in ["berth", "ctr"] {
            let version = try CompletionTests.shell([root + "/bin/" + program, "--version"])
            #expect(version.status == 0 && version.output.hasPrefix("\(program) version "), "\(version.output)")
            let bash = try CompletionTests.shell(["bash", "-n", root + "/share/bash-completion/completions/" + program])
            #expect(bash.status == 0, "\(bash.output)")
            // Sourced, the script registers its completion function for the program.
            let complete = try CompletionTests.shell(["bash", "-c", "source \(root)/share/bash-completion/completions/\(program); complete -p \(program)"])
            #expect(complete.output.contains("-F _\(program) \(program)"), "\(complete.output)")
            let zshPath = root + "/share/zsh/site-functions/_" + program
            if CompletionTests.installed("zsh") {
                let zsh = try CompletionTests.shell(["zsh", "-n", zshPath])
                #expect(zsh.status == 0, "\(zsh.output)")
            }
            #expect(FileManager.default.fileExists(atPath: root + "/share/fish/vendor_completions.d/\(program).fish"))
        }

        let pages = Self.files(under: root + "/share/man/man1")
        #expect(pages.contains("ctr.1") && pages.contains("ctr-run.1") && pages.contains("berth.1") && pages.contains("berth-create.1"))
        #expect(pages.count > 20, "\(pages)")
        if CompletionTests.installed("man") {
            for page in pages {
                let rendered = try CompletionTests.shell(["sh", "-c", "MANWIDTH=80 man --warnings -l \(root)/share/man/man1/\(page) 2>&1 >/dev/null"])
                #expect(rendered.status == 0 && rendered.output.isEmpty, "\(page): \(rendered.output)")
            }
            let run = try CompletionTests.shell(["sh", "-c", "MANWIDTH=80 man -l \(root)/share/man/man1/ctr-run.1"])
            #expect(run.output.contains("--memory SIZE"), "\(run.output)")
        }

        let unit = try String(contentsOfFile: root + "/lib/systemd/system/ctr-test.service", encoding: .utf8)
        #expect(unit == "[Service]\nExecStart=/opt/berth/bin/ctr system boot\n")
        let manifest = try String(contentsOfFile: root + "/share/berth/installed", encoding: .utf8)
        #expect(manifest.hasPrefix("d /opt\n"), "paths as installed, without DESTDIR")

        // Installing again replaces the last install, and one uninstall still removes it all.
        #expect(try Self.install("install", environment).status == 0)
        let removed = try Self.install("uninstall", environment)
        #expect(removed.status == 0, "\(removed.output)")
        #expect(Self.files(under: destdir) == [])
        #expect(try Self.install("uninstall", environment).status != 0, "nothing recorded: nothing to remove")
    }

    @Test func withoutUnitsNoSystemdDirectoryAndADirectoryAlreadyThereStays() throws {
        let directory = try TemporaryDirectory("berth-install")
        defer { directory.remove() }
        let prefix = directory.path + "/prefix"
        try FileManager.default.createDirectory(atPath: prefix + "/share/man/man1", withIntermediateDirectories: true)
        try "not ours".write(toFile: prefix + "/share/man/man1/other.1", atomically: true, encoding: .utf8)
        let environment = ["PREFIX": prefix, "UNIT_DIR": directory.path + "/no-such-dir"]
        #expect(try Self.install("install", environment).status == 0)
        #expect(!FileManager.default.fileExists(atPath: prefix + "/lib"))
        #expect(try Self.install("uninstall", environment).status == 0)
        #expect(Self.files(under: prefix) == ["share", "share/man", "share/man/man1", "share/man/man1/other.1"])
    }
}
