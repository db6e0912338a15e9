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
trap '"$berth" --root "$root" delete --force demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cgroup_part() {
    say "cgroup v2: the container lives in a cgroup of its own"
    scripts/make-bundle.sh "$berth" "$work/cg" -- sh -c 'echo "inside, /proc/self/cgroup says: $(cat /proc/self/cgroup)"; sleep 30'
    "$berth" --root "$root" create --bundle "$work/cg" demo
    "$berth" --root "$root" start demo
    mount=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
    echo "host side: $mount/berth/demo holds pid(s) $(tr '\n' ' ' <"$mount/berth/demo/cgroup.procs")"
    echo "controllers this host offers it: $(cat "$mount/cgroup.controllers")"
    echo "state: $("$berth" --root "$root" state demo | tr -d '\n ' )"
    "$berth" --root "$root" kill --all demo KILL
    "$berth" --root "$root" delete --force demo
    [[ ! -e $mount/berth/demo ]] && echo "after delete: no cgroup, no state directory left"
    echo "(resource limits on these controllers come with the cgroup issue)"
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

if [[ $(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null) == *memory* ]]; then
    cgroup_part
else
    say "this host binds memory, cpu, io and pids to cgroup v1: the cgroup part runs in the cgroup v2 VM"
    scripts/vm-run.sh -t 300 -- scripts/demo.sh --cgroup
fi
