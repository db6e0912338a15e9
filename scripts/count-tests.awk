# Counts per-test results in Swift Testing (and XCTest) console output.
# Prints "PASSED FAILED SKIPPED". Suites, the run summary, issue lines and the
# per-argument lines of parameterized tests are not tests and are not counted.
{
    gsub(/\033\[[0-9;]*m/, "")  # colour codes, in case NO_COLOR was not honoured
}
# Swift Testing: "<symbol> Test NAME passed after 0.001 seconds."
/^[^ ]+ Test (run with|case passing) / { next }
/^[^ ]+ Test .* recorded (an|a known) issue/ { next }
/^[^ ]+ Test .* passed after [0-9.]+ seconds/ { passed++; next }
/^[^ ]+ Test .* failed after [0-9.]+ seconds/ { failed++; next }
/^[^ ]+ Test .* skipped/ { skipped++; next }
# XCTest: "Test Case 'Suite.test' passed (0.001 seconds)."
/^Test Case '.*' passed \(/ { passed++; next }
/^Test Case '.*' failed \(/ { failed++; next }
/^Test Case '.*' skipped \(/ { skipped++; next }
END { printf "%d %d %d\n", passed, failed, skipped }
