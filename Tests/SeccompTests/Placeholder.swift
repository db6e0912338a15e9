import Testing
@Test func placeholderSeccomp() { #expect(1 + 1 == 2) }
@Test(.enabled(if: false, "needs cgroup v2")) func skippedSeccomp() { #expect(Bool(false)) }
