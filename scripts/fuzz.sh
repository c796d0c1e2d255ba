#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/FsdfsFuzz (Swift's -sanitize=fuzzer, with the address
# sanitizer) and runs each for SECONDS (default 60), one after the other. Usage:
#   scripts/fuzz.sh [SECONDS] [TARGET ...]       targets: signature sigv4 path policy json
# Each target keeps its corpus in .build-fuzz/corpus/TARGET (grown run after run) and seeds
# from Fuzz/seeds/TARGET; a crash leaves its input in .build-fuzz/crashes/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(signature sigv4 path policy json)

swift build --product fsdfs-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING 2>&1 | grep -E "error|Compiling fsdfs|Build" || true
binary=.build-fuzz/debug/fsdfs-fuzz
[ -x "$binary" ] || { echo "fuzz.sh: the fuzzer did not build" >&2; exit 1; }
mkdir -p .build-fuzz/crashes
status=0
for target in "${targets[@]}"; do
    corpus=".build-fuzz/corpus/$target"
    mkdir -p "$corpus"
    [ -d "Fuzz/seeds/$target" ] && cp -n Fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
    log=".build-fuzz/$target.log"
    # TOMLKit 0.6.0 leaks its parse-error buffer on every parse (24 bytes, more on an error;
    # TOMLTable.init(string:) never frees it): a finding in the dependency, not in fsdfs,
    # so the policy target does not stop on leaks.
    leaks=1
    [ "$target" = policy ] && leaks=0
    if ASAN_OPTIONS="detect_leaks=$leaks" FSDFS_FUZZ_TARGET="$target" "$binary" -max_total_time="$seconds" -artifact_prefix=".build-fuzz/crashes/$target-" \
        -detect_leaks=$leaks -print_final_stats=1 "$corpus" > "$log" 2>&1; then
        result="no finding"
    else
        result="FINDING (see $log and .build-fuzz/crashes)"
        status=1
    fi
    runs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo "?")
    inputs=$(ls "$corpus" | wc -l)
    echo "$target: $seconds s, $runs executions, corpus $inputs inputs: $result"
done
exit $status
