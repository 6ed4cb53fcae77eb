#!/bin/bash
# Builds the libFuzzer harnesses of tests/fuzz with clang (every library
# instrumented for coverage, ASan+UBSan, UB fatal) and runs each for a
# bounded time, one after the other.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS_EACH] [HARNESS...]
#
# SECONDS_EACH defaults to 10 (a CI-sized run); 0 only replays the seed
# corpora. HARNESS names (fuzz-request, ...) pick some; default all.
# Environment: PAMPROF_FUZZ_BUILD (build dir, default build-fuzz),
# PAMPROF_FUZZ_RSS_MB (per-harness memory cap, default 2048).
#
# Each harness's corpus grows in BUILD/fuzz-corpus/NAME (seeded from
# tests/fuzz/corpus/NAME, which is never written); a crash, leak, UB,
# timeout or out-of-memory leaves its input in BUILD/fuzz-artifacts/ and a
# log in BUILD/fuzz-logs/. One line per harness: execs, exec/s, cov (edges),
# ft (features), corpus size, result. Exit 0 only when no harness failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

seconds=${1:-10}
shift $(( $# > 0 ? 1 : 0 ))
build=${PAMPROF_FUZZ_BUILD:-build-fuzz}
rss_mb=${PAMPROF_FUZZ_RSS_MB:-2048}
all=(fuzz-request fuzz-reply fuzz-config fuzz-proc fuzz-plot-csv fuzz-plot-threads fuzz-plot-session
     fuzz-plot-render)
# Harnesses of parsers that land later are picked up when their source exists.
[ -f tests/fuzz/fuzz-speedscope.c ] && all+=(fuzz-speedscope)
harnesses=("${@:-${all[@]}}")

case $seconds in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS_EACH] [HARNESS...]" >&2; exit 2 ;;
esac
command -v clang >/dev/null || { echo "run-fuzzers: clang is needed (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

c_args="['-fsanitize=fuzzer-no-link', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer']"
if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dfuzz=true -Dtests=enabled -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false -Dc_args="$c_args" >/dev/null ||
        { echo "run-fuzzers: meson setup failed" >&2; exit 2; }
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("tests/fuzz/$h"); done
if ! meson compile -C "$build" "${targets[@]}" >"$build/fuzz-compile.log" 2>&1; then
    grep -E "error|FAILED" "$build/fuzz-compile.log" | head -30
    echo "run-fuzzers: build failed (log: $build/fuzz-compile.log)" >&2
    exit 2
fi

mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Fontconfig (behind Cairo's text) keeps its caches for the life of the process.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/unit/lsan-plot.supp}

dict_of() {
    case $1 in
        fuzz-request|fuzz-reply|fuzz-plot-session|fuzz-speedscope) echo tests/fuzz/dict/json.dict ;;
        fuzz-config) echo tests/fuzz/dict/config.dict ;;
        fuzz-proc) echo tests/fuzz/dict/proc.dict ;;
        fuzz-plot-*) echo tests/fuzz/dict/csv.dict ;;
    esac
}

failed=0
printf '%-18s %6s %12s %8s %6s %7s %6s  %s\n' harness secs execs exec/s cov ft corpus result
for h in "${harnesses[@]}"; do
    exe=$build/tests/fuzz/$h
    seeds=tests/fuzz/corpus/$h
    work=$build/fuzz-corpus/$h
    log=$build/fuzz-logs/$h.log
    mkdir -p "$work"
    args=(-print_final_stats=1 -timeout=10 -rss_limit_mb="$rss_mb" -artifact_prefix="$build/fuzz-artifacts/$h-")
    dict=$(dict_of "$h")
    [ -n "$dict" ] && [ -f "$dict" ] && args+=(-dict="$dict")
    if [ "$seconds" -eq 0 ]; then
        args+=(-runs=0)
    else
        args+=(-max_total_time="$seconds")
    fi
    "$exe" "${args[@]}" "$work" "$seeds" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    persec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        failed=$((failed + 1))
        kind=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z-]+|runtime error: .*|SUMMARY: UndefinedBehaviorSanitizer.*' "$log")
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        result="FAILED (exit $rc) ${kind:-see log} ${artifact:+input: $artifact} log: $log"
    fi
    printf '%-18s %6s %12s %8s %6s %7s %6s  %s\n' "$h" "$seconds" "${execs:--}" "${persec:--}" "${cov:--}" \
        "${ft:--}" "${corp:--}" "$result"
done
echo "fuzz: ${#harnesses[@]} harnesses, $failed failed"
[ "$failed" -eq 0 ]
