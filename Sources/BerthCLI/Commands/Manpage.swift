import BerthCore
import CommandLineFlags
import Linux

/// `berth manpage [--list] [PAGE]`: berth's manual pages in roff, built from the completion
/// model (the verb and flag tables) and each verb's synopsis and details; `make install` writes
/// them to man1. runc has no such verb; engines never call it.
enum ManpageVerb {
    static let flags: [Flag] = [.boolean("list", summary: "print the names of the pages, one a line")]

    static func run(_ parsed: Arguments, _ globals: GlobalOptions) throws(BerthError) -> Int32 {
        let pages = pages
        if parsed.flag("list") {
            try FileDescriptor.standardOutput.writeAll(pages.map { $0.name + "\n" }.joined())
            return 0
        }
        guard parsed.positionals.count <= 1 else { throw BerthError(.invalidArgument, "manpage: expects at most one page name (see berth manpage --list)") }
        let name = parsed.positionals.first ?? "berth"
        guard let page = pages.first(where: { $0.name == name }) else {
            throw BerthError(.invalidArgument, "manpage: no page \"\(name)\" (see berth manpage --list)")
        }
        try FileDescriptor.standardOutput.writeAll(page.roff)
        return 0
    }

    /// berth(1), then berth-VERB(1) for each verb.
    static var pages: [ManualPage] {
        let program = ManualPage.Text(synopsis: ["berth [global options] command [command options] [arguments...]"], description: """
            berth takes runc's command line, so that engines such as containerd and podman can use it in place of runc. \
            It reads an OCI bundle (config.json and a root filesystem), creates the namespaces, puts the container in its \
            own cgroup v2 group, pivots into the root filesystem, drops capabilities and runs the container's process.
            """, examples: ["berth spec", "berth run demo", "berth create demo && berth start demo && berth state demo",
                            "berth delete --force demo", "source <(berth completion bash)"])
        return ManualPage.pages(CompletionVerb.model, source: "Berth \(Release.version)", overview: "an OCI container runtime with runc's command line",
                                program: program) { command in
            let verb = Berth.verbs.first { $0.name == command.name }
            return ManualPage.Text(synopsis: ["berth \(command.name) \(verb?.synopsis ?? "")"], description: verb?.details ?? command.summary)
        }
    }
}
