#!/bin/bash
# The main job, from a fresh Debian 12 machine: installs what it needs, builds,
# starts pamprofd (on a socket of its own, so an installed service is not
# touched) and, when no PAM runs on this machine, the bundled PAM stand-in; then
# records a short profiled session with pamprofctl: py-spy where it is installed,
# else the real Austin 3.7 (built from Debian's archive by tests/tools/build-austin.sh);
# then prints the files, the report's top findings and how to open the profile.
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
    # A little load, so the profile and the report have something true to show.
    tests/pam-standin/run-pam-standin --port "$port" --load 0.15 >"$run/pam-standin.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.2
    done
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { echo "the stand-in did not start:"; cat "$run/pam-standin.log"; exit 1; }
    # This stand-in, not another one a test may have started meanwhile.
    echo "target_match = $match --host 127\\.0\\.0\\.1 --port $port( |\$)" >"$run/pamprofd.conf"
fi

# py-spy comes from PyPI into PAM's virtualenv; where it is missing, Austin 3.7 samples instead.
profiler=(--profiler py-spy)
daemon_args=()
if ! command -v py-spy >/dev/null; then
    echo "py-spy is not installed here: profiling with Austin 3.7 instead (built once from Debian's archive)."
    austin=$(bash tests/tools/build-austin.sh "$top/$build/austin" 2>"$run/build-austin.log" | tail -1) ||
        { cat "$run/build-austin.log" >&2; exit 1; }
    profiler=(--profiler austin)
    daemon_args=(--austin-path "$austin")
fi

PAMPROF_RENDER_MODULE="$top/$build/common/plot/pamprof-render.so" "$top/$build/daemon/pamprofd" \
    --config "$run/pamprofd.conf" --socket "$run/pamprofd.sock" --state-dir "$run/state" \
    --output-dir "$run/profiles" "${daemon_args[@]}" >"$run/pamprofd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do "${ctl[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done

"${ctl[@]}" status
echo
"${ctl[@]}" record --scenario "$scenario" --duration "$duration" "${profiler[@]}"
id=$("${ctl[@]}" list --json --limit 1 | /usr/bin/python3 -c 'import json, sys; d = json.load(sys.stdin); print(d.get("result", d)["sessions"][-1]["id"])')
echo
echo "The report's top findings (all of it: ${ctl[*]} report $id):"
"${ctl[@]}" report "$id" | awk '/^Findings|^No findings/ { on = 1 } on && /^$/ { exit } on' | head -30
profile=$(ls "$run/profiles/${id}_profile.speedscope.json" 2>/dev/null || true)
echo
echo "Files of $id, in $run/profiles:"
ls -l "$run/profiles/$id"_* | awk '{ printf "  %10s  %s\n", $5, $NF }'
echo "pamprofd's log: $run/pamprofd.log"
if [ -n "$profile" ]; then
    echo "Open the profile: speedscope $profile"
    echo "  (npm install -g speedscope; or drop the file on https://www.speedscope.app)"
fi
echo "The plot: $run/profiles/${id}_cpu.png"
