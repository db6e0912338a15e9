import Testing
@Test func placeholderRuntime() { #expect(1 + 1 == 2) }
@Test(.enabled(if: false, "needs cgroup v2")) func skippedRuntime() { #expect(Bool(false)) }
