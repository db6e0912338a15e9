#!/usr/bin/env bash
# Host tests for the rollout example (rootfs-examples/webapp): webapp and loadgen over loopback,
# without containers. Builds them first (rootfs-examples/webapp/build.sh, a no-op when current).
#
#   scripts/test-webapp.sh [NAME...]     (default: every test; names as printed)
#
# scripts/test-host.sh runs it after `swift test`. Each result is printed in Swift Testing's
# format ("✔ Test NAME passed after S seconds.") so scripts/count-tests.awk counts it with the
# Swift tests. Needs curl, perl, jq and root (one test runs webapp chrooted into v2/rootfs).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rootfs-examples/webapp/build.sh >/dev/null || { echo "test-webapp: build failed" >&2; exit 1; }
export BIN=$PWD/rootfs-examples/webapp/bin ROOTFS=$PWD/rootfs-examples/webapp
work=$(mktemp -d /tmp/berth-test-webapp.XXXXXX)
trap 'rm -rf "$work"' EXIT

# ---- helpers; each test runs in a bash of its own that kills what it started on exit --------

fail() { echo "    $*" >&2; exit 1; }
expect() { # expect DESCRIPTION ACTUAL EXPECTED
    [[ $2 == "$3" ]] || fail "$1: got '$2', expected '$3'"
}
free_port() { perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport'; }
# start_webapp ARGS...: runs webapp in the background (log in $W/log), waits for its port;
# sets PORT (the -p port, picked here) and PID.
start_webapp() {
    PORT=$(free_port)
    "$BIN/webapp" -p "$PORT" "$@" >>"$W/log" 2>&1 &
    PID=$!
    wait_port "$PORT"
}
wait_port() {
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/health" && return 0
        sleep 0.05
    done
    fail "nothing answers on port $1"
}
# wait_exit PID SECONDS: waits up to SECONDS for a child to exit; sets STATUS to its exit
# status, or to "running". Bash may have reaped it already; kill -0 would see a zombie as alive.
wait_exit() {
    STATUS=running
    for _ in $(seq $(($2 * 20 + 1))); do
        if [[ ! -e /proc/$1 || $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) == Z ]]; then
            wait "$1"
            STATUS=$?
            return
        fi
        sleep 0.05
    done
}
# 60 s: the 100 MB body took over 10 s while make test's host suites loaded both CPUs.
get() { curl -s --max-time 60 "http://127.0.0.1:$PORT$1"; }
# raw REQUEST-BYTES: sends them on a fresh connection, prints the status line, then reads to EOF
# (fails if the server keeps the connection open).
raw() {
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    printf '%b' "$1" >&3
    timeout 5 head -n 1 <&3 | tr -d '\r'
    timeout 5 cat <&3 >/dev/null || fail "connection left open after: ${1:0:40}"
    exec 3<&-
}
# The /bytes pattern, made independently of webapp: 16-byte lines holding their own offset.
pattern() { awk -v n="$1" 'BEGIN { for (o = 0; o < n; o += 16) printf "%015x\n", o }' | head -c "$1"; }
export -f fail expect free_port start_webapp wait_port wait_exit get raw pattern

# ---- the tests -------------------------------------------------------------------------------

versionsComeFromTheFlagOrSrvVersion() {
    start_webapp -v v1
    expect "GET /" "$(get /)" v1
    expect "X-Version header" "$(curl -sI "http://127.0.0.1:$PORT/health" | tr -d '\r' | grep -i '^x-version')" "X-Version: v1"
    expect "GET /health" "$(get /health)" ok
    expect "unknown path" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")" 404
    expect "POST /" "$(curl -s -o /dev/null -w '%{http_code}' -d x "http://127.0.0.1:$PORT/")" 405
    # The v2 root filesystem runs as it is (static binary) and reads its /srv/version.
    local port2
    port2=$(free_port)
    chroot "$ROOTFS/v2/rootfs" /usr/bin/webapp -q -p "$port2" &
    local chrooted=$!
    wait_port "$port2"
    expect "chrooted v2" "$(curl -s "http://127.0.0.1:$port2/")" v2
    kill "$chrooted"
    wait "$chrooted"
    if [[ ! -e /srv/version ]]; then
        "$BIN/webapp" -p "$port2" 2>"$W/err"
        expect "exit status without a version" $? 2
        grep -q "no version" "$W/err" || fail "no message about the missing version: $(cat "$W/err")"
    fi
}

badRequestsGetAnErrorAndAClose() {
    start_webapp -v v1
    expect "garbage" "$(raw 'NONSENSE\r\n\r\n')" "HTTP/1.1 400 Bad Request"
    expect "header without colon" "$(raw 'GET / HTTP/1.1\r\nbroken\r\n\r\n')" "HTTP/1.1 400 Bad Request"
    expect "bad length" "$(raw 'POST /echo HTTP/1.1\r\nContent-Length: -5\r\n\r\n')" "HTTP/1.1 400 Bad Request"
    expect "huge header" "$(raw "GET / HTTP/1.1\r\nX-Big: $(head -c 100000 /dev/zero | tr '\0' a)\r\n\r\n")" \
        "HTTP/1.1 431 Request Header Fields Too Large"
    expect "chunked body" "$(raw 'POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n')" "HTTP/1.1 501 Not Implemented"
    # A client that reads 100 KB of a 1 GB stream and vanishes.
    curl -s "http://127.0.0.1:$PORT/bytes?n=1000000000" | head -c 100000 >/dev/null
    expect "after a vanished client" "$(get /)" v1
    expect "HTTP/1.0 closes" "$(raw 'GET /health HTTP/1.0\r\n\r\n')" "HTTP/1.1 200 OK"
    kill -0 "$PID" || fail "webapp died"
}

slowAnswersLateWithoutBlockingOthers() {
    start_webapp -v v1
    local t0 t1 body
    t0=$(date +%s%N)
    body=$(get '/slow?ms=500')
    t1=$(date +%s%N)
    expect "slow body" "$body" "v1 slow 500"
    (((t1 - t0) >= 500000000 && (t1 - t0) < 2000000000)) || fail "/slow?ms=500 took $(((t1 - t0) / 1000000)) ms"
    get '/slow?ms=1500' >"$W/slow" &
    local slow=$!
    sleep 0.1
    t0=$(date +%s%N)
    expect "GET / while a slow request waits" "$(get /)" v1
    t1=$(date +%s%N)
    (((t1 - t0) < 500000000)) || fail "GET / waited $(((t1 - t0) / 1000000)) ms behind /slow"
    wait "$slow"
    expect "the slow one" "$(cat "$W/slow")" "v1 slow 1500"
    # Keep-alive: two requests on one connection are one "open" in the log.
    local opens
    opens=$(grep -c ' open ' "$W/log")
    expect "two on one connection" "$(curl -s "http://127.0.0.1:$PORT/" "http://127.0.0.1:$PORT/health" | tr '\n' ' ')" "v1 ok "
    expect "connections opened" "$(grep -c ' open ' "$W/log")" $((opens + 1))
}

bytesStreamsAHundredMegabytesIntact() {
    start_webapp -v v1 -q
    local n
    for n in 100000000 1000003; do
        # A fetch's bound of 60 s was not enough for 100 MB beside make test's host suites.
        expect "sha256 of $n bytes" "$(curl -s --max-time 200 "http://127.0.0.1:$PORT/bytes?n=$n" | sha256sum)" "$(pattern $n | sha256sum)"
    done
    expect "zero bytes" "$(get '/bytes?n=0' | wc -c)" 0
}

echoReturnsThePostedBody() {
    start_webapp -v v1
    head -c 3000000 /dev/urandom >"$W/body"
    curl -s --max-time 10 --data-binary @"$W/body" -H 'Expect:' "http://127.0.0.1:$PORT/echo" >"$W/echoed"
    cmp -s "$W/body" "$W/echoed" || fail "POST /echo returned $(wc -c <"$W/echoed") bytes, not the 3 MB sent"
}

# perl: connect to the echo port, send SIZE bytes from a child, shut down the write side, read
# everything back; prints "<bytes received> <bytes sent> <sha equal?>" or the read error. The
# reader is slow, so the echo is still backed up in webapp when the end-of-file arrives.
echo_client() {
    perl -MSocket -MIO::Handle -MDigest::SHA=sha256_hex -e '
        my ($port, $size) = @ARGV;
        socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
        # A small receive buffer (no autotuning), so that the kernel cannot hold all of it.
        setsockopt($s, SOL_SOCKET, SO_RCVBUF, 65536) or die "SO_RCVBUF: $!";
        connect($s, pack_sockaddr_in($port, inet_aton("127.0.0.1"))) or die "connect: $!";
        my $data = join "", map { chr(($_ * 7) % 251) } 0 .. 65535;
        $data = substr($data x (int($size / 65536) + 1), 0, $size);
        if (!fork) { print $s $data; $s->flush; shutdown($s, 1); exit 0 }
        my ($got, $buf) = ("", "");
        while (1) {
            select undef, undef, undef, 0.001;
            my $n = sysread($s, $buf, 65536);
            if (!defined $n) { print "error: $!\n"; exit 0 }
            last if $n == 0;
            $got .= $buf;
        }
        wait;
        printf "%d %d %s\n", length $got, $size, sha256_hex($got) eq sha256_hex($data) ? "same" : "different";
    ' "$@"
}
export -f echo_client

echoPortAnswersAHalfCloseInKind() {
    PORT=$(free_port)
    "$BIN/webapp" -v v1 -e "$PORT" >>"$W/log" 2>&1 &
    sleep 0.2
    expect "16 MB echoed, then EOF" "$(timeout 20 bash -c "echo_client $PORT 16000000")" "16000000 16000000 same"
    grep -q "close eof" "$W/log" || fail "webapp did not log the half-close"
}

resetModeResetsAfterTheFirstRead() {
    PORT=$(free_port)
    "$BIN/webapp" -v v1 -e "$PORT" -r >>"$W/log" 2>&1 &
    sleep 0.2
    expect "read after a reset" "$(timeout 20 bash -c "echo_client $PORT 10")" "error: Connection reset by peer"
    grep -q "close reset" "$W/log" || fail "webapp did not log the reset"
}

sigtermDrainsAndWaitsForAHeldConnection() {
    start_webapp -v v1
    curl -sN "http://127.0.0.1:$PORT/hold" >"$W/hold" &
    local curl_pid=$!
    # An idle keep-alive connection, which the drain closes.
    exec 4<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&4
    timeout 5 head -n 7 <&4 >/dev/null
    sleep 1.2
    kill -TERM "$PID"
    sleep 0.3
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && fail "a new connection was accepted after SIGTERM"
    timeout 3 cat <&4 >/dev/null || fail "the idle connection was not closed"
    local lines
    lines=$(wc -l <"$W/hold")
    sleep 1.5
    wait_exit "$PID" 0
    expect "webapp while /hold is open" "$STATUS" running
    (($(wc -l <"$W/hold") > lines)) || fail "/hold stopped sending lines after SIGTERM"
    grep -q "^v1 1$" "$W/hold" || fail "unexpected /hold output: $(head -2 "$W/hold")"
    kill "$curl_pid"
    wait_exit "$PID" 3
    expect "exit status once /hold closed" "$STATUS" 0
}

aSecondSigtermExitsAtOnce() {
    start_webapp -v v1
    curl -sN "http://127.0.0.1:$PORT/hold" >/dev/null &
    sleep 0.3
    kill -TERM "$PID"
    sleep 0.2
    wait_exit "$PID" 0
    expect "after one SIGTERM" "$STATUS" running
    kill -TERM "$PID"
    wait_exit "$PID" 2
    expect "after the second" "$STATUS" 143
}

loadgenRunsCleanAgainstWebapp() {
    start_webapp -v v1 -q
    "$BIN/loadgen" -c 20 -d 2s "127.0.0.1:$PORT" >"$W/out"
    expect "loadgen exit status" $? 0
    local out
    out=$(cat "$W/out")
    echo "    $(jq -c '{requests, requests_per_sec, latency_us, connections}' <<<"$out")" >&2
    expect "failures" "$(jq '.failed + .connect_errors + .resets + .timeouts + .closed_early' <<<"$out")" 0
    (($(jq .ok <<<"$out") > 1000)) || fail "too few requests: $out"
    expect "v1 count is ok count" "$(jq '.versions.v1.count == .ok' <<<"$out")" true
    # -r 10: a new connection per 10 requests.
    expect "connections" "$(jq '.connections >= .requests / 10' <<<"$out")" true
}

loadgenReportsEveryKindOfFailure() {
    local reset_port out
    reset_port=$(free_port)
    start_webapp -v v1 -q -e "$reset_port" -r
    "$BIN/loadgen" -c 2 -d 1s -t 300ms -p '/slow?ms=2000' "127.0.0.1:$PORT" >"$W/out"
    expect "exit status with timeouts" $? 1
    (($(jq .timeouts "$W/out") > 0)) || fail "no timeouts: $(cat "$W/out")"
    "$BIN/loadgen" -c 2 -d 300ms -p /nope "127.0.0.1:$PORT" >"$W/out"
    expect "exit status with 404s" $? 1
    (($(jq .failed "$W/out") > 0)) || fail "no failures for 404: $(cat "$W/out")"
    "$BIN/loadgen" -c 2 -d 300ms "127.0.0.1:$(free_port)" >"$W/out"
    expect "exit status without a server" $? 1
    (($(jq .connect_errors "$W/out") > 0)) || fail "no connect errors: $(cat "$W/out")"
    "$BIN/loadgen" -c 2 -d 300ms "127.0.0.1:$reset_port" >"$W/out"
    expect "exit status against resets" $? 1
    (($(jq .resets "$W/out") > 0)) || fail "no resets: $(cat "$W/out")"
    "$BIN/loadgen" -c 2 -d 300ms --after-ms 100 "127.0.0.1:$PORT" >"$W/out"
    expect "exit status when all is well" $? 0
    out=$(cat "$W/out")
    expect "after-ms" "$(jq '.after_ms == 100 and .new_connections_after > 0 and .new_connections_by_version_after.v1 > 0' <<<"$out")" true
    "$BIN/loadgen" -c 0 -d 1s "127.0.0.1:$PORT" 2>/dev/null
    expect "exit status for bad usage" $? 2
}

# A rollout in miniature with socket activation: perl holds one listening socket and passes it
# as fd 3 to v1, then to v2, then SIGTERMs v1 and marks the moment (--after-file) once v1 says
# it stopped accepting. Under 20 busy connections nothing fails, and no connection opened after
# the mark reaches v1.
activatedVersionsHandOverUnderLoad() {
    cat >"$W/activate.pl" <<'PERL'
use IO::Socket::INET; use POSIX ();
my ($port, $dir, $bin) = @ARGV;
my $l = IO::Socket::INET->new(Listen => 128, LocalAddr => "127.0.0.1:$port", ReuseAddr => 1) or die "listen: $!";
sub start {
    my $v = shift;
    my $pid = fork;
    return $pid if $pid;
    open STDOUT, ">", "$dir/$v.log";
    # dup first: if the socket is fd 3 already, dup2(3, 3) would keep its close-on-exec flag.
    POSIX::dup2(POSIX::dup(fileno $l), 3);
    @ENV{"LISTEN_FDS", "LISTEN_PID"} = (1, $$);
    exec "$bin/webapp", "-v", $v;
    die "exec: $!";
}
my ($v1, $v2);
# The test ends this script with SIGTERM; v2 is not the test's child, so it goes too.
$SIG{TERM} = sub { kill "TERM", grep { $_ } $v1, $v2; exit 0 };
$v1 = start("v1");
select undef, undef, undef, 1;
$v2 = start("v2");
open my $pids, ">", "$dir/pids"; print $pids "$v1 $v2\n"; close $pids;
select undef, undef, undef, 0.3;
kill "TERM", $v1;
for (1 .. 400) {
    open my $log, "<", "$dir/v1.log"; last if grep { /draining/ } <$log>;
    select undef, undef, undef, 0.005;
}
open my $mark, ">", "$dir/switched"; close $mark;
waitpid $v1, 0;
open my $st, ">", "$dir/v1.status"; print $st $? >> 8, "\n"; close $st;
sleep 60;
PERL
    PORT=$(free_port)
    perl "$W/activate.pl" "$PORT" "$W" "$BIN" &
    wait_port "$PORT"
    "$BIN/loadgen" -c 20 -d 3s --after-file "$W/switched" "127.0.0.1:$PORT" >"$W/out"
    local rc=$? out
    out=$(cat "$W/out")
    echo "    $(jq -c '{requests, versions, after_ms, new_connections_by_version_after}' <<<"$out")" >&2
    expect "loadgen exit status" $rc 0
    expect "failures" "$(jq '.failed + .connect_errors + .resets + .timeouts + .closed_early' <<<"$out")" 0
    expect "both versions answered" "$(jq '.versions | has("v1") and has("v2")' <<<"$out")" true
    expect "versions of connections opened after the switch" "$(jq -c '.new_connections_by_version_after | keys' <<<"$out")" '["v2"]'
    expect "connections that saw two versions" "$(jq .mixed_version_connections <<<"$out")" 0
    expect "v1's exit status" "$(timeout 5 bash -c "until [[ -s $W/v1.status ]]; do sleep 0.05; done; cat $W/v1.status")" 0
    grep -q "activated socket" "$W/v2.log" || fail "v2 did not use the activated socket: $(head -1 "$W/v2.log")"
    # A LISTEN_PID that is not ours is someone else's socket: ignored, so nothing to serve.
    LISTEN_FDS=1 LISTEN_PID=1 "$BIN/webapp" -v v1 2>/dev/null
    expect "exit status with a foreign LISTEN_PID" $? 2
}

# ---- runner ----------------------------------------------------------------------------------

tests=(versionsComeFromTheFlagOrSrvVersion badRequestsGetAnErrorAndAClose
    slowAnswersLateWithoutBlockingOthers bytesStreamsAHundredMegabytesIntact
    echoReturnsThePostedBody echoPortAnswersAHalfCloseInKind resetModeResetsAfterTheFirstRead
    sigtermDrainsAndWaitsForAHeldConnection aSecondSigtermExitsAtOnce
    loadgenRunsCleanAgainstWebapp loadgenReportsEveryKindOfFailure activatedVersionsHandOverUnderLoad)
export -f "${tests[@]}"
(($# == 0)) || tests=("$@")
failures=0
for t in "${tests[@]}"; do
    export W=$work/$t
    mkdir -p "$W"
    start=$(date +%s%N)
    # Every process a test starts is its job; the EXIT trap ends them, pass or fail.
    timeout 300 bash -c "trap 'kill \$(jobs -p) 2>/dev/null; wait' EXIT; $t"
    rc=$?
    secs=$(awk -v ns=$(($(date +%s%N) - start)) 'BEGIN { printf "%.3f", ns / 1e9 }')
    if ((rc == 0)); then
        echo "✔ Test webapp/$t() passed after $secs seconds."
    else
        ((rc == 124)) && echo "    timed out" >&2
        echo "✘ Test webapp/$t() failed after $secs seconds."
        [[ ! -s $W/log ]] || sed 's/^/    webapp: /' "$W/log" | tail -n 20 >&2
        failures=$((failures + 1))
    fi
done
((failures == 0))
