#!/bin/bash
# The main job, from a fresh Debian 12 machine: installs what it needs, builds,
# starts pamprofd (on a socket of its own, so an installed service is not
# touched) and, when no PAM runs on this machine, the bundled PAM stand-in; then
# records a short monitored session with pamprofctl and prints the files.
#
#   bash tests/demo.sh                      # 20 s, scenario idle-no-leaffc
#   DURATION=60 SCENARIO=mission-execution bash tests/demo.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
top=$PWD
build=${PAMPROF_DEMO_BUILD:-build-demo}
run=${PAMPROF_DEMO_DIR:-$top/$build/demo}
scenario=${SCENARIO:-idle-no-leaffc}
duration=${DURATION:-20}

bash tests/install-deps.sh
[ -d "$build" ] || meson setup "$build" >/dev/null
meson compile -C "$build" >/dev/null

mkdir -p "$run"
: > "$run/pamprofd.conf"
ctl=("$top/$build/client/pamprofctl" --socket "$run/pamprofd.sock")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

match='uvicorn[^ ]*( .*)? petal_app_manager\.main:app'
if pam=$(pgrep -f -o "$match"); then
    echo "PAM is running here (pid $pam): profiling it."
else
    port=9000
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    echo "No PAM on this machine: starting the bundled stand-in on 127.0.0.1:$port."
    tests/pam-standin/run-pam-standin --port "$port" >"$run/pam-standin.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.2
    done
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { echo "the stand-in did not start:"; cat "$run/pam-standin.log"; exit 1; }
fi

PAMPROF_RENDER_MODULE="$top/$build/common/pamprof-render.so" "$top/$build/daemon/pamprofd" --config "$run/pamprofd.conf" --socket "$run/pamprofd.sock" \
    --state-dir "$run/state" --output-dir "$run/profiles" >"$run/pamprofd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do "${ctl[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done

"${ctl[@]}" status
echo
# py-spy profile plus CPU/memory (the seed's Option C, made safe); where py-spy is not
# installed (it comes from PyPI, into PAM's virtualenv) the daemon refuses the profile
# and says so, and the demo records CPU and memory alone (Option B).
if ! "${ctl[@]}" record --scenario "$scenario" --duration "$duration" 2>"$run/record.err"; then
    cat "$run/record.err" >&2
    if grep -q "py-spy was not found" "$run/record.err"; then
        echo
        echo "py-spy is not installed here: recording CPU and memory only (--no-profile)."
        "${ctl[@]}" record --scenario "$scenario" --duration "$duration" --no-profile
    else
        exit 1
    fi
fi
echo
echo "pamprofd's log: $run/pamprofd.log"
echo "All sessions: ${ctl[*]} list   (while a daemon runs on that socket)"
