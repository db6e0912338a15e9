#!/usr/bin/env bash
# Run the VM part of the test suite: the already built test binary
# (.build/debug/BerthPackageTests.xctest, see `make build`) inside the VM of
# scripts/vm-run.sh, with a 64M scratch disk at /dev/vda. Then print
#   vm: N passed, N failed, N skipped
#
# Which tests: suites whose names end in VMTests (need cgroup v2, run only in
# the VM) and IntegrationTests (run on the host and again in the VM). The
# filter also sees the file name of free @Test functions: keep them out of
# files named *VMTests.swift.
#   BERTH_VM_FILTER=REGEX     Swift Testing --filter instead of the default
#                             'VMTests|IntegrationTests', e.g. one test:
#                             BERTH_VM_FILTER='BedVMTests/cpuMax' make test-vm
#   BERTH_VM_TIMEOUT=SECONDS  the whole VM run, boot included (default 1500)
#
# Fails when a test failed, when the runner exits non-zero, when the VM reports
# no exit status, or when no test ran at all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin=.build/debug/BerthPackageTests.xctest
filter=${BERTH_VM_FILTER:-VMTests|IntegrationTests}
# Suites that measure CPU time, throughput or rates, and the engines that load both CPUs: each runs
# alone after the rest, so that no other suite's load skews a measured number. The ctr suites
# sample CPU use and the supervisor's mapped pages, which the parallel phase's load has starved.
solo='EngineVMTests|BedVMTests|ResourcesVMTests|LimitsVMTests|HandoffIntegrationTests|CtrIntegrationTests|CtrLimitsVMTests'
timeout_s=${BERTH_VM_TIMEOUT:-1500}
[[ -x $bin ]] || { echo "test-vm: no $bin: run 'make build' first" >&2; exit 2; }

work=$(mktemp -d /tmp/berth-test-vm.XXXXXX)
vpid='' tpid=''
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    # vm-run.sh tears down its VM on SIGTERM.
    if [[ -n $vpid ]]; then kill -TERM "$vpid" 2>/dev/null || true; wait "$vpid" 2>/dev/null || true; fi
    if [[ -n $tpid ]]; then wait "$tpid" 2>/dev/null || true; fi
    rm -rf "$work"
    # Die of the same signal, so that make and shell loops stop on Ctrl-C too.
    if [[ -n $caught ]]; then kill -s "$caught" $$; fi
    exit "$rc"
}
caught=''
trap cleanup EXIT
trap 'caught=INT; exit 130' INT
trap 'caught=TERM; exit 143' TERM
trap 'caught=HUP; exit 129' HUP

# vm-run.sh runs in the background so that a signal here reaches the trap at
# once instead of after the whole run; tee keeps the output visible live.
mkfifo "$work/out"
tee "$work/log" <"$work/out" &
tpid=$!
scripts/vm-run.sh -t "$timeout_s" --disk 64M -- sh -c '
    env NO_COLOR=1 "$1" --testing-library swift-testing --filter "$2" --skip "\\.(?:$3)/"; rc=$?
    for suite in $(echo "$3" | tr "|" " "); do
        env NO_COLOR=1 "$1" --testing-library swift-testing --filter "^(?=.*\\.$suite/)(?=.*(?:$2))"; status=$?
        # 69: no test matched, for a suite the filter leaves out.
        [ $status -eq 0 ] || [ $status -eq 69 ] || [ $rc -ne 0 ] || rc=$status
    done
    exit $rc' sh "$PWD/$bin" "$filter" "$solo" \
    >"$work/out" 2>&1 &
vpid=$!
rc=0
wait "$vpid" || rc=$?
vpid=
wait "$tpid" || true
tpid=

read -r passed failed skipped < <(awk -f scripts/count-tests.awk "$work/log")
echo "vm: $passed passed, $failed failed, $skipped skipped"
case $rc in
    124) echo "test-vm: the VM timed out after ${timeout_s}s (BERTH_VM_TIMEOUT)" >&2; exit "$rc" ;;
    125) echo "test-vm: the VM reported no exit status" >&2; exit "$rc" ;;
esac
((failed == 0)) || exit 1
if ((passed + failed == 0)); then
    echo "test-vm: no test ran (filter '$filter')" >&2
    exit $((rc == 0 ? 1 : rc))
fi
if ((rc != 0)); then
    echo "test-vm: the test runner exited with $rc" >&2
    exit "$rc"
fi
