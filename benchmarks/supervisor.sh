#!/usr/bin/env bash
# `make bench`, ctr part: the supervisor's memory with 1 and with N services, `ctr ps` with N
# services, and ctr's overhead over berth for a container that runs /bin/true.
#
#   benchmarks/supervisor.sh [SERVICES]      (default 50)
#
# Memory is read from /proc/PID/smaps_rollup of each supervisor: RSS, and private memory
# (Private_Clean + Private_Dirty), the part that is this supervisor's alone. With one service
# the pages of the ctr binary count as private (nobody else maps them); with many they are
# shared. conmon (podman's per-container monitor, with runc) is measured the same way when
# installed. Results also go to bench-results/supervisor.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
services=${1:-50}
ctr=${CTR:-$PWD/.build/release/ctr}
berth=${BERTH:-$PWD/.build/release/berth}
rootfs=$PWD/rootfs-examples/busybox/rootfs
out=$PWD/bench-results
root=$(mktemp -d /run/ctr-bench.XXXXXX)
work=$(mktemp -d /tmp/ctr-bench.XXXXXX)
cleanup() {
    "$ctr" --root "$root" rm -f $("$ctr" --root "$root" ps -a --format json | jq -r '.[].name') >/dev/null 2>&1 || true
    if [[ -f $work/conmon/conmon.pid ]]; then
        runc --root "$work/conmon/runc" delete -f conmon-bench >/dev/null 2>&1 || true
    fi
    rm -rf "$root" "$work"
}
trap cleanup EXIT
mkdir -p "$out"

# "RSS_KB PRIVATE_KB PRIVATE_DIRTY_KB" of a process.
memory() {
    awk '/^Rss:/{r=$2} /^Private_(Clean|Dirty):/{p+=$2} /^Private_Dirty:/{d=$2} END{print r, p, d}' "/proc/$1/smaps_rollup"
}
supervisor_pid() { jq -r .supervisorPid "$root/$1/status.json"; }

# One service.
"$ctr" --root "$root" run -d --name one "$rootfs" -- sleep 100000 >/dev/null
sleep 1.5
read -r one_rss one_private one_dirty < <(memory "$(supervisor_pid one)")
"$ctr" --root "$root" rm -f one >/dev/null

# N services.
start=$(date +%s.%N)
for i in $(seq "$services"); do "$ctr" --root "$root" run -d --name "s$i" "$rootfs" -- sleep 100000 >/dev/null; done
started=$(date +%s.%N)
sleep 1.5
total_rss=0 total_private=0 total_dirty=0
for i in $(seq "$services"); do
    read -r rss private dirty < <(memory "$(supervisor_pid "s$i")")
    total_rss=$((total_rss + rss)) total_private=$((total_private + private)) total_dirty=$((total_dirty + dirty))
done
hyperfine -N --style basic --warmup 3 --runs 30 --export-json "$work/ps.json" "$ctr --root $root ps" >&2
names=$(seq -f 's%g' "$services")
stop_start=$(date +%s.%N)
# shellcheck disable=SC2086
"$ctr" --root "$root" stop -t 1 $names >/dev/null
# shellcheck disable=SC2086
"$ctr" --root "$root" rm $names >/dev/null
stopped=$(date +%s.%N)
# Left behind: service directories, container cgroups under ctr/, supervisors or containers.
left=$( (ls "$root"; find "$(awk '{for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break }}' /proc/self/mountinfo | head -n 1)/ctr" -mindepth 1 -maxdepth 1 -type d 2>/dev/null
    pgrep -f "ctr --root $root" || true; pgrep -fx "sleep 100000" || true) | grep -vc '^\.seccomp$' || true)

# ctr's overhead: a foreground `ctr run --rm` of /bin/true against `berth run` of the same.
scripts/make-bundle.sh "$berth" "$work/bundle" -- /bin/true
hyperfine -N --style basic --warmup 5 --runs 50 --export-json "$work/run.json" \
    -n berth "$berth --root $work/berth-state run --bundle $work/bundle b" \
    -n ctr "$ctr --root $root run --rm --read-only $rootfs -- /bin/true" >&2

# conmon, as podman starts it, around runc with the same bundle running sleep.
conmon_rss=null conmon_private=null conmon_dirty=null
if command -v conmon >/dev/null && command -v runc >/dev/null; then
    mkdir -p "$work/conmon/exits"
    scripts/make-bundle.sh "$berth" "$work/conmon/bundle" -- sleep 100000
    if conmon --api-version 1 -c conmon-bench -u conmon-bench -n conmon-bench -r "$(command -v runc)" \
        --runtime-arg --root="$work/conmon/runc" -b "$work/conmon/bundle" -p "$work/conmon/pid" \
        -l "k8s-file:$work/conmon/log" --exit-dir "$work/conmon/exits" --socket-dir-path "$work/conmon" \
        --conmon-pidfile "$work/conmon/conmon.pid" >/dev/null 2>&1; then
        # conmon returns at once and creates the container in the background.
        for _ in $(seq 50); do [[ -s $work/conmon/pid ]] && break; sleep 0.1; done
        runc --root "$work/conmon/runc" start conmon-bench
        sleep 0.5
        read -r conmon_rss conmon_private conmon_dirty < <(memory "$(cat "$work/conmon/conmon.pid")")
        runc --root "$work/conmon/runc" kill conmon-bench KILL 2>/dev/null || true
    fi
fi

jq -n --slurpfile ps "$work/ps.json" --slurpfile run "$work/run.json" \
    --argjson n "$services" --argjson one_rss "$one_rss" --argjson one_private "$one_private" --argjson one_dirty "$one_dirty" \
    --argjson total_rss "$total_rss" --argjson total_private "$total_private" --argjson total_dirty "$total_dirty" \
    --argjson start_s "$(echo "$started - $start" | bc)" --argjson stop_s "$(echo "$stopped - $stop_start" | bc)" \
    --argjson left "$left" --argjson conmon_rss "$conmon_rss" --argjson conmon_private "$conmon_private" \
    --argjson conmon_dirty "$conmon_dirty" '
    ($run[0].results | map({(.command): (.median * 1000)}) | add) as $r |
    {services: $n,
     one_service_kb: {rss: $one_rss, private: $one_private, private_dirty: $one_dirty},
     per_service_kb_with_n: {rss: ($total_rss / $n | floor), private: ($total_private / $n | floor), private_dirty: ($total_dirty / $n | floor)},
     conmon_kb: {rss: $conmon_rss, private: $conmon_private, private_dirty: $conmon_dirty},
     ps_ms_with_n: ($ps[0].results[0].median * 1000),
     start_n_s: $start_s, stop_and_rm_n_s: $stop_s, left_after_rm: $left,
     run_true_ms: {berth: $r.berth, ctr: $r.ctr, overhead: ($r.ctr - $r.berth)}}' >"$out/supervisor.json"
jq -r '"supervisor: memory per service (kB), target private <= 2048",
  "  1 service:   RSS \(.one_service_kb.rss)   private \(.one_service_kb.private) (dirty \(.one_service_kb.private_dirty))",
  "  \(.services) services: RSS \(.per_service_kb_with_n.rss)   private \(.per_service_kb_with_n.private) (dirty \(.per_service_kb_with_n.private_dirty))   (average)",
  "  conmon (runc): RSS \(.conmon_kb.rss)   private \(.conmon_kb.private) (dirty \(.conmon_kb.private_dirty))",
  "  ctr ps with \(.services) services: \(.ps_ms_with_n | .*100|round/100) ms (target < 100)",
  "  start \(.services): \(.start_n_s | .*100|round/100) s   stop+rm: \(.stop_and_rm_n_s | .*100|round/100) s   left after rm: \(.left_after_rm)",
  "  run /bin/true: berth \(.run_true_ms.berth | .*100|round/100) ms   ctr \(.run_true_ms.ctr | .*100|round/100) ms   (overhead \(.run_true_ms.overhead | .*100|round/100) ms)"' \
    "$out/supervisor.json"
