#!/usr/bin/env bash
# Run a command as root in a throwaway VM whose kernel runs cgroup v2 only.
#
#   scripts/vm-run.sh [-t SECONDS] [-m MB] [--disk SIZE] [--smp N] [--kmsg FILE] [--results FILE] -- COMMAND...
#
#   -t SECONDS      limit for the whole run, boot included (default 600)
#   -m MB           guest memory (default 1024)
#   --disk SIZE     attach an empty raw disk of SIZE (e.g. 64M) as /dev/vda
#   --smp N         guest CPUs (default 2; TCG runs them on parallel host threads)
#   --kmsg FILE     keep the guest's kernel log (its own serial port, loglevel 7) in FILE
#   --results FILE  a write-only channel to the host: the guest writes to the character device
#                   named by $BERTH_VM_RESULTS (a virtio serial port) and the bytes land in FILE
#                   as they are written, so they survive a hang or a timeout
#   BERTH_VM_CPU    qemu -cpu model (default max; faster than qemu64 under TCG)
#
# On a timeout the host asks the guest kernel for stack traces through the keyboard's SysRq
# (l: every CPU's backtrace, w: blocked tasks, t: every task) before stopping it; the kernel
# log's tail goes to stderr with the console's (docs/testing.md, "Reading a timeout report").
#
# In the guest: the host's / read-only over 9p at the same paths; tmpfs on /tmp,
# /run, /root and /dev/shm; cgroup2 on /sys/fs/cgroup with every controller
# (none enabled in the root's subtree_control); devpts; lo up; no network.
# COMMAND runs with /bin/sh in the host's current directory, stdin /dev/null,
# env PATH, HOME=/root, BERTH_IN_VM=1. Its output (stdout and stderr merged,
# as the serial console shows them) streams to stdout.
#
# Exit status: the command's; 124 the VM timed out; 125 the VM stopped without
# reporting a status (panic, oops, boot failure), with the console tail on
# stderr; 2 bad usage or a missing package. Needs root: qemu must read
# /boot/vmlinuz-* and serve the whole host tree.
set -euo pipefail

prog=vm-run
timeout_s=600
mem_mb=1024
disk_size=
smp=2
kmsg_file=
results_file=
cpu=${BERTH_VM_CPU:-max}

usage() {
    echo "usage: scripts/vm-run.sh [-t SECONDS] [-m MB] [--disk SIZE] [--smp N] [--kmsg FILE] [--results FILE] -- COMMAND..." >&2
    exit 2
}
die() { echo "$prog: $*" >&2; exit 2; }

while (($#)); do
    case $1 in
        -t) (($# >= 2)) || usage; timeout_s=$2; shift 2 ;;
        -m) (($# >= 2)) || usage; mem_mb=$2; shift 2 ;;
        --disk) (($# >= 2)) || usage; disk_size=$2; shift 2 ;;
        --smp) (($# >= 2)) || usage; smp=$2; shift 2 ;;
        --kmsg) (($# >= 2)) || usage; kmsg_file=$2; shift 2 ;;
        --results) (($# >= 2)) || usage; results_file=$2; shift 2 ;;
        --) shift; break ;;
        -h|--help) usage ;;
        *) echo "$prog: unknown option $1" >&2; usage ;;
    esac
done
(($#)) || usage
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "-t wants whole seconds, got '$timeout_s'"
if [[ ! $mem_mb =~ ^[1-9][0-9]*$ ]] || ((mem_mb < 256)); then die "-m wants at least 256 (MB), got '$mem_mb'"; fi
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "--smp wants a cpu count, got '$smp'"
[[ -z $disk_size || $disk_size =~ ^[1-9][0-9]*[KMG]?$ ]] || die "--disk wants a size like 64M, got '$disk_size'"
for f in "$kmsg_file" "$results_file"; do
    [[ -z $f ]] || : >"$f" || die "cannot write $f"
done

# --- preflight --------------------------------------------------------------
qemu=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not found: apt-get install -y qemu-system-x86"
busybox=/bin/busybox
# Only the static build works in the initramfs, which has no libc.
if [[ ! -x $busybox ]] || LC_ALL=C ldd "$busybox" >/dev/null 2>&1; then
    die "no static busybox at $busybox: apt-get install -y busybox-static"
fi
kernel=$(compgen -G '/boot/vmlinuz-*-amd64' | sort -V | tail -n 1) ||
    die "no kernel at /boot/vmlinuz-*-amd64: apt-get install -y linux-image-amd64"
[[ -r $kernel ]] || die "cannot read $kernel (run as root)"
kver=${kernel#/boot/vmlinuz-}
moddir=/lib/modules/$kver
[[ -r $moddir/modules.dep ]] || die "no $moddir/modules.dep: apt-get install --reinstall linux-image-$kver"
command -v cpio >/dev/null || die "cpio not found: apt-get install -y cpio"
# The guest runs the command with the host's /bin/sh, because busybox sh would
# run its own applets in place of the host's binaries of the same name.
[[ -x /bin/sh ]] || die "no /bin/sh on the host"

# --- scratch space, torn down on every exit path ----------------------------
tmp=$(mktemp -d /tmp/berth-vm.XXXXXX)
kmsg=${kmsg_file:-$tmp/kmsg}
[[ $kmsg == /* ]] || kmsg=$PWD/$kmsg
[[ -z $results_file || $results_file == /* ]] || results_file=$PWD/$results_file
[[ $kmsg != *,* && $results_file != *,* ]] || die "--kmsg and --results want paths without commas (qemu's syntax)"
qpid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP PIPE
    if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
        kill -TERM "$qpid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
    fi
    exec 3<&- 4<&- 5<&- 2>/dev/null || true
    rm -rf "$tmp"
    # Die of the same signal, so that a calling shell loop stops on Ctrl-C too.
    if [[ -n $caught ]]; then kill -s "$caught" $$; fi
    exit "$rc"
}
caught=''
trap cleanup EXIT
trap 'caught=INT; exit 130' INT
trap 'caught=TERM; exit 143' TERM
trap 'caught=HUP; exit 129' HUP
trap 'exit 141' PIPE  # e.g. piped into head: still tear down

# --- initramfs --------------------------------------------------------------
ird=$tmp/initramfs
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,modules,berth}
cp "$busybox" "$ird/bin/busybox"

# Load order as modprobe would do it: each module's dependencies (listed in
# modules.dep nearest-first, so reversed) and then the module itself.
wanted=(virtio_pci 9pnet_virtio 9p virtio_console)
[[ -n $disk_size ]] && wanted+=(virtio_blk)
declare -A queued=()
order=()
queue_module() { # $1: path relative to $moddir
    [[ -n ${queued[$1]-} ]] && return
    queued[$1]=1
    order+=("$1")
}
for name in "${wanted[@]}"; do
    line=$(grep -E "(^|/)${name}\.ko(\.(xz|zst|gz))?:" "$moddir/modules.dep" || true)
    if [[ -z $line ]]; then
        # Built into the kernel: nothing to load.
        grep -qE "(^|/)${name}\.ko$" "$moddir/modules.builtin" 2>/dev/null && continue
        die "module $name not in $moddir/modules.dep"
    fi
    read -r -a deps <<<"${line#*:}"
    for ((i = ${#deps[@]} - 1; i >= 0; i--)); do queue_module "${deps[i]}"; done
    queue_module "${line%%:*}"
done
: >"$ird/berth/modules"
for rel in "${order[@]}"; do
    base=${rel##*/}
    base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
    # busybox insmod cannot decompress, so store the modules plain.
    case $rel in
        *.xz) xz -dc "$moddir/$rel" >"$ird/modules/$base" ;;
        *.zst) zstd -qdc "$moddir/$rel" >"$ird/modules/$base" ;;
        *.gz) gzip -dc "$moddir/$rel" >"$ird/modules/$base" ;;
        *) cp "$moddir/$rel" "$ird/modules/$base" ;;
    esac
    echo "$base" >>"$ird/berth/modules"
done

# A nonce in the markers so nothing the command prints can fake an exit status.
nonce=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
begin_marker="===BERTH-VM-BEGIN $nonce==="
end_prefix="===BERTH-VM-END $nonce rc="

# The command goes in as a shell script, never through the kernel command line,
# so arguments with spaces, quotes or newlines arrive intact.
quote() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
{
    # The guest's /tmp is a tmpfs of its own; a working directory under the host's /tmp (a clone
    # made there, say) is bound back from the host's tree, which stage 2 keeps reachable.
    if [[ $PWD == /tmp/* ]]; then
        echo "/run/berth-vm/busybox mkdir -p -- $(quote "$PWD") && /run/berth-vm/busybox mount -o bind,ro -- $(quote "/run/berth-vm/host-tmp/${PWD#/tmp/}") $(quote "$PWD")"
    fi
    echo "cd -- $(quote "$PWD") 2>/dev/null || { echo \"$prog: $(quote "$PWD") is not visible in the guest\" >&2; exit 125; }"
    printf 'exec'
    for arg in "$@"; do printf ' %s' "$(quote "$arg")"; done
    printf '\n'
} >"$ird/berth/cmd.sh"
printf '%s\n' "$begin_marker" >"$ird/berth/begin"
printf '%s\n' "$end_prefix" >"$ird/berth/end"

cat >"$ird/init" <<'EOF'
#!/bin/busybox sh
# PID 1 in the initramfs: mount the host's / over 9p and switch to it.
bb=/bin/busybox
$bb mount -t devtmpfs devtmpfs /dev
# The first serial port carries the command's output; the kernel's console is the second
# (console=ttyS1), so kernel messages never interleave with it.
exec </dev/ttyS0 >/dev/ttyS0 2>&1
fail() { echo "vm-init: $*"; $bb echo o >/proc/sysrq-trigger; $bb sleep 10; }
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
for m in $($bb cat /berth/modules); do
    $bb insmod "/modules/$m" || fail "insmod $m failed"
done
# cache=loose: the share is read-only and lives for one command, so caching is safe.
$bb mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 host /newroot ||
    fail "cannot mount the host's / over 9p"
# The share is read-only: everything generated lives on a tmpfs at /run.
$bb mount -t tmpfs -o mode=755,nosuid,nodev run /newroot/run || fail "cannot mount tmpfs on /run"
$bb mkdir -p /newroot/run/berth-vm
$bb cp /berth/* /bin/busybox /newroot/run/berth-vm/ || fail "cannot copy stage2 to /run"
$bb mount --move /proc /newroot/proc
$bb mount --move /sys /newroot/sys
$bb mount --move /dev /newroot/dev
exec $bb switch_root /newroot /run/berth-vm/busybox sh /run/berth-vm/stage2.sh
EOF
chmod 755 "$ird/init"

cat >"$ird/berth/stage2.sh" <<'EOF'
# Stage 2, PID 1 on the host's tree: finish the mounts, run the command, report.
bb=/run/berth-vm/busybox
d=/run/berth-vm
fail() { echo "vm-stage2: $*"; $bb echo o >/proc/sysrq-trigger; $bb sleep 10; }
# The host's /tmp stays reachable under /run for a working directory that lives there.
$bb mkdir -p $d/host-tmp && $bb mount -o bind /tmp $d/host-tmp || fail "cannot keep the host's /tmp"
$bb mount -t tmpfs -o mode=1777,nosuid,nodev tmp /tmp || fail "cannot mount /tmp"
$bb mount -t tmpfs -o mode=700 root /root || fail "cannot mount /root"
# Mount options as systemd uses them.
$bb mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2"
$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts -o ptmxmode=0666,mode=620,gid=5 devpts /dev/pts || fail "cannot mount devpts"
$bb mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm || fail "cannot mount /dev/shm"
[ -e /dev/ptmx ] || $bb ln -s pts/ptmx /dev/ptmx
# The first memory cgroup to come online turns on a static key (memcg_kmem_enabled_key) that
# the kernel patches into its text with int3 breakpoints. Done while the tests run, qemu 7.2's
# multi-threaded TCG once kept a stale translation of a breakpoint in kmem_cache_alloc_bulk
# (EngineVMTests: both vCPUs looping on it, RCU stall, a wedged guest), so it is done here,
# with nothing else running. The key stays on; the cgroup and the controller go again.
{ echo +memory >/sys/fs/cgroup/cgroup.subtree_control && $bb mkdir /sys/fs/cgroup/berth-vm-warm &&
  $bb rmdir /sys/fs/cgroup/berth-vm-warm && echo -memory >/sys/fs/cgroup/cgroup.subtree_control; } ||
    fail "cannot bring a memory cgroup online once"
# The root's cgroup.subtree_control stays empty, as the kernel boots it: enabling
# controllers down the tree is the runtime's job and the tests must see it done.
$bb ip link set lo up || fail "cannot bring up lo"
# The results port (--results): virtio_console names it in sysfs; there is no udev.
results=
for p in /sys/class/virtio-ports/*; do
    [ "$($bb cat "$p/name" 2>/dev/null)" = berth-results ] && results=/dev/${p##*/}
done
[ -n "$($bb cat "$d/results")" ] && { [ -c "$results" ] || fail "no results port"; }
[ -n "$($bb cat "$d/disk")" ] && {
    # virtio_blk probes synchronously, but give devtmpfs a moment anyway.
    n=0; while [ ! -b /dev/vda ] && [ $n -lt 50 ]; do $bb sleep 0.1; n=$((n + 1)); done
    [ -b /dev/vda ] || fail "no /dev/vda"
}
$bb cat "$d/begin"
$bb env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root USER=root LOGNAME=root TERM=dumb LANG=C.UTF-8 BERTH_IN_VM=1 BERTH_VM_RESULTS=$results \
    /bin/sh "$d/cmd.sh" </dev/null
rc=$?
echo "$($bb cat "$d/end")$rc==="
# The host kills qemu once it has read the end marker; powering off right away
# could lose the marker still sitting in the serial transmit buffer.
$bb sleep 5
$bb echo o >/proc/sysrq-trigger
$bb sleep 10
EOF
printf '%s\n' "$disk_size" >"$ird/berth/disk"
printf '%s\n' "$results_file" >"$ird/berth/results"

# Uncompressed, because gunzip under TCG costs more than the bigger image does.
(cd "$ird" && find . -print0 | cpio --null -o -H newc --quiet) >"$tmp/initrd.cpio" ||
    die "cannot build the initramfs in $tmp"

# Decompressing the bzImage under TCG takes ~2.3 s; on the host it takes ~0.5 s.
# qemu boots the plain ELF vmlinux through its PVH entry point, when the kernel
# has one. Anything unexpected falls back to the bzImage.
extract_vmlinux() {
    grep -qx 'CONFIG_PVH=y' "/boot/config-$kver" 2>/dev/null && command -v xz >/dev/null || return 1
    local off
    off=$(LC_ALL=C grep -abo -m1 $'\xfd7zXZ' "$kernel" | head -n 1 | cut -d: -f1) && [[ -n $off ]] || return 1
    # xz stops at the end of its stream, so tail dies of SIGPIPE: judge xz alone.
    tail -c +$((off + 1)) "$kernel" | xz -dc --single-stream >"$tmp/vmlinux" 2>/dev/null
    ((PIPESTATUS[1] == 0)) || return 1
    [[ $(head -c 4 "$tmp/vmlinux" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]
}
boot_image=$kernel
if extract_vmlinux; then boot_image=$tmp/vmlinux; else rm -f "$tmp/vmlinux"; fi

# --- boot -------------------------------------------------------------------
qemu_args=(
    -accel tcg                   # KVM is broken on this kind of host: MSR assertion or hang
    -machine pc -cpu "$cpu" -smp "$smp" -m "$mem_mb"
    -nodefaults -no-user-config -display none
    -no-reboot                   # guest reboot (panic=-1, init died) ends qemu
    -nic none
    -kernel "$boot_image" -initrd "$tmp/initrd.cpio"
    # cgroup_no_v1=all: every controller on the v2 hierarchy. The kernel's console is the second
    # serial port (the kernel log, loglevel 7: soft lockups, hung tasks, OOM kills); the first
    # carries the command's output. sysrq_always_enabled: SysRq from the keyboard on a timeout.
    # A CPU stuck in the kernel for 120 s (watchdog_thresh=60: a soft lockup is twice that; the
    # default 20 s could be a host too loaded to run the vCPU) is a wedged guest: it panics after
    # printing every CPU's backtrace, and the run ends at once with 125 instead of waiting out -t.
    -append "console=ttyS1 loglevel=7 sysrq_always_enabled cgroup_no_v1=all panic=-1 oops=panic watchdog_thresh=60 softlockup_panic=1 softlockup_all_cpu_backtrace=1"
    -serial "file:$tmp/console"
    -serial "file:$kmsg"
    # HMP over two FIFOs ($tmp/monitor.in, .out): sendkey alt-sysrq-KEY on a timeout
    -chardev "pipe,id=monitor,path=$tmp/monitor" -mon "chardev=monitor,mode=readline"
    # multidevs=remap: host / spans many filesystems whose inode numbers would collide
    -virtfs "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap"
)
if [[ -n $results_file ]]; then
    qemu_args+=(-device virtio-serial-pci
                -chardev "file,id=results,path=$results_file"
                -device "virtserialport,chardev=results,name=berth-results")
fi
if [[ -n $disk_size ]]; then
    truncate -s "$disk_size" "$tmp/disk.img"
    qemu_args+=(-drive "file=$tmp/disk.img,format=raw,if=virtio,cache=unsafe")
fi

# The console is a FIFO so output streams live. Opened read-write: the open does
# not block on qemu, and reads never see EOF, so qemu's death is polled instead.
mkfifo "$tmp/console" "$tmp/monitor.in" "$tmp/monitor.out"
exec 3<>"$tmp/console"
# The monitor's FIFOs, held open read-write so that no open blocks and qemu's writes never fail
# for want of a reader; its output (a greeting and the echo of a few commands) is never read and
# fits in the pipe's buffer.
exec 4<>"$tmp/monitor.out" 5<>"$tmp/monitor.in"
# Backstop for the trap: if this script dies even of SIGKILL, the kernel kills qemu.
pdeath=()
command -v setpriv >/dev/null && pdeath=(setpriv --pdeathsig KILL --)
"${pdeath[@]}" "$qemu" "${qemu_args[@]}" </dev/null >"$tmp/qemu.out" 2>&1 3<&- 4<&- 5<&- &
qpid=$!

deadline=$((SECONDS + timeout_s))
tail_lines=()
remember() { # keep the last 40 console lines for the post-mortem
    tail_lines+=("$1")
    ((${#tail_lines[@]} <= 40)) || tail_lines=("${tail_lines[@]:1}")
}
kmsg_size() { stat -c %s "$kmsg" 2>/dev/null || echo 0; }
# Waits until the kernel log has not grown for 2 s (at most $1 s): a SysRq dump is printed
# through the emulated UART.
kmsg_settle() {
    local last=-1 now quiet=0 until=$((SECONDS + $1))
    while ((SECONDS < until && quiet < 4)); do
        now=$(kmsg_size)
        if ((now == last)); then quiet=$((quiet + 1)); else quiet=0; last=$now; fi
        sleep 0.5
    done
}
# SysRq through the emulated keyboard: the key is handled in the keyboard interrupt, so it works
# while every vCPU is stuck in the kernel (a soft lockup leaves interrupts on). l: the backtrace
# of every CPU (by NMI); w: the tasks in uninterruptible sleep; t: every task (long: it stays in
# the kernel log only). Sets dump_from and dump_to: the byte range of l and w in the kernel log.
dump_from=0 dump_to=0
dump_stacks() {
    kill -0 "$qpid" 2>/dev/null || return 0
    dump_from=$(kmsg_size)
    local key
    for key in l w; do
        printf 'sendkey alt-sysrq-%s\n' "$key" >&5
        kmsg_settle 20
    done
    dump_to=$(kmsg_size)
    printf 'sendkey alt-sysrq-t\n' >&5
    kmsg_settle 30
}
post_mortem() {
    echo "$prog: $1; last console lines:" >&2
    ((${#tail_lines[@]})) && printf '    %s\n' "${tail_lines[@]}" >&2
    [[ -n $partial ]] && printf '    %s\n' "$partial" >&2
    if [[ -s $tmp/qemu.out ]]; then
        echo "$prog: qemu said:" >&2
        sed 's/^/    /' "$tmp/qemu.out" >&2
    fi
    # The kernel's own reports (soft lockup, hung task, oops, panic) come before the dump; the
    # boot's messages, up to the start of init, are left out unless the boot itself failed.
    local kept=${kmsg_file:-} lines
    if [[ -s $kmsg ]]; then
        lines=$(head -c "$((dump_from > 0 ? dump_from : $(kmsg_size)))" "$kmsg" | tr -d '\r')
        [[ $state == boot ]] || lines=$(sed '1,/Run \/init as init process/d' <<<"$lines")
        echo "$prog: last kernel log lines before the end${kept:+ (all of it in $kept)}:" >&2
        if [[ -n $lines ]]; then tail -n 150 <<<"$lines" | sed 's/^/    /' >&2; else echo "    (none since the boot)" >&2; fi
    fi
    if ((dump_to > dump_from)); then
        echo "$prog: SysRq l (every CPU's backtrace) and w (blocked tasks); t (every task) follows in the kernel log:" >&2
        # head first: it reads the file only up to dump_to, so no stage dies of SIGPIPE (pipefail).
        head -c "$dump_to" "$kmsg" | tail -c "+$((dump_from + 1))" | tr -d '\r' | sed 's/^/    /' >&2
    fi
}

state=boot partial='' qemu_gone=''
while :; do
    left=$((deadline - SECONDS))
    if ((left <= 0)); then
        dump_stacks || true
        post_mortem "timed out after ${timeout_s}s (-t)" || true
        exit 124
    fi
    slice=$((left < 1 ? left : 1))
    if IFS= read -r -t "$slice" -u 3 chunk; then
        line=$partial$chunk
        partial=
    else
        # Timed out on this slice: keep any partial line for the next read.
        partial+=$chunk
        if [[ -n $qemu_gone ]]; then
            post_mortem "the VM stopped without reporting an exit status" || true
            exit 125
        fi
        # Read one more slice after qemu is gone to drain what it wrote last.
        kill -0 "$qpid" 2>/dev/null || qemu_gone=1
        continue
    fi
    line=${line%$'\r'}  # the guest tty turns \n into \r\n
    remember "$line"
    case $state in
        boot)
            [[ $line == *"$begin_marker"* ]] && state=run
            ;;
        run)
            if [[ $line == *"$end_prefix"* ]]; then
                before=${line%%"$end_prefix"*}
                # Output that did not end in a newline shares the marker's line.
                [[ -n $before ]] && printf '%s\n' "$before"
                rest=${line#*"$end_prefix"}
                rc=${rest%%===*}
                if [[ ! $rc =~ ^[0-9]+$ ]]; then
                    post_mortem "garbled end marker" || true
                    exit 125
                fi
                exit "$rc"
            fi
            printf '%s\n' "$line"
            ;;
    esac
done
