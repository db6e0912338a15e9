# Counts per-test results in Swift Testing (and XCTest) console output.
# Prints "PASSED FAILED SKIPPED". Suites, the run summary, issue lines and the
# per-argument lines of parameterized tests are not tests and are not counted.
{
    gsub(/\033\[[0-9;]*m/, "")  # colour codes, in case NO_COLOR was not honoured
}
# Swift Testing: "<symbol> Test NAME passed after 0.001 seconds." Processes that tests start
# write to the same output, so a result can land mid-line: every symbol starts a piece of its own.
{
    n = split($0, piece, /✔|✘|➜|━/)
    for (i = 2; i <= n; i++) {
        p = piece[i]
        if (p ~ /^ Test (run with|case passing) / || p ~ /^ Test .* recorded (an|a known) issue/) continue
        if (p ~ /^ Test .* passed after [0-9.]+ seconds/) passed++
        else if (p ~ /^ Test .* failed after [0-9.]+ seconds/) failed++
        else if (p ~ /^ Test .* skipped/) skipped++
    }
}
# XCTest: "Test Case 'Suite.test' passed (0.001 seconds)."
/^Test Case '.*' passed \(/ { passed++; next }
/^Test Case '.*' failed \(/ { failed++; next }
/^Test Case '.*' skipped \(/ { skipped++; next }
END { printf "%d %d %d\n", passed, failed, skipped }
