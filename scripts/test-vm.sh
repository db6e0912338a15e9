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
#
# Phases: every matching suite not in `solo` below runs in one VM, in parallel (a new suite joins
# it by its name alone); then each suite of `solo` runs alone, in a VM of its own. Every phase has
# its own time limit, boot included: a phase that hangs is stopped, reported with the tests it
# left unfinished, its console tail and the guest kernel's stack traces (SysRq l, w), counted as
# failed, and the next phase runs. Results come back through Swift Testing's event stream, which
# the guest writes to a virtio serial port (vm-run.sh --results) straight into a host file, so
# every test is counted whatever the console shows.
#
#   BERTH_VM_FILTER=REGEX       Swift Testing --filter instead of the default
#                               'VMTests|IntegrationTests', e.g. one test:
#                               BERTH_VM_FILTER='BedVMTests/cpuMax' make test-vm
#   BERTH_VM_TIME_SCALE=N       multiplies every phase's time limit (default 1; a slower machine)
#   BERTH_VM_PARALLEL=N         at most N tests at a time in the parallel phase (default 6); 0: no bound
#   BERTH_VM_LOGS=DIR           where each phase's console, events and kernel log are kept
#                               (default .build/test-vm; emptied at the start)
#
# Fails when a test failed, a phase timed out, a runner exited non-zero or stopped without
# finishing its run, the VM reported no exit status, or no test ran at all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin=.build/debug/BerthPackageTests.xctest
filter=${BERTH_VM_FILTER:-VMTests|IntegrationTests}
# Suites that run alone, each in a VM of its own, after the parallel phase: those that measure CPU
# time, throughput or rates, so that no other suite's load skews a measured number, and the
# engines, which load both CPUs. The ctr suites sample CPU use and the supervisor's mapped pages,
# which the parallel phase's load has starved. A suite that must run alone: add its name here.
solo=(EngineVMTests BedVMTests ResourcesVMTests LimitsVMTests HandoffIntegrationTests CtrIntegrationTests CtrLimitsVMTests)
# Time limits in seconds, boot included: about three times what a phase takes on a 2-core machine
# under other load (docs/testing.md has the measured times). A solo suite without an entry gets
# default_limit. The parallel phase's limit grows with the number of tests it runs, so that new
# suites joining it need no edit here.
declare -A limit=(
    [EngineVMTests]=720
    [BedVMTests]=240
    [ResourcesVMTests]=240
    [LimitsVMTests]=480
    [HandoffIntegrationTests]=540
    [CtrIntegrationTests]=600
    [CtrLimitsVMTests]=300
)
default_limit=300
parallel_base=180 parallel_per_test=6
scale=${BERTH_VM_TIME_SCALE:-1}
# Two emulated CPUs: every test started at once only makes each slower, until the slowest reach
# their own time limits (.timeLimit) under a loaded host.
width=${BERTH_VM_PARALLEL:-6}
logs=${BERTH_VM_LOGS:-.build/test-vm}

[[ -x $bin ]] || { echo "test-vm: no $bin: run 'make build' first" >&2; exit 2; }
[[ $scale =~ ^[1-9][0-9]*$ ]] || { echo "test-vm: BERTH_VM_TIME_SCALE wants a whole number, got '$scale'" >&2; exit 2; }
[[ $width =~ ^[0-9]+$ ]] || { echo "test-vm: BERTH_VM_PARALLEL wants a whole number, got '$width'" >&2; exit 2; }
width_args=()
((width == 0)) || width_args=(--experimental-maximum-parallelization-width "$width")
command -v jq >/dev/null || { echo "test-vm: jq not found: make deps" >&2; exit 2; }
mkdir -p "$logs"
rm -f "$logs"/*.console "$logs"/*.events "$logs"/*.kmsg

vpid='' tpid=''
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    # vm-run.sh tears down its VM on SIGTERM.
    if [[ -n $vpid ]]; then kill -TERM "$vpid" 2>/dev/null || true; wait "$vpid" 2>/dev/null || true; fi
    if [[ -n $tpid ]]; then wait "$tpid" 2>/dev/null || true; fi
    rm -f "$logs/.out"
    # Die of the same signal, so that make and shell loops stop on Ctrl-C too.
    if [[ -n $caught ]]; then kill -s "$caught" $$; fi
    exit "$rc"
}
caught=''
trap cleanup EXIT
trap 'caught=INT; exit 130' INT
trap 'caught=TERM; exit 143' TERM
trap 'caught=HUP; exit 129' HUP

solo_re=$(IFS='|'; echo "${solo[*]}")
# Which phases have tests: the binary lists every test ID (Module.Suite/test()) on the host,
# without running anything; --list-tests ignores --filter, so the filter is applied here (PCRE
# reads Swift's regex syntax the same way for the filters we use). When grep cannot read the
# filter every phase boots, and one without tests reports none.
listing=$("$bin" --testing-library swift-testing --list-tests 2>/dev/null || true)
matching() { # prints the listed tests that match the filter and the extended regex $1
    grep -P -- "$filter" <<<"$listing" 2>/dev/null | grep -E -- "$1" || true
}
listed=1
[[ -n $listing ]] || listed=''
grep -qP -- "$filter" <<<"" 2>/dev/null || { (($? == 1)) || listed=''; }

total_passed=0 total_failed=0 total_skipped=0 failures=() ran=0
# A guest whose kernel reported a CPU stuck in it (a soft lockup, an RCU stall). qemu's TCG
# has wedged a guest this way once in dozens of runs with nothing of berth's on the stacks
# (see the memory cgroup note in vm-run.sh), so such a phase gets one more boot.
guest_locked_up() {
    grep -qE 'BUG: soft lockup|rcu: INFO: rcu_[a-z]+ (self-)?detected stall' "$1" 2>/dev/null
}

# run_phase NAME LIMIT ARGS...: runs the test binary with ARGS in a VM of its own.
run_phase() {
    local name=$1 limit_s=$2
    shift 2
    local events=$logs/$name.events console=$logs/$name.console kmsg=$logs/$name.kmsg
    echo "=== test-vm: $name (limit ${limit_s}s) ==="
    local start=$SECONDS rc=0 attempt
    for attempt in 1 2; do
        start=$SECONDS rc=0
        boot_phase "$name" "$limit_s" "$@"
        ((rc != 0 && attempt == 1)) && guest_locked_up "$kmsg" || break
        local f
        for f in "$console" "$events" "$kmsg"; do mv -f "$f" "${f%.*}.lockup.${f##*.}"; done
        echo "test-vm: $name: the guest's kernel locked up (exit $rc; its log: ${kmsg%.*}.lockup.kmsg); booting the phase once more" >&2
        echo "=== test-vm: $name again (limit ${limit_s}s) ==="
    done
    count_phase "$name" "$limit_s"
}

# boot_phase NAME LIMIT ARGS...: one boot of the phase's VM; sets rc.
boot_phase() {
    local name=$1 limit_s=$2
    shift 2
    local events=$logs/$name.events console=$logs/$name.console kmsg=$logs/$name.kmsg
    # vm-run.sh runs in the background so that a signal here reaches the trap at once instead of
    # after the whole phase; tee keeps the output visible live.
    rm -f "$logs/.out"
    mkfifo "$logs/.out"
    tee "$console" <"$logs/.out" &
    tpid=$!
    # After the run, the guest's memory: what the tests left in tmpfs (Shmem) and what is free.
    scripts/vm-run.sh -t "$limit_s" --disk 64M --kmsg "$kmsg" --results "$events" -- sh -c '
        bin=$1; shift
        env NO_COLOR=1 "$bin" --testing-library swift-testing \
            --event-stream-output-path "$BERTH_VM_RESULTS" --event-stream-version 0 "$@"
        rc=$?
        echo "test-vm: guest memory at the end:" $(grep -E "^(MemFree|MemAvailable|Shmem):" /proc/meminfo)
        exit $rc' \
        sh "$PWD/$bin" "$@" >"$logs/.out" 2>&1 &
    vpid=$!
    wait "$vpid" || rc=$?
    vpid=
    wait "$tpid" || true
    tpid=
}

# count_phase NAME LIMIT: reads the phase's events and adds them to the totals ($rc, $start:
# those of its last boot).
count_phase() {
    local name=$1 limit_s=$2
    local events=$logs/$name.events console=$logs/$name.console kmsg=$logs/$name.kmsg
    local took=$((SECONDS - start)) passed failed skipped notrun=0 unfinished=() failed_names=() run_ended=no line
    while IFS= read -r line; do
        case $line in
            counts\ *) read -r _ passed failed skipped <<<"$line" ;;
            failed\ *) failed_names+=("${line#failed }") ;;
            unfinished\ *) unfinished+=("${line#unfinished }") ;;
            notrun\ *) notrun=${line#notrun } ;;
            run-ended\ *) run_ended=${line#run-ended } ;;
        esac
    done < <(jq -nrR -f scripts/test-events.jq "$events")
    # A phase that did not finish: the tests it planned and never started count as failed too.
    failed=$((failed + notrun))
    total_passed=$((total_passed + passed)) total_failed=$((total_failed + failed))
    total_skipped=$((total_skipped + skipped)) ran=$((ran + passed + failed))
    echo "vm: $name: $passed passed, $failed failed, $skipped skipped (${took}s of ${limit_s}s)"
    local why=''
    case $rc in
        0) [[ $run_ended == yes ]] || why="the test runner exited 0 without finishing its run" ;;
        1) ((failed > 0)) || why="the test runner exited with 1" ;; # 1: a test failed
        69) ((passed + failed + skipped == 0)) || why="the test runner exited 69" ;; # 69: no test matched
        124) why="TIMED OUT after ${limit_s}s" ;;
        125) why="the VM stopped without reporting an exit status (panic, oops: see the kernel log above)" ;;
        *) why="the test runner exited with $rc" ;;
    esac
    ((failed == 0)) || [[ -n $why ]] || why="$failed failed"
    if [[ -n $why ]]; then
        local report="$name: $why"
        local t
        for t in "${failed_names[@]}"; do report+=$'\n'"    failed: $t"; done
        for t in "${unfinished[@]}"; do report+=$'\n'"    unfinished (started, no result): $t"; done
        ((notrun)) && report+=$'\n'"    never started: $notrun"
        report+=$'\n'"    logs: $console, $kmsg (kernel), $events"
        failures+=("$report")
        ((failed > 0)) || { total_failed=$((total_failed + 1)); ran=$((ran + 1)); }
        echo "test-vm: $report" >&2
    fi
}

parallel_tests=$(matching "." | grep -vE "\.(${solo_re})/" | grep -c . || true)
if [[ -z $listed || $parallel_tests -gt 0 ]]; then
    run_phase parallel $(((parallel_base + parallel_per_test * parallel_tests) * scale)) \
        --filter "$filter" --skip "\\.(?:${solo_re})/" "${width_args[@]}"
fi
for suite in "${solo[@]}"; do
    [[ -z $listed || -n $(matching "\\.$suite/") ]] || continue
    run_phase "$suite" $((${limit[$suite]:-$default_limit} * scale)) \
        --filter "^(?=.*\\.$suite/)(?=.*(?:$filter))"
done

echo "vm: $total_passed passed, $total_failed failed, $total_skipped skipped"
if ((${#failures[@]})); then
    echo "test-vm: failed phases:" >&2
    printf '  %s\n' "${failures[@]}" >&2
    exit 1
fi
if ((ran == 0)); then
    echo "test-vm: no test ran (filter '$filter')" >&2
    exit 1
fi
