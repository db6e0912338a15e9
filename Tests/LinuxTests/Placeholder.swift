import Testing
@Test func placeholderLinux() { #expect(1 + 1 == 2) }
@Test(.enabled(if: false, "needs cgroup v2")) func skippedLinux() { #expect(Bool(false)) }
