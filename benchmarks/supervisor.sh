#!/usr/bin/env bash
# `make bench`, ctr part: the supervisor's memory with 1 and with N services, `ctr ps` with N
# services, and ctr's overhead over berth for a container that runs /bin/true; then the memory
# again inside the test VM (cgroup v2 only, kernel 6.1), with every service limited (-m 64M).
#
#   benchmarks/supervisor.sh [SERVICES]      (default 50)
#   benchmarks/supervisor.sh --host [SERVICES]   without the VM part
#
# Memory is read from /proc/PID/smaps_rollup of each supervisor: RSS, and private memory
# (Private_Clean + Private_Dirty), the part that is this supervisor's alone. With one service
# the pages of the ctr binary it maps count as private (nobody else maps them); with many they
# are shared. One service is measured three times (a fresh service each) and the median kept;
# a service that logs a line a second is measured too, since its loop runs. conmon (podman's
# per-container monitor, with runc) is measured the same way when installed. Results go to
# bench-results/supervisor.json and, for the VM, bench-results/supervisor-vm.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
marker='===BERTH-SUPERVISOR-VM-JSON==='
mode=both
case ${1:-} in --host) mode=host; shift ;; --inside) mode=inside; shift ;; esac
services=${1:-50}
ctr=${CTR:-$PWD/.build/release/ctr}
berth=${BERTH:-$PWD/.build/release/berth}
rootfs=$PWD/rootfs-examples/busybox/rootfs
out=$PWD/bench-results
root=$(mktemp -d /run/ctr-bench.XXXXXX)
work=$(mktemp -d /tmp/ctr-bench.XXXXXX)
cleanup() {
    # shellcheck disable=SC2046
    "$ctr" --root "$root" rm -f $("$ctr" --root "$root" ps -a --format json | jq -r '.[].name') >/dev/null 2>&1 || true
    if [[ -f $work/conmon/conmon.pid ]]; then
        runc --root "$work/conmon/runc" delete -f conmon-bench >/dev/null 2>&1 || true
    fi
    rm -rf "$root" "$work"
}
trap cleanup EXIT
[[ -x $ctr ]] || { echo "supervisor: no $ctr: run make build" >&2; exit 2; }

# "RSS_KB PRIVATE_KB PRIVATE_DIRTY_KB" of a process. (Read with <<<, not < <(...): the VM has
# no /dev/fd for process substitution.)
memory() {
    awk '/^Rss:/{r=$2} /^Private_(Clean|Dirty):/{p+=$2} /^Private_Dirty:/{d=$2} END{print r, p, d}' "/proc/$1/smaps_rollup"
}
supervisor_pid() { jq -r .supervisorPid "$root/$1/status.json"; }

# A JSON object {rss, private, private_dirty} (kB): the median by private memory of three runs
# of one service alone, started with `ctr run -d ARGS...` and measured 1.5 s later (the
# supervisor drops the pages it inherited from ctr a second after the start).
one_service() {
    local rss private dirty
    for _ in 1 2 3; do
        "$ctr" --root "$root" run -d --name one "$@" >/dev/null
        sleep 1.5
        read -r rss private dirty <<<"$(memory "$(supervisor_pid one)")"
        "$ctr" --root "$root" rm -f one >/dev/null
        echo "$rss $private $dirty"
    done | sort -n -k2 | sed -n 2p | jq -R -c 'split(" ") | map(tonumber) | {rss: .[0], private: .[1], private_dirty: .[2]}'
}

# Starts N services with `ctr run -d ARGS...` (names s1...sN); prints the seconds it took, then
# (on the next line) the average per supervisor as one_service prints it.
many_services() {
    local start started i rss private dirty total_rss=0 total_private=0 total_dirty=0
    start=$EPOCHREALTIME
    for i in $(seq "$services"); do "$ctr" --root "$root" run -d --name "s$i" "$@" >/dev/null; done
    started=$EPOCHREALTIME
    sleep 1.5
    for i in $(seq "$services"); do
        read -r rss private dirty <<<"$(memory "$(supervisor_pid "s$i")")"
        total_rss=$((total_rss + rss)) total_private=$((total_private + private)) total_dirty=$((total_dirty + dirty))
    done
    echo "$started - $start" | bc
    jq -n -c --argjson n "$services" --argjson r "$total_rss" --argjson p "$total_private" --argjson d "$total_dirty" \
        '{rss: ($r / $n | floor), private: ($p / $n | floor), private_dirty: ($d / $n | floor)}'
}

if [[ $mode == inside ]]; then
    # In the VM: every service under a 64 MiB memory limit, which the container must see.
    limit=$("$ctr" --root "$root" run --rm -m 64M "$rootfs" -- cat /sys/fs/cgroup/memory.max)
    [[ $limit == 67108864 ]] || { echo "supervisor: the container saw memory.max '$limit'" >&2; exit 1; }
    one=$(one_service -m 64M "$rootfs" -- sleep 100000)
    { read -r start_s; read -r many; } <<<"$(many_services -m 64M "$rootfs" -- sleep 100000)"
    # shellcheck disable=SC2046
    "$ctr" --root "$root" rm -f $(seq -f 's%g' "$services") >/dev/null
    echo "$marker"
    jq -M -n -c --argjson n "$services" --argjson one "$one" --argjson many "$many" --argjson start_s "$start_s" \
        --arg kernel "$(uname -r)" \
        '{services: $n, memory_limit: "64M", one_service_kb: $one, per_service_kb_with_n: $many, start_n_s: $start_s,
          where: ("qemu TCG VM, cgroup v2 only, kernel " + $kernel)}'
    exit 0
fi
mkdir -p "$out"

one=$(one_service "$rootfs" -- sleep 100000)
logging=$(one_service "$rootfs" -- sh -c 'while :; do echo a line a second; sleep 1; done')
{ read -r start_s; read -r many; } <<<"$(many_services "$rootfs" -- sleep 100000)"
hyperfine -N --style basic --warmup 3 --runs 30 --export-json "$work/ps.json" "$ctr --root $root ps" >&2
names=$(seq -f 's%g' "$services")
stop_start=$EPOCHREALTIME
# shellcheck disable=SC2086
"$ctr" --root "$root" stop -t 1 $names >/dev/null
# shellcheck disable=SC2086
"$ctr" --root "$root" rm $names >/dev/null
stopped=$EPOCHREALTIME
# Left behind: service directories, container cgroups under ctr/, supervisors or containers.
left=$( (ls "$root"; find "$(awk '{for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break }}' /proc/self/mountinfo | head -n 1)/ctr" -mindepth 1 -maxdepth 1 -type d 2>/dev/null
    pgrep -f "ctr --root $root" || true; pgrep -fx "sleep 100000" || true) | grep -vc '^\.seccomp$' || true)

# ctr's overhead: a foreground `ctr run --rm` of /bin/true against `berth run` of the same, with
# the definition and log in a data root on disk ($work) and the runtime state in $root.
scripts/make-bundle.sh "$berth" "$work/bundle" -- /bin/true
hyperfine -N --style basic --warmup 5 --runs 50 --export-json "$work/run.json" \
    -n berth "$berth --root $work/berth-state run --bundle $work/bundle b" \
    -n ctr "$ctr --root $root --data-root $work/data run --rm --read-only $rootfs -- /bin/true" >&2

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
        read -r conmon_rss conmon_private conmon_dirty <<<"$(memory "$(cat "$work/conmon/conmon.pid")")"
        runc --root "$work/conmon/runc" kill conmon-bench KILL 2>/dev/null || true
    fi
fi

jq -n --slurpfile ps "$work/ps.json" --slurpfile run "$work/run.json" \
    --argjson n "$services" --argjson one "$one" --argjson logging "$logging" --argjson many "$many" \
    --argjson start_s "$start_s" --argjson stop_s "$(echo "$stopped - $stop_start" | bc)" \
    --argjson left "$left" --argjson conmon_rss "$conmon_rss" --argjson conmon_private "$conmon_private" \
    --argjson conmon_dirty "$conmon_dirty" '
    ($run[0].results | map({(.command): (.median * 1000)}) | add) as $r |
    {services: $n,
     one_service_kb: $one, one_logging_service_kb: $logging, per_service_kb_with_n: $many,
     conmon_kb: {rss: $conmon_rss, private: $conmon_private, private_dirty: $conmon_dirty},
     ps_ms_with_n: ($ps[0].results[0].median * 1000),
     start_n_s: $start_s, stop_and_rm_n_s: $stop_s, left_after_rm: $left,
     run_true_ms: {berth: $r.berth, ctr: $r.ctr, overhead: ($r.ctr - $r.berth)}}' >"$out/supervisor.json"
jq -r '"supervisor: memory per service (kB), target private <= 2048",
  "  1 service:   RSS \(.one_service_kb.rss)   private \(.one_service_kb.private) (dirty \(.one_service_kb.private_dirty))",
  "  1 service logging a line a second:   RSS \(.one_logging_service_kb.rss)   private \(.one_logging_service_kb.private) (dirty \(.one_logging_service_kb.private_dirty))",
  "  \(.services) services: RSS \(.per_service_kb_with_n.rss)   private \(.per_service_kb_with_n.private) (dirty \(.per_service_kb_with_n.private_dirty))   (average)",
  "  conmon (runc): RSS \(.conmon_kb.rss)   private \(.conmon_kb.private) (dirty \(.conmon_kb.private_dirty))",
  "  ctr ps with \(.services) services: \(.ps_ms_with_n | .*100|round/100) ms (target < 100)",
  "  start \(.services): \(.start_n_s | .*100|round/100) s   stop+rm: \(.stop_and_rm_n_s | .*100|round/100) s   left after rm: \(.left_after_rm)",
  "  run /bin/true: berth \(.run_true_ms.berth | .*100|round/100) ms   ctr \(.run_true_ms.ctr | .*100|round/100) ms   (overhead \(.run_true_ms.overhead | .*100|round/100) ms)"' \
    "$out/supervisor.json"

[[ $mode == both ]] || exit 0
# The VM: the same memory figures under cgroup v2 with limits. Its output streams to stderr; the
# JSON line after the marker is the result.
log=$work/vm.log
scripts/vm-run.sh -t 900 -- env CTR="$ctr" benchmarks/supervisor.sh --inside "$services" | tee "$log" >&2
result=$(sed -n "/^$marker\$/{n;p;q}" "$log")
[[ -n $result ]] || { echo "supervisor: the VM printed no result" >&2; exit 1; }
jq . <<<"$result" >"$out/supervisor-vm.json"
jq -r '"supervisor in the VM (\(.where), -m \(.memory_limit)): memory per service (kB), target private <= 2048",
  "  1 service:   RSS \(.one_service_kb.rss)   private \(.one_service_kb.private) (dirty \(.one_service_kb.private_dirty))",
  "  \(.services) services: RSS \(.per_service_kb_with_n.rss)   private \(.per_service_kb_with_n.private) (dirty \(.per_service_kb_with_n.private_dirty))   (average; started in \(.start_n_s | .*100|round/100) s)"' \
    "$out/supervisor-vm.json"
