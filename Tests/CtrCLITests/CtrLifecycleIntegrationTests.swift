import Foundation
import Glibc
import Testing
import TestSupport

extension CtrSandbox {
    /// `/bin/sh -c SCRIPT` with `$CTR` (this sandbox's ctr and --root), `$ROOTFS` and `$MARK` (the marker, for `run -e`) set, and the
    /// sandbox's marker in its environment (and so in every supervisor's and container's).
    func shell(_ script: String, timeout: Double = TestTiming.command) async throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        environment += [marker, "MARK=\(marker)", "CTR=\(ctrPath) --root \(root)", "ROOTFS=\(rootfs)"]
        let stamp = UUID().uuidString
        let process = try SpawnedProcess("/bin/sh", ["-c", script], environment: environment,
                                         stdoutPath: directory.path + "/sh-\(stamp).out", stderrPath: directory.path + "/sh-\(stamp).err")
        return await process.wait(timeout: timeout)
    }
}

/// The life of a service after `ctr run`: --rm, start, restart, wait, rename.
@Suite(.timeLimit(.minutes(5)))
struct CtrLifecycleIntegrationTests {
    /// The loop: each `ctr run --rm` returns only once its service is gone, so the next
    /// one can take the name at once.
    @Test func runRmFreesTheNameBeforeItReturns() async throws {
        try await withCtrSandbox { s in
            let loop = try await s.shell("""
                for i in 1 2 3 4 5; do $CTR run --rm --name x -e "$MARK" $ROOTFS -- sh -c 'exit 3'; echo $?; done
                """, timeout: TestTiming.command * 5)
            #expect(loop.stdout == "3\n3\n3\n3\n3\n", "\(loop)")
            #expect(loop.stderr.isEmpty, "\(loop)")
            #expect(s.serviceEntries.isEmpty)
        }
    }
}
