#!/bin/bash
# SPDX-License-Identifier: MIT
# `pamprofctl report` on a ~100 MB py-spy profile (the size the seed warns
# about): wall time and peak RSS, printed, never asserted. The issue's
# target on this machine: <= 5 s and <= 64 MB.
#
#   tests/bench/bench-report.sh BUILD_DIR       (or: ninja -C BUILD_DIR bench-report)
#   MB=200 STACKS=0 tests/bench/bench-report.sh BUILD_DIR
#
# STACKS: distinct work stacks per busy worker thread (default 2000; 0 makes
# every burst a new random stack, a stress test of the call tree's memory).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:?usage: bench-report.sh BUILD_DIR}
ctl=$build/client/pamprofctl
python=${PAMPROF_PYTHON:-/usr/bin/python3}
mb=${MB:-100}
stacks=${STACKS:-2000}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-report.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$python" "$here/../tools/make-profiles.py" --out "$work" --bench-mb "$mb" --bench-stacks "$stacks"
profile=$(echo "$work"/*_profile.speedscope.json)

# Wall time and the child's peak RSS (getrusage), for the text report and for --json.
measure() {
    "$python" - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
if r.returncode != 0:
    sys.exit("failed (%d): %s" % (r.returncode, r.stderr.decode()))
print("%.2f s, peak RSS %.1f MB" % (wall, rss))
PY
}

size=$(stat -c %s "$profile")
printf 'profile: %.1f MB, %s threads; py-spy shape, 100 Hz, idle stacks; work stacks per worker: %s\n' \
    "$(awk -v s="$size" 'BEGIN { print s / 1e6 }')" "$(grep -o '"Thread [0-9]* ' "$profile" | wc -l)" "$stacks"
printf 'pamprofctl report (text):  %s\n' "$(measure "$ctl" report "$profile")"
printf 'pamprofctl report --json:  %s\n' "$(measure "$ctl" report "$profile" --json)"
printf 'target: <= 5 s, <= 64 MB\n'
