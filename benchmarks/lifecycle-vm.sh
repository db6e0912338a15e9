#!/usr/bin/env bash
# `make bench`, VM part: the lifecycle benchmark WITH cgroup limits (memory 64M; cpu 50%: quota
# 50000, period 100000), inside the test VM whose kernel runs cgroup v2 only, so that all three
# runtimes create a cgroup, enable the memory and cpu controllers and write the limits. Sequential
# `run` of /bin/true over the busybox rootfs for berth, runc and crun, measured in the same run,
# in interleaved rounds (benchmarks/rounds.sh), with two configs: `berth spec`'s and `runc
# spec`'s, each with the limits added. Prints the median ms per container, the ratios and peak RSS.
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
    source benchmarks/rounds.sh
    work=$(mktemp -d /tmp/berth-bench.XXXXXX)
    state=$(mktemp -d /run/berth-bench.XXXXXX)
    trap 'rm -rf "$work" "$state"' EXIT
    limits=".linux.resources.memory.limit = $memory | .linux.resources.cpu.quota = $quota | .linux.resources.cpu.period = $period"
    # Two configs: berth spec's (crun 1.8.1 knows runtime-spec versions up to 1.0.2) and runc spec's.
    for from in berth runc; do
        for bundle in bundle check; do
            if [[ $bundle == bundle ]]; then set -- /bin/true; else set -- cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; fi
            scripts/make-bundle.sh --oci-version 1.0.2 --from "$from" "$berth" "$work/$from-spec-$bundle" -- "$@"
            jq "$limits" "$work/$from-spec-$bundle/config.json" >"$work/$from-spec-$bundle/config.json.new"
            mv "$work/$from-spec-$bundle/config.json.new" "$work/$from-spec-$bundle/config.json"
        done
    done
    # Each runtime must really apply the limits: the container reads them from its own cgroup.
    entries=()
    for from in berth runc; do
        for name in berth crun runc; do
            binary=$name
            [[ $name == berth ]] && binary=$berth
            got=$("$binary" --root "$state/$name" run --bundle "$work/$from-spec-check" check | tr '\n' ' ')
            if [[ $got != "$memory $quota $period " ]]; then
                echo "lifecycle-vm: $name ran the $from-spec container with memory.max, cpu.max = '$got'" >&2
                exit 1
            fi
            entries+=("$name@$from-spec" "$binary --root $state/$name run --bundle $work/$from-spec-bundle b")
        done
    done
    : >"$work/stdin"
    time_rounds "$runs" 3 "$work/times" "${entries[@]}" <"$work/stdin" >"$work/stdout"
    for runtime in "$berth" crun runc; do
        /usr/bin/time -f "%M" -o "$work/rss-$(basename "$runtime")" "$runtime" --root "$state/x" run --bundle "$work/berth-spec-bundle" rss >"$work/stdout"
    done
    echo "$marker"
    jq -M -c -R -s "$rounds_summary" "$work/times" | jq -M -c --arg rb "$(<"$work/rss-berth")" --arg rc "$(<"$work/rss-crun")" --arg rr "$(<"$work/rss-runc")" \
        --arg kernel "$(uname -r)" --argjson runs "$runs" \
        --argjson memory "$memory" --argjson quota "$quota" --argjson period "$period" '
        . as $t |
        def bundle($b): {berth: $t["berth@\($b)"].median_ms, crun: $t["crun@\($b)"].median_ms, runc: $t["runc@\($b)"].median_ms} as $m |
            {median_ms: $m, ratio_berth_to_crun: ($m.berth / $m.crun), ratio_berth_to_runc: ($m.berth / $m.runc)};
        {bundles: {"berth-spec": bundle("berth-spec"), "runc-spec": bundle("runc-spec")}, timings: $t,
         peak_rss_kb: {berth: ($rb|tonumber), crun: ($rc|tonumber), runc: ($rr|tonumber)}, runs: $runs,
         limits: {memory_max: $memory, cpu_quota: $quota, cpu_period: $period},
         where: ("qemu TCG VM, cgroup v2 only, kernel " + $kernel)}'
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
jq -r '"lifecycle in the VM with limits (memory 64M, cpu 50%): median ms per container (\(.runs) interleaved rounds of /bin/true)",
  (.bundles | to_entries[] | "  \(.key):  berth \(.value.median_ms.berth | .*10|round/10)   crun \(.value.median_ms.crun | .*10|round/10)   runc \(.value.median_ms.runc | .*10|round/10)   berth/crun \(.value.ratio_berth_to_crun | .*100|round/100)   berth/runc \(.value.ratio_berth_to_runc | .*100|round/100)"),
  "  peak RSS kB: berth \(.peak_rss_kb.berth)   crun \(.peak_rss_kb.crun)   runc \(.peak_rss_kb.runc)"' "$out/lifecycle-vm.json"
