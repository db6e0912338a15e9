import Testing
@Test func placeholderOCI() { #expect(1 + 1 == 2) }
@Test(.enabled(if: false, "needs cgroup v2")) func skippedOCI() { #expect(Bool(false)) }
