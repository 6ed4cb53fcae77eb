#!/usr/bin/python3
"""bench-austin: Austin's cost against py-spy's test double's, and converting an hour of Austin.

    tests/bench/bench-austin.py [--build DIR] [--seconds S] [--rounds N] [--minutes M]

Prints figures, asserts nothing. Run it on an otherwise idle machine.

1. The samplers' own CPU and the target's slowdown. Each sampler runs with
   the command line pamprofd gives it (100 Hz / 10 ms, idle stacks kept):
   `py-spy record --pid P --rate 100 --format speedscope --output F --idle`
   (tests/tools/py-spy, the TEST DOUBLE: it reads /proc, not Python stacks,
   so its cost is not py-spy's; no real py-spy can be installed here) and
   `austin -P -i 10000 -t 1000 -p P -o F` (the real Austin 3.7.0), against
   two targets:
     - the PAM stand-in (tests/pam-standin, uvicorn + 3 workers + 8 idle
       threads, mostly asleep, like PAM at idle);
     - a busy target: 5 threads of pure-Python work (GIL-bound, like PAM's
       MAVLink and JSON work) counting rounds, so its throughput shows any
       slowdown.
   Over S seconds per run (after 1 s of warm-up), rounds alternating
   none / double / austin: the sampler's CPU from /proc/PID/stat (% of one
   core), the target's CPU, and the busy target's rounds per second against
   the runs with no sampler.
2. Conversion: a 20 s Austin recording of the stand-in is the template
   bench-austin (the C program next to the build's tests) replays into an
   hour, converts in one piece and as six 10-minute chunks merged, and
   reports MB/s and peak RSS.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
TOP = os.path.dirname(TESTS)
PYTHON = os.environ.get("PAMPROF_PYTHON", "/usr/bin/python3")
CLK_TCK = os.sysconf("SC_CLK_TCK")

BUSY = r"""
import os, signal, sys, threading, time
N = 5
counts = [0] * N
def work(i):
    x = 0
    while True:
        for _ in range(1000):
            x = (x * 31 + 7) % 1000003
        counts[i] += 1
for i in range(N):
    threading.Thread(target=work, args=(i,), daemon=True, name="Busy-%d" % (i + 1)).start()
def report(sig, frame):
    print(sum(counts), time.monotonic(), flush=True)
signal.signal(signal.SIGUSR1, report)
print(os.getpid(), flush=True)
while True:
    time.sleep(1)
"""


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_health(port, timeout=30):
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the stand-in did not answer")


class Busy:
    def __init__(self):
        self.proc = subprocess.Popen([PYTHON, "-c", BUSY], stdout=subprocess.PIPE, text=True)
        self.pid = int(self.proc.stdout.readline())

    def count(self):
        os.kill(self.pid, signal.SIGUSR1)
        n, t = self.proc.stdout.readline().split()
        return int(n), float(t)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def sampler_argv(kind, austin, pid, out):
    if kind == "py-spy double":
        return [os.path.join(TESTS, "tools", "py-spy"), "record", "--pid", str(pid), "--rate", "100",
                "--format", "speedscope", "--output", out, "--idle"]
    return [austin, "-P", "-i", "10000", "-t", "1000", "-p", str(pid), "-o", out]


def measure(kind, austin, pid, seconds, busy=None, workdir="/tmp"):
    """(sampler % of a core, target % of a core, target rounds/s or None) over `seconds`."""
    proc = None
    if kind != "none":
        out = os.path.join(workdir, f"bench.{kind.replace(' ', '-')}.out")
        proc = subprocess.Popen(sampler_argv(kind, austin, pid, out), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    time.sleep(1)
    s0 = cpu_seconds(proc.pid) if proc else 0
    t0 = cpu_seconds(pid)
    c0 = busy.count() if busy else None
    w0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - w0
    s1 = cpu_seconds(proc.pid) if proc else 0
    t1 = cpu_seconds(pid)
    c1 = busy.count() if busy else None
    if proc:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    rate = (c1[0] - c0[0]) / (c1[1] - c0[1]) if busy else None
    return 100 * (s1 - s0) / wall, 100 * (t1 - t0) / wall, rate


def compare(name, pid, austin, seconds, rounds, busy=None):
    kinds = ["none", "py-spy double", "austin"]
    got = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="bench-austin-") as wd:
        for _ in range(rounds):
            for k in kinds:
                got[k].append(measure(k, austin, pid, seconds, busy, wd))
    base = statistics.mean(r[2] for r in got["none"]) if busy else None
    print(f"\n{name} (pid {pid}), {rounds} x {seconds:g} s each:")
    print(f"  {'sampler':15} {'its CPU (% core)':>18} {'target CPU (% core)':>20}"
          + (f" {'target rounds/s':>16} {'slowdown':>9}" if busy else ""))
    for k in kinds:
        s = statistics.mean(r[0] for r in got[k])
        t = statistics.mean(r[1] for r in got[k])
        line = f"  {k:15} {s:18.2f} {t:20.2f}"
        if busy:
            rate = statistics.mean(r[2] for r in got[k])
            line += f" {rate:16.1f} {100 * (base - rate) / base:8.2f}%"
        print(line + ("" if k == "none" else f"   (runs: {', '.join('%.2f' % r[0] for r in got[k])})"))


def record_template(austin, port, path, seconds=20):
    pam = subprocess.Popen([os.path.join(TESTS, "pam-standin", "run-pam-standin"), "--port", str(port),
                            "--threads", "8"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_health(port)
        a = subprocess.Popen([austin, "-P", "-i", "10000", "-t", "1000", "-p", str(pam.pid), "-o", path],
                             stderr=subprocess.DEVNULL)
        time.sleep(seconds)
        a.send_signal(signal.SIGINT)
        a.wait()
    finally:
        pam.terminate()
        pam.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("PAMPROF_BUILD_DIR", os.path.join(TOP, "build")))
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=60)
    a = ap.parse_args()

    r = subprocess.run(["bash", os.path.join(TESTS, "tools", "build-austin.sh"), os.path.join(a.build, "austin")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("bench-austin: no Austin: " + r.stderr.strip())
    austin = r.stdout.strip().splitlines()[-1]
    print(f"Austin: {austin}; py-spy: the TEST DOUBLE tests/tools/py-spy (not py-spy); "
          f"{os.cpu_count()} CPUs; Python {subprocess.run([PYTHON, '-V'], capture_output=True, text=True).stdout.strip()}")

    port = free_port()
    pam = subprocess.Popen([os.path.join(TESTS, "pam-standin", "run-pam-standin"), "--port", str(port),
                            "--threads", "8"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_health(port)
        time.sleep(1)
        compare("PAM stand-in (12 threads, mostly asleep)", pam.pid, austin, a.seconds, a.rounds)
    finally:
        pam.terminate()
        pam.wait()
    busy = Busy()
    try:
        time.sleep(1)
        compare("busy target (5 pure-Python threads)", busy.pid, austin, a.seconds, a.rounds, busy)
    finally:
        busy.stop()

    conv = os.path.join(a.build, "tests", "bench-austin")
    with tempfile.TemporaryDirectory(prefix="bench-austin-") as wd:
        template = os.path.join(wd, "standin.austin")
        record_template(austin, free_port(), template)
        print(f"\nConversion ({conv}):")
        sys.stdout.flush()
        subprocess.run([conv, template, str(a.minutes), "6", wd], check=True)


if __name__ == "__main__":
    main()
