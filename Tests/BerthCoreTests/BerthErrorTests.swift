import BerthCore
import Glibc
import Testing

@Suite struct BerthErrorTests {
    @Test func descriptionIsPathThenMessageThenErrno() {
        #expect(BerthError(.invalidConfig, path: "linux.sysctl", "must not be empty").description == "linux.sysctl: must not be empty")
        #expect(BerthError(.system, "mount /proc", errno: EPERM).description == "mount /proc: operation not permitted")
        #expect(BerthError(.system, path: "linux.seccomp", "load", errno: ENOENT).description == "linux.seccomp: load: no such file or directory")
    }

    @Test func anErrnoTheMessageExplainsIsNotRepeated() {
        let error = BerthError(.system, "seccomp(SECCOMP_SET_MODE_FILTER): permission denied: set no_new_privs", errno: EACCES, explainsErrno: true)
        #expect(error.description == "seccomp(SECCOMP_SET_MODE_FILTER): permission denied: set no_new_privs")
        #expect(error.errno == EACCES)
    }

    @Test func prefixGoesInFrontOfThePath() {
        let error = BerthError(.jsonSchemaForTests, path: "process.cwd", "expected string, found number").prefixed("config.json")
        #expect(error.description == "config.json: process.cwd: expected string, found number")
        #expect(error.path.isEmpty)
        #expect(BerthError(.system, "open /x", errno: ENOENT).prefixed("reading").description == "reading: open /x: no such file or directory")
    }

    @Test func equalityIgnoresTheCause() {
        let plain = BerthError(.hook, "prestart hook failed")
        #expect(plain == BerthError(.hook, "prestart hook failed", cause: BerthError(.system, "waitpid", errno: ECHILD)))
        #expect(plain != BerthError(.system, "prestart hook failed"))
        #expect(plain != BerthError(.hook, "prestart hook failed", errno: EIO))
        #expect(plain != BerthError(.hook, path: "hooks.prestart[0]", "prestart hook failed"))
    }

    @Test func chainShowsTheCodeAndTheCause() {
        let error = BerthError(.invalidConfig, "config.json: bad", cause: BerthError(.system, "read", errno: EIO))
        #expect(error.chain == "[invalid config] config.json: bad\n  caused by: read: input/output error")
    }

    @Test func errnoTextIsLowerCase() {
        #expect(errnoDescription(ENOENT) == "no such file or directory")
        #expect(errnoDescription(EIO) == "input/output error")
    }
}

extension BerthError.Code {
    /// A code a module adds for itself, as OCI adds `.jsonSchema`.
    static let jsonSchemaForTests = Self(rawValue: "json schema (tests)")
}
