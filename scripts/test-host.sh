#!/usr/bin/env bash
# Run the whole Swift test suite on the host with `swift test`, then print
#   host: N passed, N failed, N skipped
# Suites marked .cgroupV2 (names ending in VMTests) skip here: hybrid cgroups.
# Extra arguments go to `swift test`, e.g. scripts/test-host.sh --filter OCITests
# Without arguments it also runs scripts/test-webapp.sh (the rollout example's C programs).
#
# The counts come from Swift Testing's event stream (scripts/test-events.jq), not from the
# console, where the output of the processes that tests start lands among the result lines;
# XCTest's from its final "Executed N tests, with N failures" line; test-webapp.sh's from its
# own result lines (scripts/count-tests.awk).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

work=$(mktemp -d /tmp/berth-test-host.XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v jq >/dev/null || { echo "test-host: jq not found: make deps" >&2; exit 2; }

# The host's /dev/null is every process's stdio: a runtime that chowns or chmods a stdio
# descriptor (crun 1.8 does, with a user namespace) changes it for the whole machine. Any test
# that does so fails the run, whichever runtime it drove.
null_before=$(stat -c '%u:%g %a %F' /dev/null)

set +e
NO_COLOR=1 swift test --event-stream-output-path "$work/events" --event-stream-version 0 "$@" 2>&1 | tee "$work/log"
rc=${PIPESTATUS[0]}
webapp_rc=0
if (($# == 0)); then
    scripts/test-webapp.sh 2>&1 | tee "$work/webapp"
    webapp_rc=${PIPESTATUS[0]}
fi
set -e

passed=0 failed=0 skipped=0 run_ended=no failed_names=()
while IFS= read -r line; do
    case $line in
        counts\ *) read -r _ passed failed skipped <<<"$line" ;;
        failed\ *|unfinished\ *) failed_names+=("${line#* }") ;;
        run-ended\ *) run_ended=${line#run-ended } ;;
    esac
done < <(jq -nrR -f scripts/test-events.jq "$work/events" 2>/dev/null)
# XCTest (no suite uses it today): its last summary line is the total.
if read -r xc_run xc_failed < <(sed -nE 's/.*Executed ([0-9]+) tests?, with ([0-9]+) failures?.*/\1 \2/p' "$work/log" | tail -n 1) &&
    [[ -n $xc_run ]]; then
    passed=$((passed + xc_run - xc_failed)) failed=$((failed + xc_failed))
fi
if [[ -s $work/webapp ]]; then
    read -r w_passed w_failed w_skipped < <(awk -f scripts/count-tests.awk "$work/webapp")
    passed=$((passed + w_passed)) failed=$((failed + w_failed)) skipped=$((skipped + w_skipped))
fi

null_after=$(stat -c '%u:%g %a %F' /dev/null)
if [[ $null_after != "$null_before" ]]; then
    echo "test-host: the host's /dev/null changed during the tests: $null_before -> $null_after" >&2
    failed=$((failed + 1))
fi

echo "host: $passed passed, $failed failed, $skipped skipped"
if ((${#failed_names[@]})); then
    echo "test-host: failed: ${failed_names[*]}" >&2
fi
((failed == 0)) || exit 1
if ((rc != 0)); then
    echo "test-host: swift test exited with $rc" >&2
    exit "$rc"
fi
if [[ $run_ended != yes ]]; then
    echo "test-host: Swift Testing did not finish its run" >&2
    exit 1
fi
if ((webapp_rc != 0)); then
    echo "test-host: scripts/test-webapp.sh exited with $webapp_rc" >&2
    exit "$webapp_rc"
fi
if ((passed == 0)); then
    echo "test-host: no test passed" >&2
    exit 1
fi
