#!/usr/bin/env bash
# `make bench`, lifecycle part: sequential `run` of /bin/true in the busybox bundle for berth, runc
# and crun, measured in the same run. Prints the median ms per container, ratios, and peak RSS.
#
#   benchmarks/lifecycle.sh [RUNS]      (default 100)
#
# crun 1.8 refuses a hybrid cgroup host, so every runtime runs in a private mount namespace in
# which /sys/fs/cgroup/unified is unmounted: the three do the same work (no cgroup at all), and
# nothing of the host changes. Results also go to bench-results/lifecycle.json.
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

# crun 1.8.1 knows runtime-spec versions up to 1.0.2; the config is otherwise berth's default.
scripts/make-bundle.sh --oci-version 1.0.2 "$berth" "$work/bundle" -- /bin/true

inner() {
    cd "$work/bundle"
    if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi
    for runtime in "$berth" runc crun; do
        "$runtime" --root "$state/$(basename "$runtime")" run bench-check >/dev/null
    done
    hyperfine -N --style basic --warmup 10 --runs "$runs" --export-json "$work/times.json" \
        -n berth "$berth --root $state/berth run b" \
        -n crun "crun --root $state/crun run c" \
        -n runc "runc --root $state/runc run r" >&2
    for runtime in "$berth" crun runc; do
        /usr/bin/time -f "%M" -o "$work/rss-$(basename "$runtime")" "$runtime" --root "$state/x" run rss >/dev/null
    done
}
export -f inner
export work state berth runs
unshare --mount --propagation private bash -c inner

jq -n --slurpfile t "$work/times.json" \
    --arg rb "$(<"$work/rss-berth")" --arg rc "$(<"$work/rss-crun")" --arg rr "$(<"$work/rss-runc")" '
    ($t[0].results | map({(.command): (.median * 1000)}) | add) as $m |
    {median_ms: $m, ratio_berth_to_crun: ($m.berth / $m.crun), ratio_berth_to_runc: ($m.berth / $m.runc),
     peak_rss_kb: {berth: ($rb|tonumber), crun: ($rc|tonumber), runc: ($rr|tonumber)}, runs: '"$runs"'}' \
    >"$out/lifecycle.json"
jq -r '"lifecycle: median ms per container (\(.runs) sequential runs of /bin/true)",
  "  berth \(.median_ms.berth | .*100|round/100)   crun \(.median_ms.crun | .*100|round/100)   runc \(.median_ms.runc | .*100|round/100)",
  "  berth/crun \(.ratio_berth_to_crun | .*100|round/100)   berth/runc \(.ratio_berth_to_runc | .*100|round/100)   (target berth/crun <= 0.8)",
  "  peak RSS kB: berth \(.peak_rss_kb.berth)   crun \(.peak_rss_kb.crun)   runc \(.peak_rss_kb.runc)"' "$out/lifecycle.json"
