#!/bin/bash
# Every test of pamprofd, from a fresh Debian 12 machine:
#   1. installs the packages it needs (tests/install-deps.sh),
#   2. builds and runs the whole suite (unit + integration) with meson test,
#   3. builds again with ASan+UBSan and runs the whole suite there (but the
#      short soak, whose RSS figures mean nothing under ASan),
#   4. runs the unit tests under valgrind memcheck and the protocol tests with
#      the daemon itself under valgrind,
#   5. runs every libFuzzer harness for a few seconds (tests/fuzz/run-fuzzers.sh).
# The last line is "N passed, N failed". Exit 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
top=$PWD
prefix=${PAMPROF_CHECK_DIR:-build-check}
python=/usr/bin/python3

bash tests/install-deps.sh || { echo "installing dependencies failed"; exit 1; }

passed=0
failed=0
skipped=0
stage_failed=()

count() {
    # meson's testlog.json: one JSON object per test run
    local log=$1/meson-logs/testlog.json
    [ -f "$log" ] || return
    read -r p f s < <($python - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
PY
)
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

setup() {
    local dir=$1; shift
    local log=$dir.setup.log
    if [ -d "$dir" ]; then
        meson setup --reconfigure "$dir" "$@" >"$log" 2>&1 || meson setup --wipe "$dir" "$@" >"$log" 2>&1
    else
        meson setup "$dir" "$@" >"$log" 2>&1
    fi || { grep -E "ERROR|error" "$log"; return 1; }
    meson compile -C "$dir" | grep -E "error|warning|FAILED" ; [ "${PIPESTATUS[0]}" -eq 0 ]
}

stage() {
    local name=$1 dir=$2; shift 2
    echo "=== $name"
    rm -f "$dir/meson-logs/testlog.json"
    meson test -C "$dir" --print-errorlogs "$@" || stage_failed+=("$name")
    count "$dir"
}

if setup "$prefix"; then
    stage "unit and integration tests" "$prefix"
else
    echo "build failed"; failed=$((failed + 1)); stage_failed+=(build)
fi

if setup "$prefix-asan" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug; then
    # UBSan only reports by default: here undefined behaviour fails the test (the daemon aborts).
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1} PAMPROF_TEST_SLOWDOWN=2 \
        stage "the same under ASan+UBSan" "$prefix-asan" --timeout-multiplier 2 --no-suite soak
else
    echo "sanitizer build failed"; failed=$((failed + 1)); stage_failed+=(asan-build)
fi

if [ -d "$prefix" ]; then
    stage "unit tests under valgrind" "$prefix" --suite unit \
        --wrapper "valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --suppressions=$top/tests/unit/valgrind-plot.supp" \
        --timeout-multiplier 4
    PAMPROF_TEST_SLOWDOWN=4 \
    PAMPROF_DAEMON_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --suppressions=$top/tests/unit/valgrind-plot.supp" \
        stage "protocol and lifecycle tests, daemon under valgrind" "$prefix" test_protocol test_lifecycle \
        --timeout-multiplier 4
fi

# Every libFuzzer harness for a bounded time (clang, ASan+UBSan): one check per harness.
echo "=== fuzzers, ${PAMPROF_FUZZ_SECONDS:-8} s each"
PAMPROF_FUZZ_BUILD="$prefix-fuzz" bash tests/fuzz/run-fuzzers.sh "${PAMPROF_FUZZ_SECONDS:-8}" >"$prefix-fuzz.log" 2>&1
fuzz_rc=$?
n_ok=$(grep -cE '^fuzz-[a-z-]+ .* ok$' "$prefix-fuzz.log" || true)
n_bad=$(grep -cE '^fuzz-[a-z-]+ .* FAILED' "$prefix-fuzz.log" || true)
passed=$((passed + n_ok)); failed=$((failed + n_bad))
grep -E '^fuzz-' "$prefix-fuzz.log" || true
if [ "$fuzz_rc" -ne 0 ]; then
    [ "$n_bad" -gt 0 ] || { tail -30 "$prefix-fuzz.log"; failed=$((failed + 1)); }
    for log in "$prefix-fuzz"/fuzz-logs/*.log; do
        grep -q -E 'ERROR: |runtime error' "$log" 2>/dev/null || continue
        echo "--- $log"; grep -m1 -A12 -E 'ERROR: |runtime error' "$log"
    done
    stage_failed+=(fuzzers)
fi

echo
[ ${#stage_failed[@]} -eq 0 ] || echo "failed stages: ${stage_failed[*]}"
echo "skipped: $skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#stage_failed[@]} -eq 0 ]
