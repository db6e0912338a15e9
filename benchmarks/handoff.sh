#!/usr/bin/env bash
# `make bench`, hand-off part (issue 7): what the supervisor's port forwarding costs, what
# socket activation (--listen) costs, and how fast a rollout switches new connections.
#
#   benchmarks/handoff.sh [RUNS] [ROLLOUTS]      (defaults 5 and 6)
#
# Two services run on the host from rootfs-examples/webapp (built by its build.sh): `fwd`
# publishes a port (-p, the supervisor splices each connection into the container's network
# namespace) and `act` gets the listening socket itself (--listen, fd 3). wrk (-t2 -c20,
# keep-alive, GET / with a 3-byte body) runs RUNS times, the modes interleaved, against:
#   direct     the container's port 80 from inside its network namespace (nsenter)
#   forwarded  the published port on the host
#   listen     the --listen port on the host (the app accepts on the supervisor's socket)
# plus a bulk pair (GET /bytes?n=65536) for direct and forwarded. Medians are reported.
#
# The switch: ROLLOUTS rollouts per service, alternating v1 -> v2 -> v1, each under loadgen
# (20 connections, one request per connection, so every request is a new connection). The
# moment `ctr rollout` returns is marked for loadgen with --after-file (seen within its 5 ms
# tick). From loadgen's per-version first/last response times:
#   gap           first response of the new version - last response of the old one (positive:
#                 a pause with no response at all; negative: both answered for a while)
#   after return  new connections opened after `ctr rollout` returned that the old version
#                 served (must be 0)
# Results go to bench-results/handoff.txt (and .json). CTR=PATH picks the ctr binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-5}
rollouts=${2:-6}
duration=${WRK_DURATION:-5s}
ctr=${CTR:-$PWD/.build/release/ctr}
app=$PWD/rootfs-examples/webapp
out=$PWD/bench-results
for tool in wrk jq nsenter perl; do
    command -v "$tool" >/dev/null || { echo "handoff: $tool is missing (make deps)" >&2; exit 2; }
done
[[ -x $ctr ]] || { echo "handoff: no $ctr (make build)" >&2; exit 2; }
"$app/build.sh" >/dev/null
root=$(mktemp -d /var/tmp/ctr-bench-handoff.XXXXXX)
work=$(mktemp -d /var/tmp/ctr-bench-handoff-work.XXXXXX)
loadgen_pid=
cleanup() {
    [[ -z $loadgen_pid ]] || kill "$loadgen_pid" 2>/dev/null || true
    "$ctr" --root "$root" rm -f fwd act >/dev/null 2>&1 || true
    rm -rf "$root" "$work"
}
trap cleanup EXIT
mkdir -p "$out"
# Other work on the machine shows in every figure here; the load average says how much there was.
load_before=$(cut -d' ' -f1 /proc/loadavg)

free_port() { perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport'; }
fwd_port=$(free_port)
act_port=$(free_port)
"$ctr" --root "$root" run -d --name fwd -p "127.0.0.1:$fwd_port:80" "$app/v1/rootfs" -- webapp -q -p 80 >/dev/null
"$ctr" --root "$root" run -d --name act --listen "127.0.0.1:$act_port" "$app/v1/rootfs" -- webapp -q >/dev/null
for port in "$fwd_port" "$act_port"; do
    for _ in $(seq 100); do [[ $(curl -s --max-time 1 "http://127.0.0.1:$port/" || true) == v1 ]] && break; sleep 0.05; done
done
fwd_pid=$("$ctr" --root "$root" ps --format json | jq -r '.[] | select(.name == "fwd") | .pid')

# wrk MODE URL [nsenter...]: one run; appends {mode, rps, p50_us, p99_us, mib_s, errors} to
# $work/wrk.jsonl. wrk prints latencies as 94.00us / 1.23ms / 1.01s and bytes as KB/MB/GB.
measure() {
    local mode=$1 url=$2
    shift 2
    timeout 60 "$@" wrk -t2 -c20 -d"$duration" --latency "$url" >"$work/wrk.out"
    awk -v mode="$mode" '
        function us(v) { return v ~ /us$/ ? v + 0 : v ~ /ms$/ ? (v + 0) * 1000 : (v + 0) * 1000000 }
        function mib(v) { return v ~ /GB$/ ? (v + 0) * 1024 : v ~ /MB$/ ? v + 0 : v ~ /KB$/ ? (v + 0) / 1024 : (v + 0) / 1048576 }
        $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) }
        $1 == "Requests/sec:" { rps = $2 } $1 == "Transfer/sec:" { rate = mib($2) }
        /^ *Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
        /Non-2xx/ { errors += $NF }
        END { printf "{\"mode\":\"%s\",\"rps\":%s,\"p50_us\":%s,\"p99_us\":%s,\"mib_s\":%s,\"errors\":%d}\n", mode, rps, p50, p99, rate, errors }
    ' "$work/wrk.out" >>"$work/wrk.jsonl"
}
direct=(nsenter "--net=/proc/$fwd_pid/ns/net")
# A short warm-up of each path, not recorded.
for url in "http://127.0.0.1:$fwd_port/" "http://127.0.0.1:$act_port/"; do timeout 30 wrk -t2 -c20 -d1s "$url" >/dev/null; done
for run in $(seq "$runs"); do
    echo "handoff: wrk round $run of $runs" >&2
    measure direct "http://127.0.0.1:80/" "${direct[@]}"
    measure forwarded "http://127.0.0.1:$fwd_port/"
    measure listen "http://127.0.0.1:$act_port/"
    measure direct_bulk "http://127.0.0.1:80/bytes?n=65536" "${direct[@]}"
    measure forwarded_bulk "http://127.0.0.1:$fwd_port/bytes?n=65536"
done

# rollout SERVICE PORT N: one rollout under loadgen, to v2 when N is odd, else back to v1.
# Appends loadgen's figures, the rollout's wall time and its exit status to $work/switch.jsonl.
rollout() {
    local service=$1 port=$2 n=$3 new old
    if ((n % 2)); then new=v2 old=v1; else new=v1 old=v2; fi
    rm -f "$work/switched"
    "$app/bin/loadgen" -c 20 -d 3s -r 1 --after-file "$work/switched" "127.0.0.1:$port" >"$work/loadgen.json" &
    loadgen_pid=$!
    sleep 1
    local start end rc=0
    start=$(date +%s%N)
    timeout 60 "$ctr" --root "$root" rollout "$service" --rootfs "$app/$new/rootfs" --drain-timeout 20s >/dev/null || rc=$?
    end=$(date +%s%N)
    touch "$work/switched"
    local loadgen_rc=0
    wait "$loadgen_pid" || loadgen_rc=$?
    loadgen_pid=
    jq -c --arg service "$service" --arg new "$new" --arg old "$old" --argjson rc "$rc" --argjson loadgen_rc "$loadgen_rc" \
        --argjson ms "$(((end - start) / 1000)).0" '
        {service: $service, to: $new, rc: $rc, loadgen_rc: $loadgen_rc, rollout_ms: ($ms / 1000),
         failures: (.failed + .connect_errors + .resets + .timeouts + .closed_early),
         gap_ms: (.versions[$new].first_seen_ms - .versions[$old].last_seen_ms),
         return_after_first_new_ms: (.after_ms - .versions[$new].first_seen_ms),
         old_last_after_return_ms: (.versions[$old].last_seen_ms - .after_ms),
         old_new_connections_after_return: (.new_connections_by_version_after[$old] // 0),
         max_latency_ms: (.latency_us.max / 1000), requests_per_sec}' "$work/loadgen.json" >>"$work/switch.jsonl"
    # The next rollout starts once the old version has drained and gone.
    for _ in $(seq 300); do
        [[ $(jq '.others // [] | length' "$root/$service/status.json") == 0 ]] && return 0
        sleep 0.1
    done
    echo "handoff: the old version of $service is still there after 30 s" >&2
    return 1
}
for service in fwd act; do
    port=$fwd_port
    [[ $service == act ]] && port=$act_port
    for n in $(seq "$rollouts"); do
        echo "handoff: rollout $n of $rollouts ($service)" >&2
        rollout "$service" "$port" "$n"
    done
done

environment=$(printf '%s, %s CPUs (%s), %s, %s, ctr %s, load average %s before, %s after' "$(uname -r)" "$(nproc)" \
    "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)" "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)" \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(git describe --always --dirty 2>/dev/null || echo unknown)" "$load_before" \
    "$(cut -d' ' -f1 /proc/loadavg)")
jq -s --arg env "$environment" --argjson runs "$runs" --arg duration "$duration" --slurpfile switch "$work/switch.jsonl" '
    def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                       else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    def summary: {rps: (map(.rps) | median), p50_us: (map(.p50_us) | median), p99_us: (map(.p99_us) | median),
                  mib_s: (map(.mib_s) | median), errors: (map(.errors) | add)};
    def mode($m): map(select(.mode == $m)) | summary;
    def switching($s): $switch | map(select(.service == $s)) |
        {rollouts: length, failed_rollouts: map(select(.rc != 0)) | length, failed_requests: (map(.failures) | add),
         rollout_ms: (map(.rollout_ms) | median), gap_ms: (map(.gap_ms) | median),
         gap_ms_range: [(map(.gap_ms) | min), (map(.gap_ms) | max)],
         return_after_first_new_ms: (map(.return_after_first_new_ms) | median),
         old_last_after_return_ms: (map(.old_last_after_return_ms) | median),
         old_last_after_return_ms_max: (map(.old_last_after_return_ms) | max),
         old_new_connections_after_return: (map(.old_new_connections_after_return) | add),
         max_latency_ms: (map(.max_latency_ms) | median)};
    (mode("direct")) as $d | (mode("forwarded")) as $f | (mode("listen")) as $l |
    {environment: $env, wrk: "-t2 -c20 -d\($duration) --latency, keep-alive, GET /", runs: $runs,
     direct: $d, forwarded: $f, listen: $l, direct_bulk: mode("direct_bulk"), forwarded_bulk: mode("forwarded_bulk"),
     forwarded_ratio: ($f.rps / $d.rps), listen_ratio: ($l.rps / $d.rps),
     added_p50_us: ($f.p50_us - $d.p50_us), added_p99_us: ($f.p99_us - $d.p99_us),
     listen_added_p50_us: ($l.p50_us - $d.p50_us), listen_added_p99_us: ($l.p99_us - $d.p99_us),
     bulk_ratio: (mode("forwarded_bulk").mib_s / mode("direct_bulk").mib_s),
     switch_forwarded: switching("fwd"), switch_listen: switching("act"),
     raw: {wrk: ., switch: $switch}}' "$work/wrk.jsonl" >"$out/handoff.json"
jq -r '
    def r(n): n * 100 | round / 100;
    def ms(us): r(us / 1000);
    "hand-off: \(.environment)",
    "forwarding, wrk \(.wrk), median of \(.runs) runs (errors: \(.direct.errors + .forwarded.errors + .listen.errors))",
    "  direct (in the container netns)  \(.direct.rps | round) req/s   p50 \(ms(.direct.p50_us)) ms   p99 \(ms(.direct.p99_us)) ms",
    "  forwarded (-p, supervisor)       \(.forwarded.rps | round) req/s   p50 \(ms(.forwarded.p50_us)) ms   p99 \(ms(.forwarded.p99_us)) ms",
    "  socket activation (--listen)     \(.listen.rps | round) req/s   p50 \(ms(.listen.p50_us)) ms   p99 \(ms(.listen.p99_us)) ms",
    "  forwarded/direct \(r(.forwarded_ratio)) (target >= 0.70)   added p50 \(ms(.added_p50_us)) ms   added p99 \(ms(.added_p99_us)) ms (target < 1)",
    "  listen/direct \(r(.listen_ratio))   added p50 \(ms(.listen_added_p50_us)) ms   added p99 \(ms(.listen_added_p99_us)) ms",
    "  bulk GET /bytes?n=65536: direct \(r(.direct_bulk.mib_s)) MiB/s   forwarded \(r(.forwarded_bulk.mib_s)) MiB/s   ratio \(r(.bulk_ratio))",
    (.switch_forwarded, .switch_listen) as $s |
    "switch, \($s.rollouts) rollouts v1<->v2 under loadgen -c 20 -r 1 (\(if $s == .switch_forwarded then "-p" else "--listen" end)), medians:",
    "  ctr rollout end to end \(r($s.rollout_ms)) ms   failed rollouts \($s.failed_rollouts)   failed requests \($s.failed_requests)",
    "  gap first new - last old response \(r($s.gap_ms)) ms (range \(r($s.gap_ms_range[0])) .. \(r($s.gap_ms_range[1])))",
    "  last old response - ctr return \(r($s.old_last_after_return_ms)) ms (max \(r($s.old_last_after_return_ms_max)))   ctr return - first new response \(r($s.return_after_first_new_ms)) ms",
    "  new connections served by the old version after ctr returned: \($s.old_new_connections_after_return) (target 0)   max latency \(r($s.max_latency_ms)) ms"
' "$out/handoff.json" | tee "$out/handoff.txt"
