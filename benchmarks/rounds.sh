# Sourced by the lifecycle benchmarks: interleaved timing rounds, and their medians.
#
#   time_rounds RUNS WARMUP OUT NAME COMMAND [NAME COMMAND]...
#
# Each round runs every command once, in an order that rotates from round to round, and appends
# "NAME MICROSECONDS" to OUT. Not hyperfine: it times each command's whole series back to back,
# and on a shared host a burst of background load then lands on one runtime only (the same
# binaries measured 211 ms and 59 ms for berth in two such series). Times come from bash's own
# clock, with no fork around the command. A command that fails stops the benchmark. The commands
# get the caller's stdio: make it scratch files, never the host's /dev/null (crun 1.8 chowns
# stdio that is not a terminal, device nodes included: docs/engines.md).
time_rounds() {
    local runs=$1 warmup=$2 out=$3
    shift 3
    local -a names=() commands=()
    while (($#)); do names+=("$1"); commands+=("$2"); shift 2; done
    local n=${#names[@]} round k i start end
    for ((round = -warmup; round < runs; round++)); do
        for ((k = 0; k < n; k++)); do
            i=$(((k + round + warmup) % n))
            start=$EPOCHREALTIME
            eval "${commands[i]}" || { echo "benchmark: ${names[i]} failed: ${commands[i]}" >&2; return 1; }
            end=$EPOCHREALTIME
            ((round < 0)) || echo "${names[i]} $((${end/./} - ${start/./}))" >>"$out"
        done
        ((round < 0 || (round + 1) % 20)) || echo "benchmark: $((round + 1))/$runs rounds" >&2
    done
}

# jq: lines "NAME MICROSECONDS" (read with -R -s) to {NAME: {median_ms, min_ms, max_ms}}.
rounds_summary='
    def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    split("\n") | map(select(length > 0) | split(" ") | {name: .[0], ms: (.[1] | tonumber / 1000)})
    | group_by(.name) | map({key: .[0].name, value: (map(.ms) | {median_ms: median, min_ms: min, max_ms: max})}) | from_entries'
