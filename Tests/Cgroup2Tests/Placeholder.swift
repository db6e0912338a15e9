import Testing
@Test func placeholderCgroup2() { #expect(1 + 1 == 2) }
@Test(.enabled(if: false, "needs cgroup v2")) func skippedCgroup2() { #expect(Bool(false)) }
