#!/usr/bin/env bash
# Both halves of the test suite: on the host (scripts/test-host.sh), then in the
# cgroup v2 VM (scripts/test-vm.sh). The VM half runs even when the host half
# failed; both summary lines are repeated at the end, then their sum:
#   host: N passed, N failed, N skipped
#   vm: N passed, N failed, N skipped
#   N passed, N failed
# Fails if either half failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

summary_line() { # $1: label, $2: file holding the script's output
    grep -E "^$1: [0-9]+ passed, [0-9]+ failed" "$2" | tail -n 1 || true
}

work=$(mktemp -d /tmp/berth-test-all.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Ctrl-C stops the whole run instead of moving on to the VM part.
trap 'exit 130' INT
trap 'exit 143' TERM

host_rc=0
scripts/test-host.sh 2>&1 | tee "$work/host" || host_rc=${PIPESTATUS[0]}
vm_rc=0
scripts/test-vm.sh 2>&1 | tee "$work/vm" || vm_rc=${PIPESTATUS[0]}

host=$(summary_line host "$work/host")
vm=$(summary_line vm "$work/vm")
count() { # $1: summary line, $2: passed|failed
    local n
    n=$(grep -oE "[0-9]+ $2" <<<"$1" | head -n 1) || true
    n=${n%% *}
    echo "${n:-0}"
}
passed=$(( $(count "$host" passed) + $(count "$vm" passed) ))
failed=$(( $(count "$host" failed) + $(count "$vm" failed) ))
# A half that failed without counting a failed test (no results, a runner that died) still
# shows as a failure in the sum.
((host_rc == 0 || $(count "$host" failed) > 0)) || failed=$((failed + 1))
((vm_rc == 0 || $(count "$vm" failed) > 0)) || failed=$((failed + 1))
echo
echo "${host:-host: no results}$( ((host_rc == 0)) || echo " (exit $host_rc)")"
echo "${vm:-vm: no results}$( ((vm_rc == 0)) || echo " (exit $vm_rc)")"
echo "$passed passed, $failed failed"
((host_rc == 0 && vm_rc == 0))
