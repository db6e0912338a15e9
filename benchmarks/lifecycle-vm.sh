#!/usr/bin/env bash
# `make bench`, VM part: the lifecycle benchmark WITH cgroup limits (memory 64M; cpu 50%: quota
# 50000, period 100000), inside the test VM whose kernel runs cgroup v2 only, so that all three
# runtimes create a cgroup, enable the memory and cpu controllers and write the limits. Sequential
# `run` of /bin/true in the busybox bundle for berth, runc and crun, measured in the same run,
# in interleaved rounds. Prints the median ms per container, the ratios and peak RSS.
#
#   benchmarks/lifecycle-vm.sh [RUNS]      (default 30: the VM is software-emulated, ~10x slower)
#
# On the host it boots the VM (scripts/vm-run.sh), which runs this script again with --inside.
# The VM sees the checkout read-only: the inside prints its result as one JSON line after a
# marker, and the host side writes it to bench-results/lifecycle-vm.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
marker='===BERTH-LIFECYCLE-VM-JSON==='
memory=$((64 << 20)) quota=50000 period=100000

if [[ ${1:-} == --inside ]]; then
    runs=$2 berth=$3
    work=$(mktemp -d /tmp/berth-bench.XXXXXX)
    state=$(mktemp -d /run/berth-bench.XXXXXX)
    trap 'rm -rf "$work" "$state"' EXIT
    limits=".linux.resources.memory.limit = $memory | .linux.resources.cpu.quota = $quota | .linux.resources.cpu.period = $period"
    # crun 1.8.1 knows runtime-spec versions up to 1.0.2; the config is otherwise berth's default.
    for bundle in bundle check; do
        if [[ $bundle == bundle ]]; then set -- /bin/true; else set -- cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; fi
        scripts/make-bundle.sh --oci-version 1.0.2 "$berth" "$work/$bundle" -- "$@"
        jq "$limits" "$work/$bundle/config.json" >"$work/$bundle/config.json.new"
        mv "$work/$bundle/config.json.new" "$work/$bundle/config.json"
    done
    # Each runtime must really apply the limits: the container reads them from its own cgroup.
    for runtime in "$berth" runc crun; do
        name=$(basename "$runtime")
        got=$(cd "$work/check" && "$runtime" --root "$state/$name" run check | tr '\n' ' ')
        if [[ $got != "$memory $quota $period " ]]; then
            echo "lifecycle-vm: $name ran the container with memory.max, cpu.max = '$got'" >&2
            exit 1
        fi
    done
    # Interleaved rounds, not hyperfine: hyperfine (which works here) times each runtime's whole
    # series back to back, and on a shared host a burst of background load then lands on one
    # runtime only (the same binaries measured 211 ms and 59 ms for berth in two such runs). Each
    # round runs the three once, in a rotating order; times from bash's clock, no fork around them.
    cd "$work/bundle"
    names=(berth crun runc)
    declare -A binary=([berth]=$berth [crun]=crun [runc]=runc)
    warmup=3
    for ((round = -warmup; round < runs; round++)); do
        for ((k = 0; k < 3; k++)); do
            name=${names[(k + round + warmup) % 3]}
            start=$EPOCHREALTIME
            "${binary[$name]}" --root "$state/$name" run "b-$name" >/dev/null ||
                { echo "lifecycle-vm: $name run failed" >&2; exit 1; }
            end=$EPOCHREALTIME
            ((round < 0)) || echo "$name $((${end/./} - ${start/./}))" >>"$work/times"
        done
        ((round < 0 || (round + 1) % 10)) || echo "lifecycle-vm: $((round + 1))/$runs rounds" >&2
    done
    for runtime in "$berth" crun runc; do
        /usr/bin/time -f "%M" -o "$work/rss-$(basename "$runtime")" "$runtime" --root "$state/x" run rss >/dev/null
    done
    echo "$marker"
    jq -M -c -R -s --arg rb "$(<"$work/rss-berth")" --arg rc "$(<"$work/rss-crun")" --arg rr "$(<"$work/rss-runc")" \
        --arg kernel "$(uname -r)" --argjson runs "$runs" \
        --argjson memory "$memory" --argjson quota "$quota" --argjson period "$period" '
        def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        split("\n") | map(select(length > 0) | split(" ") | {name: .[0], ms: (.[1] | tonumber / 1000)})
        | group_by(.name) | map({key: .[0].name, value: map(.ms)}) | from_entries as $t |
        ($t | map_values(median)) as $m |
        {median_ms: $m, min_ms: ($t | map_values(min)), max_ms: ($t | map_values(max)), ratio_berth_to_crun: ($m.berth / $m.crun), ratio_berth_to_runc: ($m.berth / $m.runc),
         peak_rss_kb: {berth: ($rb|tonumber), crun: ($rc|tonumber), runc: ($rr|tonumber)}, runs: $runs,
         limits: {memory_max: $memory, cpu_quota: $quota, cpu_period: $period},
         where: ("qemu TCG VM, cgroup v2 only, kernel " + $kernel)}' "$work/times"
    exit 0
fi

runs=${1:-30}
berth=${BERTH:-$PWD/.build/release/berth}
out=$PWD/bench-results
[[ -x $berth ]] || { echo "lifecycle-vm: no $berth: run make build" >&2; exit 2; }
for tool in jq runc crun; do
    command -v "$tool" >/dev/null || { echo "lifecycle-vm: $tool not found: run make deps" >&2; exit 2; }
done
log=$(mktemp /tmp/berth-bench-vm.XXXXXX)
trap 'rm -f "$log"' EXIT
mkdir -p "$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# The VM's output streams to stderr as it comes; the JSON line after the marker is the result.
scripts/vm-run.sh -t 900 -- benchmarks/lifecycle-vm.sh --inside "$runs" "$berth" | tee "$log" >&2
result=$(sed -n "/^$marker\$/{n;p;q}" "$log")
[[ -n $result ]] || { echo "lifecycle-vm: the VM printed no result" >&2; exit 1; }
# The VM's CPUs are threads of this host: its load during the run says how noisy the figures are.
jq --arg load "$load_before / $(cut -d' ' -f1-3 /proc/loadavg)" '. + {host_loadavg_before_after: $load}' <<<"$result" \
    >"$out/lifecycle-vm.json"
jq -r '"lifecycle in the VM with limits (memory 64M, cpu 50%): median ms per container (\(.runs) sequential runs of /bin/true)",
  "  berth \(.median_ms.berth | .*10|round/10)   crun \(.median_ms.crun | .*10|round/10)   runc \(.median_ms.runc | .*10|round/10)",
  "  berth/crun \(.ratio_berth_to_crun | .*100|round/100)   berth/runc \(.ratio_berth_to_runc | .*100|round/100)   (target berth/crun <= 1)",
  "  peak RSS kB: berth \(.peak_rss_kb.berth)   crun \(.peak_rss_kb.crun)   runc \(.peak_rss_kb.runc)"' "$out/lifecycle-vm.json"
