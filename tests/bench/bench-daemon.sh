#!/bin/bash
# Benchmark of the daemon as a whole (prints figures, asserts nothing):
#   - RSS idle (PAM present, no session) and during a session
#   - wake-ups per minute when idle (voluntary context switches, the daemon's own)
#   - CPU time per sample during a 1 s session, for a 20-thread and a 200-thread target
# usage: tests/bench/bench-daemon.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$top/build}
secs=${2:-30}
python=${PAMPROF_PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

tag=bench-$$
"$python" "$top/tests/tools/cpu-burner.py" --duty 0.05 --threads 20 --name Worker --cmdline-tag "$tag-20" >"$work/b20" &
pids+=($!)
"$python" "$top/tests/tools/cpu-burner.py" --duty 0 --threads 200 --name Idle --cmdline-tag "$tag-200" >"$work/b200" &
pids+=($!)
sleep 1

PAMPROF_RENDER_MODULE="$(cd "$build" && pwd)/common/plot/pamprof-render.so" "$build/daemon/pamprofd" --config /dev/null --socket "$work/s.sock" --state-dir "$work/state" \
    --output-dir "$work/out" --target-match "$tag-20" >"$work/log" 2>&1 &
d=$!
pids+=($d)
ctl=("$build/client/pamprofctl" --socket "$work/s.sock")
for _ in $(seq 50); do "${ctl[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done

sleep 2
c0=$(status_field $d voluntary_ctxt_switches); n0=$(status_field $d nonvoluntary_ctxt_switches)
sleep "$secs"
c1=$(status_field $d voluntary_ctxt_switches); n1=$(status_field $d nonvoluntary_ctxt_switches)
printf 'idle: RSS %s kB, wake-ups %.1f per minute (%d voluntary + %d involuntary switches in %ss)\n' \
    "$(status_field $d VmRSS)" "$(echo "($c1 - $c0 + $n1 - $n0) * 60 / $secs" | bc -l)" $((c1 - c0)) $((n1 - n0)) "$secs"
rollup() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup"; }
printf 'idle: PSS %s kB, private %s kB (anonymous %s kB); the rest of RSS is shared library pages\n' \
    "$(rollup $d Pss)" "$(( $(rollup $d Private_Clean) + $(rollup $d Private_Dirty) ))" "$(rollup $d Anonymous)"
# The floor under those figures on this machine and kernel: a C program that only creates an sd-event
# loop (libsystemd and what it pulls in: libgcrypt, lz4, zstd, lzma, libcap) and waits.
if command -v cc >/dev/null; then
    printf '#include <systemd/sd-event.h>\n#include <unistd.h>\nint main(void) { sd_event *e; sd_event_default(&e); pause(); }\n' \
        >"$work/floor.c"
    if cc -O2 "$work/floor.c" -o "$work/floor" -lsystemd 2>/dev/null; then
        "$work/floor" & f=$!
        sleep 0.5
        printf 'floor: a bare sd-event program: RSS %s kB, PSS %s kB\n' "$(status_field $f VmRSS)" "$(rollup $f Pss)"
        kill $f; wait $f 2>/dev/null || true
    fi
fi

for target in 20 200; do
    pid=$(head -1 "$work/b$target")
    "${ctl[@]}" start --scenario "bench$target" --pid "$pid" --interval 1 --no-profile >/dev/null
    sleep 1.5
    t0=$(cpu_ticks $d); s0=$(date +%s.%N)
    sleep "$secs"
    t1=$(cpu_ticks $d); s1=$(date +%s.%N)
    rows=$("${ctl[@]}" --json status | "$python" -c 'import json,sys; print(json.load(sys.stdin)["result"]["session"]["rows"])')
    rss=$(status_field $d VmRSS)
    "${ctl[@]}" stop >/dev/null
    printf 'session, %3d-thread target, 1 s interval, per-thread CSV on: RSS %s kB, daemon CPU %.1f ms per sample (%.3f%% of a core; tick-resolution over %ss)\n' \
        "$target" "$rss" "$(echo "($t1 - $t0) * 1000 / $hz / $secs" | bc -l)" \
        "$(echo "($t1 - $t0) * 100 / $hz / ($s1 - $s0)" | bc -l)" "$secs"
done
echo "peak RSS of the daemon over the run: $(status_field $d VmHWM) kB"
