#!/usr/bin/env bash
# `make demo`: run a busybox container with berth and show that it is isolated. The cgroup part
# needs cgroup v2 controllers; on a hybrid host it runs inside the test VM and says so.
#
#   scripts/demo.sh          the whole demo
#   scripts/demo.sh --cgroup only the cgroup part (what the VM runs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
berth=$PWD/.build/release/berth
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
root=$work/state
ctr=$PWD/.build/release/ctr
trap '"$berth" --root "$root" delete --force demo >/dev/null 2>&1 || true
      "$ctr" --root "$root/ctr" rm -f web >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cgroup_part() {
    say "cgroup v2: a container in a cgroup of its own, with limits the kernel enforces"
    scripts/make-bundle.sh "$berth" "$work/cg" -- sh -c 'echo "inside, /proc/self/cgroup says: $(cat /proc/self/cgroup)"; sleep 30'
    jq '.linux.resources = {"memory": {"limit": 33554432}, "cpu": {"quota": 50000, "period": 100000}, "pids": {"limit": 64}}' \
        "$work/cg/config.json" >"$work/cg/limits.json" && mv "$work/cg/limits.json" "$work/cg/config.json"
    "$berth" --root "$root" create --bundle "$work/cg" demo
    "$berth" --root "$root" start demo
    mount=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
    group=$mount/berth/demo
    echo "host side: $group holds pid(s) $(tr '\n' ' ' <"$group/cgroup.procs")"
    echo "  memory.max $(cat "$group/memory.max")   cpu.max $(cat "$group/cpu.max")   pids.max $(cat "$group/pids.max")"
    echo "berth ps: $("$berth" --root "$root" ps --format json demo)"
    echo "berth events --stats (memory part): $("$berth" --root "$root" events --stats demo | jq -c '.data.memory | {current, max}')"
    "$berth" --root "$root" pause demo
    echo "after pause: $("$berth" --root "$root" state demo | jq -r .status), cgroup.freeze $(cat "$group/cgroup.freeze")"
    "$berth" --root "$root" resume demo
    "$berth" --root "$root" update --memory 64m demo
    echo "after update --memory 64m: memory.max $(cat "$group/memory.max")"
    "$berth" --root "$root" delete --force demo
    [[ ! -e $group ]] && echo "after delete: no cgroup, no state directory left"

    say "the kernel enforces them: 64M touched under a 16M limit"
    scripts/make-bundle.sh "$berth" "$work/oom" -- dd if=/dev/zero of=/dev/null bs=64M count=1
    jq '.linux.resources = {"memory": {"limit": 16777216}}' "$work/oom/config.json" >"$work/oom/c.json" && mv "$work/oom/c.json" "$work/oom/config.json"
    rc=0
    "$berth" --root "$root" run --bundle "$work/oom" oom || rc=$?
    echo "berth run exited with $rc: 128 + 9, the OOM killer's SIGKILL"
}

if [[ ${1:-} == --cgroup ]]; then cgroup_part; exit; fi

say "host: hostname $(hostname), $(ps -e --no-headers | wc -l) processes, $(wc -l </proc/mounts) mounts"
scripts/make-bundle.sh "$berth" "$work/bundle" -- sh -c '
    echo "hostname:  $(hostname)"
    echo "my pid:    $$"
    echo "processes: $(ps -o pid,comm | tail -n +2 | tr -s " \n" " ")"
    echo "mounts:"; sed "s/^/  /" /proc/mounts
    echo "uid:       $(id)"
    grep -E "^Cap(Eff|Bnd)" /proc/self/status | sed "s/^/  /"
    touch /proof 2>/dev/null && echo "root is writable" || echo "root is read-only: touch /proof failed"
    exit 7'
say "berth run: the same machine, seen from inside a container"
rc=0
"$berth" --root "$root" run --bundle "$work/bundle" demo || rc=$?
echo "berth run exited with $rc, the container's exit status"
ls "$root" 2>/dev/null | grep -q . && { echo "state left behind" >&2; exit 1; }

rollout_part() {
    local port=18080 webapp=rootfs-examples/webapp
    say "ctr: a web service on port $port, handed over from v1 to v2 without dropping a connection"
    "$ctr" --root "$root/ctr" run -d --name web -p $port:80 $webapp/v1/rootfs -- webapp -p 80 >/dev/null
    for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/ >/dev/null && break; sleep 0.1; done
    echo "curl: $(curl -s http://127.0.0.1:$port/)"
    # A long session opened before the rollout: it stays with v1 until it ends.
    curl -sN --max-time 4 http://127.0.0.1:$port/hold >"$work/hold" &
    $webapp/bin/loadgen -c 20 -d 4s 127.0.0.1:$port >"$work/load.json" &
    sleep 1
    "$ctr" --root "$root/ctr" rollout web --rootfs $webapp/v2/rootfs
    echo "curl: $(curl -s http://127.0.0.1:$port/)"
    "$ctr" --root "$root/ctr" ps
    wait
    echo "the session opened before the rollout was served by: $(awk '{print $1}' "$work/hold" | sort -u | tr '\n' ' ')"
    echo "under load: $(jq -c '{requests, failed, connect_errors, versions: (.versions | map_values(.count))}' "$work/load.json")"
    for _ in $(seq 50); do "$ctr" --root "$root/ctr" ps | grep -q draining || break; sleep 0.1; done
    "$ctr" --root "$root/ctr" rollout web --status
    "$ctr" --root "$root/ctr" rm -f web >/dev/null
}
rollout_part

if [[ $(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null) == *memory* ]]; then
    cgroup_part
else
    say "this host binds memory, cpu, io and pids to cgroup v1: the cgroup part runs in the cgroup v2 VM"
    scripts/vm-run.sh -t 300 -- scripts/demo.sh --cgroup
fi
