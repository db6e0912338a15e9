#!/usr/bin/env bash
# `make fuzz`: coverage-guided fuzzing (libFuzzer) of config.json bytes through the JSON decoder
# and the plan validator (LaunchPlan), the code that reads a config before anything is touched.
#
#   scripts/fuzz.sh [SECONDS]          (default 300)
#   FUZZ_ARGS='-jobs=2 ...'            more libFuzzer flags
#
# The library modules are built instrumented (swiftc -sanitize=fuzzer) into .build-fuzz and
# linked with fuzz/PlanFuzzer.swift, which is not a SwiftPM target: libFuzzer brings its own
# main. The corpus (.build-fuzz/corpus) starts from `berth spec`'s config and fuzz/seeds, and
# grows across runs; a crash is saved as .build-fuzz/crash-* and makes this script fail.
# Where swiftc cannot link libFuzzer, the seeded Swift version of the same fuzzing runs instead,
# longer: BERTH_FUZZ_ITERATIONS cases per test of Tests/RuntimeTests/PlanFuzzTests.swift.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-300}
scratch=$PWD/.build-fuzz
fuzzer=$scratch/plan-fuzzer

fallback() {
    echo "fuzz: libFuzzer is not available here ($1); running the seeded test longer instead" >&2
    BERTH_FUZZ_ITERATIONS=${BERTH_FUZZ_ITERATIONS:-200000} BERTH_FUZZ_SEED=${BERTH_FUZZ_SEED:-$RANDOM$RANDOM} \
        swift test --scratch-path "$scratch/tests" --filter PlanFuzzTests
    exit
}

swift build -c release --scratch-path "$scratch" --target Runtime \
    -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library >&2 || fallback "instrumented build failed"
out=$scratch/release
swiftc -O -sanitize=fuzzer -parse-as-library -module-name PlanFuzzer fuzz/PlanFuzzer.swift \
    -I "$out/Modules" -I Sources/CShim/include \
    -Xcc -fmodule-map-file="$out/CShim.build/module.modulemap" \
    -Xcc -fmodule-map-file=Sources/CLibseccomp/module.modulemap \
    -Xcc -fmodule-map-file=Sources/CLibcap/module.modulemap \
    "$out"/{BerthCore,OCI,Linux,Cgroup2,Seccomp,Runtime}.build/*.o "$out/CShim.build/shim.c.o" -lseccomp -lcap \
    -o "$fuzzer" 2> >(grep -v 'Cannot export local symbol' >&2) || fallback "swiftc -sanitize=fuzzer cannot link"

mkdir -p "$scratch/corpus"
cp fuzz/seeds/*.json "$scratch/corpus/"
seed=$(mktemp -d)
trap 'rm -rf "$seed"' EXIT
for berth in .build/release/berth .build/debug/berth; do
    if [[ -x $berth ]] && "$berth" spec --bundle "$seed"; then cp "$seed/config.json" "$scratch/corpus/berth-spec.json"; break; fi
done
# shellcheck disable=SC2086
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$scratch/" ${FUZZ_ARGS:-} "$scratch/corpus"
