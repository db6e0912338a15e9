#!/usr/bin/env bash
# `make bench`, lifecycle part: sequential `run` of /bin/true for berth, runc and crun, measured in
# the same run, with two bundles over the busybox rootfs: the config `berth spec` writes (with its
# default seccomp profile) and the one `runc spec` writes (no seccomp, three capabilities, the
# config most tools start from). Prints the median ms per container and the ratios for each
# bundle, and peak RSS.
#
#   benchmarks/lifecycle.sh [RUNS]      (default 100 rounds; each round runs all six once)
#
# crun 1.8 refuses a hybrid cgroup host, so every runtime runs in a private mount namespace in
# which the cgroup2 hierarchy alone is mounted on /sys/fs/cgroup (no mount of the host changes);
# there crun still runs without a cgroup (see inner). The VM part (lifecycle-vm.sh) has all three
# doing the same work, limits included. Results also go to bench-results/lifecycle.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-100}
berth=$PWD/.build/release/berth
out=$PWD/bench-results
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
# State on tmpfs, where each runtime keeps it by default (/run/berth, /run/runc, /run/crun).
state=$(mktemp -d /run/berth-bench.XXXXXX)
trap 'rm -rf "$work" "$state"' EXIT
mkdir -p "$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# crun 1.8.1 knows runtime-spec versions up to 1.0.2.
scripts/make-bundle.sh --oci-version 1.0.2 "$berth" "$work/berth-spec" -- /bin/true
scripts/make-bundle.sh --from runc "$berth" "$work/runc-spec" -- /bin/true

inner() {
    source benchmarks/rounds.sh
    # The runtimes' stdio: scratch files, not the host's /dev/null, which crun 1.8 would chown.
    : >"$work/stdin"
    exec <"$work/stdin" >"$work/stdout"
    # cgroup2 alone on /sys/fs/cgroup, as on a cgroup v2 host: berth and runc create a cgroup
    # (without controllers: they are v1's here) and attach a device program. crun cannot: it
    # raises RLIMIT_MEMLOCK before loading one, and root here lacks CAP_SYS_RESOURCE, so crun
    # runs with --cgroup-manager=disabled and does less work than the other two.
    umount -R /sys/fs/cgroup
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
    local -a entries=()
    for bundle in berth-spec runc-spec; do
        for runtime in berth crun runc; do
            case $runtime in
                berth) binary=$berth ;;
                crun) binary="crun --cgroup-manager=disabled" ;;
                *) binary=$runtime ;;
            esac
            "$binary" --root "$state/$runtime" run --bundle "$work/$bundle" check
            entries+=("$runtime@$bundle" "$binary --root $state/$runtime run --bundle $work/$bundle b")
        done
    done
    time_rounds "$runs" 5 "$work/times" "${entries[@]}"
    for runtime in "$berth" crun runc; do
        extra=()
        [[ $runtime == crun ]] && extra=(--cgroup-manager=disabled)
        /usr/bin/time -f "%M" -o "$work/rss-$(basename "$runtime")" "$runtime" "${extra[@]}" --root "$state/x" run --bundle "$work/berth-spec" rss
    done
}
export -f inner
export work state berth runs
unshare --mount --propagation private bash -c inner

source benchmarks/rounds.sh
jq -R -s "$rounds_summary" "$work/times" >"$work/summary.json"
jq -n --slurpfile s "$work/summary.json" --argjson runs "$runs" \
    --arg rb "$(<"$work/rss-berth")" --arg rc "$(<"$work/rss-crun")" --arg rr "$(<"$work/rss-runc")" \
    --arg load "$load_before / $(cut -d' ' -f1-3 /proc/loadavg)" '
    $s[0] as $t |
    def bundle($b): {berth: $t["berth@\($b)"].median_ms, crun: $t["crun@\($b)"].median_ms, runc: $t["runc@\($b)"].median_ms} as $m |
        {median_ms: $m, ratio_berth_to_crun: ($m.berth / $m.crun), ratio_berth_to_runc: ($m.berth / $m.runc)};
    {bundles: {"berth-spec": bundle("berth-spec"), "runc-spec": bundle("runc-spec")}, timings: $t,
     peak_rss_kb: {berth: ($rb|tonumber), crun: ($rc|tonumber), runc: ($rr|tonumber)}, runs: $runs,
     host_loadavg_before_after: $load}' >"$out/lifecycle.json"
jq -r '"lifecycle: median ms per container (\(.runs) interleaved rounds of /bin/true; load \(.host_loadavg_before_after))",
  (.bundles | to_entries[] | "  \(.key):  berth \(.value.median_ms.berth | .*100|round/100)   crun \(.value.median_ms.crun | .*100|round/100)   runc \(.value.median_ms.runc | .*100|round/100)   berth/crun \(.value.ratio_berth_to_crun | .*100|round/100)   berth/runc \(.value.ratio_berth_to_runc | .*100|round/100)"),
  "  peak RSS kB (berth-spec): berth \(.peak_rss_kb.berth)   crun \(.peak_rss_kb.crun)   runc \(.peak_rss_kb.runc)"' "$out/lifecycle.json"
