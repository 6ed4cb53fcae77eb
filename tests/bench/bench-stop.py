#!/usr/bin/python3
"""bench-stop: does the daemon answer while a session with a big profile stops?

    tests/bench/bench-stop.py [--build DIR] [--mb 200] [--chunk-mb 50] [--chunk 3] [--poll-ms 10]

Prints figures, asserts nothing (exit 0 unless the bench itself could not run).

It starts pamprofd from the build directory on a socket of its own, against a
target of four threads (tests/tools/cpu-burner.py), with py-spy's TEST DOUBLE
(tests/tools/py-spy) as the sampler: PYSPY_DOUBLE_MODE=bulk-mb=N pads each
run's file to N MB, so --chunk seconds make one chunk of --chunk-mb MB. These
go through the daemon's real path: staged, judged, merged at stop into the
session's _profile.speedscope.json, then the plot and the report. Once the
finished runs hold --mb MB, it stops the session with `pamprofctl stop` and,
meanwhile, sends `status` every --poll-ms ms on a connection of its own (one
request at a time: the next goes --poll-ms after the last answer).

It prints the longest time a status went unanswered (and the median and the
99th percentile) from the stop's request to its answer, and how long the stop
took. The target is 50 ms on a 2-core machine; a daemon that merges, renders
and reports inside its event loop answers nothing until all of that is done.
Then it deletes the session (`pamprofctl delete`: its files, the merged profile
first of all, go in a child) and prints the same figures for the delete.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
TOP = os.path.dirname(TESTS)
PYTHON = os.environ.get("PAMPROF_PYTHON", "/usr/bin/python3")


def request(sock_path, cmd, timeout=120):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.send(json.dumps({"version": 1, "cmd": cmd}).encode())
        return json.loads(s.recv(1 << 20))
    finally:
        s.close()


class Poller(threading.Thread):
    """status every poll_ms after the last answer; each answer's wait in seconds."""

    def __init__(self, sock_path, poll_ms):
        super().__init__(daemon=True)
        self.sock_path = sock_path
        self.poll = poll_ms / 1000
        self.waits = []
        self.starts = []
        self.failures = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            t0 = time.monotonic()
            try:
                reply = request(self.sock_path, "status")
                if not reply.get("ok", True) and "error" in reply:
                    self.failures.append(str(reply["error"]))
            except (OSError, ValueError) as e:
                self.failures.append(str(e))
            self.waits.append(time.monotonic() - t0)
            self.starts.append(t0)
            time.sleep(self.poll)


def measure(sock, poll_ms, argv):
    """Runs argv while status is asked every poll_ms: (its CompletedProcess, seconds, waits during it
    sorted, the five longest with their times, the waits of the second before it)."""
    poller = Poller(sock, poll_ms)
    poller.start()
    time.sleep(1)
    before = list(poller.waits)
    t0 = time.monotonic()
    run = subprocess.run(argv, capture_output=True, text=True)
    took = time.monotonic() - t0
    time.sleep(0.2)
    poller.done.set()
    poller.join()
    during = [(w, t) for w, t in zip(poller.waits, poller.starts) if t >= t0]
    return run, took, sorted(w for w, _ in during), sorted(during, reverse=True)[:5], before, poller.failures, t0


def staged_mb(reply):
    prof = reply.get("result", {}).get("session", {}).get("profile", {})
    return sum(r.get("size", 0) for r in prof.get("runs", []) if r.get("outcome") in ("ok", "partial")) / 2**20


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--mb", type=float, default=200, help="stop once the finished runs hold this many MB")
    ap.add_argument("--chunk-mb", type=float, default=50, help="each run's file, MB")
    ap.add_argument("--chunk", type=int, default=3, help="seconds a run lasts")
    ap.add_argument("--poll-ms", type=float, default=10)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    pamprofd = os.path.join(build, "daemon", "pamprofd")
    pamprofctl = os.path.join(build, "client", "pamprofctl")
    for exe in (pamprofd, pamprofctl):
        if not os.access(exe, os.X_OK):
            sys.exit(f"bench-stop: {exe} is missing: build first (meson compile -C {args.build})")

    work = tempfile.mkdtemp(prefix="pamprof-bench-stop-")
    os.chmod(work, 0o755)
    tag = f"bench-stop-{os.getpid()}"
    sock = os.path.join(work, "s.sock")
    procs = []
    try:
        burner = subprocess.Popen([PYTHON, os.path.join(TESTS, "tools", "cpu-burner.py"), "--duty", "0.05",
                                   "--threads", "4", "--name", "Worker", "--cmdline-tag", tag],
                                  stdout=subprocess.PIPE, text=True)
        procs.append(burner)
        burner.stdout.readline()
        env = dict(os.environ, PYSPY_DOUBLE_MODE=f"bulk-mb={args.chunk_mb}",
                   PAMPROF_RENDER_MODULE=os.path.join(build, "common", "plot", "pamprof-render.so"))
        env.pop("NOTIFY_SOCKET", None)
        log = open(os.path.join(work, "pamprofd.log"), "wb")
        # PAMPROF_DAEMON_WRAPPER (as in the integration tests): e.g. "strace -tt -T -o FILE"
        wrapper = os.environ.get("PAMPROF_DAEMON_WRAPPER", "").split()
        daemon = subprocess.Popen(wrapper + [pamprofd, "--config", "/dev/null", "--socket", sock, "--state-dir",
                                   os.path.join(work, "state"), "--output-dir", os.path.join(work, "out"),
                                   "--target-match", tag, "--scan-interval", "1", "--pyspy-path",
                                   os.path.join(TESTS, "tools", "py-spy"), "--chunk", str(args.chunk),
                                   "--max-profile-mb", str(int(args.mb + 3 * args.chunk_mb))],
                                  stdout=log, stderr=subprocess.STDOUT, env=env)
        procs.append(daemon)
        ctl = [pamprofctl, "--socket", sock]
        for _ in range(100):
            if subprocess.run(ctl + ["status"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(ctl + ["start", "--scenario", "bench-stop", "--interval", "1"], check=True,
                       capture_output=True)
        t0 = time.monotonic()
        while staged_mb(request(sock, "status")) < args.mb:
            if time.monotonic() - t0 > 600:
                sys.exit("bench-stop: the runs did not reach %g MB in 10 minutes" % args.mb)
            time.sleep(0.5)
        mb = staged_mb(request(sock, "status"))

        poller = Poller(sock, args.poll_ms)
        poller.start()
        time.sleep(3)  # answers before the stop: the machine's own noise
        before = list(poller.waits)
        t_stop = time.monotonic()
        stop = subprocess.run(ctl + ["--json", "stop"], capture_output=True, text=True)
        stop_s = time.monotonic() - t_stop
        time.sleep(0.2)
        poller.done.set()
        poller.join()
        if stop.returncode != 0:
            sys.exit(f"bench-stop: pamprofctl stop exited {stop.returncode}: {stop.stderr}")
        result = json.loads(stop.stdout.strip().splitlines()[-1])["result"]
        out_dir = result.get("output_dir") or os.path.join(work, "out")
        files = result.get("files", {})
        prof = os.path.join(out_dir, files.get("profile", "-"))
        prof_mb = os.path.getsize(prof) / 2**20 if os.path.exists(prof) else 0
        during = [(w, t) for w, t in zip(poller.waits, poller.starts) if t >= t_stop]
        longest = sorted(during, reverse=True)[:5]
        waits = sorted(w for w, _ in during)
        p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
        print(f"bench-stop: {mb:.0f} MB of profile chunks (py-spy test double, bulk-mb={args.chunk_mb:g})")
        print(f"  stop took {stop_s:.2f} s; merged profile {prof_mb:.0f} MB; files: {', '.join(sorted(files))}")
        print(f"  before the stop: {len(before)} answered in 3 s, longest {max(before) * 1000:.1f} ms "
              f"(the machine's own noise: the client and the daemon wait for a core too)")
        print(f"  during the stop: {len(waits)} answered, longest unanswered {waits[-1] * 1000:.1f} ms, "
              f"median {statistics.median(waits) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
              + (f", {len(poller.failures)} failed ({poller.failures[0]})" if poller.failures else ""))
        print("  the longest: " + ", ".join(f"{w * 1000:.0f} ms at {t - t_stop:+.2f} s" for w, t in longest)
              + " (since the stop was asked)")
        print(f"  target: <= 50 ms unanswered: {'met' if waits[-1] <= 0.05 else 'NOT met'}")

        size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in files.values()
                   if os.path.exists(os.path.join(out_dir, f))) / 2**20
        run, took, waits, longest, _, failures, t_del = measure(sock, args.poll_ms,
                                                                ctl + ["--json", "delete", result["id"]])
        if run.returncode != 0:
            sys.exit(f"bench-stop: pamprofctl delete exited {run.returncode}: {run.stderr}")
        removed = json.loads(run.stdout.strip().splitlines()[-1])["result"]["files_removed"]
        print(f"bench-stop: delete of the session ({removed} files, {size:.0f} MB) took {took:.2f} s")
        print(f"  during the delete: {len(waits)} answered, longest unanswered {waits[-1] * 1000:.1f} ms, "
              f"median {statistics.median(waits) * 1000:.1f} ms"
              + (f", {len(failures)} failed ({failures[0]})" if failures else ""))
        print("  the longest: " + ", ".join(f"{w * 1000:.0f} ms at {t - t_del:+.2f} s" for w, t in longest))
        print(f"  target: <= 50 ms unanswered: {'met' if waits[-1] <= 0.05 else 'NOT met'}")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
