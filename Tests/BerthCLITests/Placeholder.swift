import Testing
@Test func placeholderBerthCLI() { #expect(1 + 1 == 2) }
@Test(.enabled(if: false, "needs cgroup v2")) func skippedBerthCLI() { #expect(Bool(false)) }
