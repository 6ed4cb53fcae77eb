#!/bin/bash
# Every test of pamprofd, from a fresh Debian 12 machine:
#   1. installs the packages it needs (tests/install-deps.sh) and builds Austin 3.7,
#      the real sampler of the tests (tests/tools/build-austin.sh);
#   2. builds with warnings as errors and runs the whole suite (unit, integration,
#      systemd, the tree's own checks, a short soak) with meson test;
#   3. builds again with ASan+UBSan and runs the whole suite there (but the
#      short soak, whose RSS figures mean nothing under ASan);
#   4. runs the unit tests under valgrind memcheck and the protocol tests with
#      the daemon itself under valgrind;
#   5. runs every libFuzzer harness for a few seconds (tests/fuzz/run-fuzzers.sh);
#   6. the arm64 stage: a cross build for aarch64, its unit tests and the integration tests
#      against the aarch64 daemon under qemu-user, the arm64 .deb (tests/arm64/check-arm64.sh).
# Every test reports its cases (TAP); a skipped case is counted as skipped, with its reason.
# Under CI (CI=true) a skip of anything CI is meant to have is a failure; only what is marked
# [optional] (a real py-spy: no PyPI here) may skip there.
# The last line is "N passed, N failed, N skipped". Exit 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
top=$PWD
prefix=${PAMPROF_CHECK_DIR:-build-check}
python=/usr/bin/python3
started=$SECONDS

bash tests/install-deps.sh || { echo "installing dependencies failed"; exit 1; }

strict=0
if [ "${CI:-}" = true ] || [ "${PAMPROF_TESTS_STRICT:-0}" = 1 ]; then
    strict=1
    export PAMPROF_TESTS_STRICT=1
fi

passed=0
failed=0
skipped=0
stage_failed=()
: >"$prefix.skips"

# Austin 3.7, built once from Debian's archive (trixie's source package); the tests use it
# through $PAMPROF_AUSTIN. If the archive cannot be reached, the Austin tests skip, and say so.
if austin=$(bash tests/tools/build-austin.sh "$top/$prefix-austin" 2>"$prefix-austin.log" | tail -1) &&
    [ -x "$austin" ]; then
    export PAMPROF_AUSTIN=$austin
    echo "Austin: $("$austin" --version)"
else
    echo "Austin could not be built (see $prefix-austin.log):"
    tail -3 "$prefix-austin.log"
fi

count() {
    # meson's testlog.json holds each test's stdout: its TAP, one line a case (tests/count-cases.py).
    # (with --wrapper, meson names it testlog-WRAPPER.json: the newest one is this stage's)
    local stage=$1 log p f s
    log=$(ls -t "$2"/meson-logs/testlog*.json 2>/dev/null | head -1)
    [ -n "$log" ] && [ -f "$log" ] || { echo "--- $stage: no test log"; failed=$((failed + 1)); return; }
    : >"$prefix.failures"
    read -r p f s < <(PAMPROF_TESTS_STRICT=$strict $python tests/count-cases.py "$log" "$stage" \
        "$top/$prefix.skips" "$top/$prefix.failures")
    sed 's/^/FAILED: /' "$prefix.failures"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    echo "--- $stage: $p passed, $f failed, $s skipped"
}

setup() {
    local dir=$1; shift
    local log=$dir.setup.log
    if [ -d "$dir" ]; then
        meson setup --reconfigure "$dir" -Dwerror=true "$@" >"$log" 2>&1 ||
            meson setup --wipe "$dir" -Dwerror=true "$@" >"$log" 2>&1
    else
        meson setup "$dir" -Dwerror=true "$@" >"$log" 2>&1
    fi || { grep -E "ERROR|error" "$log"; return 1; }
    meson compile -C "$dir" | grep -E "error|warning|FAILED" ; [ "${PIPESTATUS[0]}" -eq 0 ]
}

stage() {
    local name=$1 dir=$2; shift 2
    echo "=== $name"
    rm -f "$dir"/meson-logs/testlog*.json
    meson test -C "$dir" --print-errorlogs "$@" || stage_failed+=("$name")
    count "$name" "$dir"
}

if setup "$prefix"; then
    stage "unit and integration tests" "$prefix"
else
    echo "build failed"; failed=$((failed + 1)); stage_failed+=(build)
fi

if setup "$prefix-asan" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug; then
    # UBSan only reports by default: here undefined behaviour fails the test (the daemon aborts).
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1} PAMPROF_TEST_SLOWDOWN=2 \
        stage "the same under ASan+UBSan" "$prefix-asan" --timeout-multiplier 2 --no-suite soak --no-suite meta
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

# The drones' computers: cross-built for aarch64, unit and integration tests under qemu-user
# against the aarch64 daemon, the arm64 .deb (tests/arm64/check-arm64.sh; its last line counts).
echo "=== arm64"
PAMPROF_ARM64_BUILD="$prefix-arm64" PAMPROF_ARM64_HOST_BUILD="$prefix" \
    bash tests/arm64/check-arm64.sh >"$prefix-arm64.log" 2>&1
arm64_rc=$?
grep -E '^(SKIP|arm64:)' "$prefix-arm64.log" || tail -20 "$prefix-arm64.log"
# Each failure by name, and what the failing cases printed (the stage's logs stay in the build
# directory, which a CI run does not keep).
if [ -s "$prefix-arm64-logs/failures" ]; then
    sed 's/^/FAILED: arm64: /' "$prefix-arm64-logs/failures"
    for log in "$prefix-arm64-logs"/unit.log "$prefix-arm64-logs"/integration*.log; do
        [ -f "$log" ] || continue
        grep -q -E '^(FAIL|ERROR): |^not ok ' "$log" || continue
        echo "--- $(basename "$log"):"
        grep -E -A40 '^(FAIL|ERROR): |^not ok ' "$log" | head -80
    done
fi
if read -r p f s < <(sed -n 's/^arm64: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' \
        "$prefix-arm64.log" | tail -1) && [ -n "${p:-}" ]; then
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    sed -n 's/^SKIP: /arm64: /p' "$prefix-arm64.log" >>"$prefix.skips"
else
    failed=$((failed + 1))
fi
[ "$arm64_rc" -eq 0 ] || stage_failed+=(arm64)

echo
if [ -s "$prefix.skips" ]; then
    echo "skipped, each with its reason:"
    sed 's/^/  SKIP: /' "$prefix.skips"
fi
[ ${#stage_failed[@]} -eq 0 ] || echo "failed stages: ${stage_failed[*]}"
echo "took $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ ${#stage_failed[@]} -eq 0 ]
