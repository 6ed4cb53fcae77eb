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
# PAMPROF_FUZZ_RSS_MB (per-harness memory cap, default 2048),
# PAMPROF_FUZZ_KEEP_GOING=1 (long runs: libFuzzer's fork mode, which saves
# each crash and carries on instead of stopping at the first; the distinct
# crashes are listed at the end, each replayed for its signature).
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
keep_going=${PAMPROF_FUZZ_KEEP_GOING:-0}

case $seconds in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS_EACH] [HARNESS...]" >&2; exit 2 ;;
esac
command -v clang >/dev/null || { echo "run-fuzzers: clang is needed (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
[ -f "$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a" ] ||
    { echo "run-fuzzers: clang has no libFuzzer runtime (apt-get install libclang-rt-14-dev)" >&2; exit 2; }

c_args="['-fsanitize=fuzzer-no-link', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer']"
if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dfuzz=true -Dtests=enabled -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false -Dc_args="$c_args" >/dev/null ||
        { echo "run-fuzzers: meson setup failed" >&2; exit 2; }
fi
# The harnesses are the rows of tests/fuzz/meson.build, read back from the build: one list.
mapfile -t all < <(/usr/bin/python3 -c '
import json, sys
print("\n".join(sorted(t["name"] for t in json.load(open(sys.argv[1]))
                        if t["type"] == "executable" and t["name"].startswith("fuzz-"))))' \
    "$build/meson-info/intro-targets.json")
[ ${#all[@]} -gt 0 ] || { echo "run-fuzzers: $build defines no fuzz-* harness" >&2; exit 2; }
harnesses=("${@:-${all[@]}}")
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
        fuzz-request|fuzz-reply|fuzz-plot-session|fuzz-speedscope|fuzz-merge|fuzz-folded) echo tests/fuzz/dict/json.dict ;;
        fuzz-config) echo tests/fuzz/dict/config.dict ;;
        fuzz-proc) echo tests/fuzz/dict/proc.dict ;;
        fuzz-plot-*|fuzz-csv-reader) echo tests/fuzz/dict/csv.dict ;;
    esac
}

# The signature of a failing input: the sanitizer's summary and the first
# frame in our code, found by replaying it.
signature() {
    local exe=$1 input=$2 out
    out=$("$exe" -runs=1 "$input" 2>&1)
    local what where
    what=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer): [a-zA-Z-]+|runtime error: [^:]*|ERROR: libFuzzer: [a-z-]+' <<<"$out")
    where=$(grep -m1 -oE 'in [A-Za-z_0-9]+ [^ ]*/(common|daemon|client)/[^ ]+' <<<"$out" |
            sed 's#in \([^ ]*\) .*/\(common\|daemon\|client\)/#\1 \2/#')
    [ -z "$where" ] && where=$(grep -m1 -oE 'tests/fuzz/fuzz-[a-z-]+\.c:[0-9]+' <<<"$out")
    echo "${what:-unknown} at ${where:-?}"
}

failed=0
printf '%-18s %6s %12s %8s %6s %7s %6s  %s\n' harness secs execs exec/s cov ft corpus result
for h in "${harnesses[@]}"; do
    exe=$build/tests/fuzz/$h
    seeds=tests/fuzz/corpus/$h
    work=$build/fuzz-corpus/$h
    log=$build/fuzz-logs/$h.log
    artifacts=$build/fuzz-artifacts/$h-
    mkdir -p "$work"
    args=(-print_final_stats=1 -timeout=10 -rss_limit_mb="$rss_mb" -artifact_prefix="$artifacts")
    dict=$(dict_of "$h")
    [ -n "$dict" ] && [ -f "$dict" ] && args+=(-dict="$dict")
    if [ "$seconds" -eq 0 ]; then
        args+=(-runs=0)
    else
        args+=(-max_total_time="$seconds")
        [ "$keep_going" = 1 ] && args+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
    fi
    marker=$(mktemp)
    "$exe" "${args[@]}" "$work" "$seeds" >"$log" 2>&1
    rc=$?
    # Plain mode ends with stat:: lines and a "#N DONE cov: ..." line; fork mode
    # with "#N: cov: ... exec/s E ..." lines (N counts the executions).
    last=$(grep -aE '^#[0-9]+:?[[:space:]].*cov: ' "$log" | tail -1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [ -z "$execs" ] && execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
    persec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    [ -z "$persec" ] && [ "$seconds" -gt 0 ] && [ -n "$execs" ] && persec=$((execs / seconds))
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    new=()
    while IFS= read -r -d '' a; do new+=("$a"); done < <(find "$build/fuzz-artifacts" -name "$h-*" -newer "$marker" -print0)
    rm -f "$marker"
    if [ "$rc" -eq 0 ] && [ ${#new[@]} -eq 0 ]; then
        result=ok
    else
        failed=$((failed + 1))
        result="FAILED (exit $rc, ${#new[@]} failing inputs in $build/fuzz-artifacts/, log: $log)"
    fi
    printf '%-18s %6s %12s %8s %6s %7s %6s  %s\n' "$h" "$seconds" "${execs:--}" "${persec:--}" "${cov:--}" \
        "${ft:--}" "${corp:--}" "$result"
    if [ ${#new[@]} -gt 0 ]; then
        for a in "${new[@]}"; do
            echo "$(signature "$exe" "$a")	$a"
        done | sort | awk -F'\t' '{ n[$1]++; ex[$1] = $2 } END { for (k in n) printf "    %4d x %s  (e.g. %s)\n", n[k], k, ex[k] }'
    fi
done
echo "fuzz: ${#harnesses[@]} harnesses, $failed failed"
[ "$failed" -eq 0 ]
