#!/usr/bin/env bash
# Run the whole Swift test suite on the host with `swift test`, then print
#   host: N passed, N failed, N skipped
# Suites marked .cgroupV2 (names ending in VMTests) skip here: hybrid cgroups.
# Extra arguments go to `swift test`, e.g. scripts/test-host.sh --filter OCITests
# Without arguments it also runs scripts/test-webapp.sh (the rollout example's C programs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log=$(mktemp /tmp/berth-test-host.XXXXXX)
trap 'rm -f "$log"' EXIT

# Plain symbols and no colour codes, so the result lines can be counted.
set +e
NO_COLOR=1 swift test "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# Its result lines have the Swift Testing format, so they are counted below with the others.
webapp_rc=0
if (($# == 0)); then
    scripts/test-webapp.sh 2>&1 | tee -a "$log"
    webapp_rc=${PIPESTATUS[0]}
fi
set -e

read -r passed failed skipped < <(awk -f scripts/count-tests.awk "$log")
echo "host: $passed passed, $failed failed, $skipped skipped"
((failed == 0)) || exit 1
if ((rc != 0)); then
    echo "test-host: swift test exited with $rc" >&2
    exit "$rc"
fi
if ((webapp_rc != 0)); then
    echo "test-host: scripts/test-webapp.sh exited with $webapp_rc" >&2
    exit "$webapp_rc"
fi
if ((passed == 0)); then
    echo "test-host: no test passed" >&2
    exit 1
fi
