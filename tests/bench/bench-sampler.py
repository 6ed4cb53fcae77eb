#!/usr/bin/python3
"""bench-sampler.py: the sampler's cost and accuracy, next to psutil's.

    tests/bench/bench-sampler.py [--build-dir DIR] [--samples N] [--seconds S]

Printed, never asserted. Needs Debian's python3-psutil and a build
(`meson setup build && ninja -C build`; the build dir defaults to ./build).

Cost, for a Python target with 20 and with 200 threads under a light load
(each thread wakes every 100 ms for a few microseconds of work):
  - our sampler per sample, in CPU time (user + system), in each
    configuration: the seed's columns; + per-thread; + PSS; both; children;
  - the bare cost of openat + read + close of the same /proc files in a loop;
  - a psutil sampler of the seed's columns (cpu_percent, memory_info().rss,
    memory_percent, an ISO timestamp), as monitor_cpu.py takes them.

Accuracy, for a target that burns a known duty cycle of one core: every 1 s
for S seconds, our figure on stat ticks, our figure on schedstat, and
psutil's, each against the truth: the target logs its own CPU clock
(CLOCK_PROCESS_CPUTIME_ID) at every switch between busy and idle, so the CPU it
used over any window is known exactly, whatever else the machine is doing.

Sub-commands used by the above (run with the same interpreter):
  target --threads N             the light-load target
  busy --duty D --log FILE       the known-duty target and its truth log
  psutil-cost PID N              psutil's CPU time per sample, in us
  psutil-watch PID S             psutil's cpu_percent every 1 s, CSV
"""

import argparse
import bisect
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PERIOD = 0.1  # s, of the busy target's cycle


# ---- targets ----

def cmd_target(args):
    def worker():
        while True:
            time.sleep(0.1)
            sum(range(100))

    for _ in range(args.threads):
        threading.Thread(target=worker, daemon=True).start()
    print("ready", flush=True)
    time.sleep(args.lifetime)


def cmd_busy(args):
    """Spins until the process's CPU clock has advanced by duty * period in
    each period, then sleeps to the period's end, logging (mono, cpu) at
    each switch: CPU(t) is flat while sleeping and rises while spinning."""
    log = open(args.log, "w", buffering=1)
    busy_ns = int(args.duty * PERIOD * 1e9)
    period_ns = int(PERIOD * 1e9)
    next_start = time.monotonic_ns()
    print("ready", flush=True)
    end = next_start + int(args.lifetime * 1e9)
    while next_start < end:
        c0 = time.process_time_ns()
        log.write(f"{time.monotonic_ns()} {c0}\n")
        while time.process_time_ns() - c0 < busy_ns:
            pass
        log.write(f"{time.monotonic_ns()} {time.process_time_ns()}\n")
        next_start += period_ns
        delay = next_start - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)


# ---- psutil's sampler, as the seed's monitor_cpu.py would take it ----

def seed_sample(p, ncpus):
    cpu = p.cpu_percent(interval=None) / ncpus
    rss_mb = p.memory_info().rss / (1024 * 1024)
    mem_pct = p.memory_percent()
    stamp = datetime.datetime.now().isoformat()
    return cpu, rss_mb, mem_pct, stamp


def cmd_psutil_cost(args):
    import psutil
    p = psutil.Process(args.pid)
    ncpus = psutil.cpu_count()
    for _ in range(20):
        seed_sample(p, ncpus)
    t0 = time.process_time()
    for _ in range(args.n):
        seed_sample(p, ncpus)
    print(f"{(time.process_time() - t0) / args.n * 1e6:.2f}")


def cmd_psutil_watch(args):
    import psutil
    p = psutil.Process(args.pid)
    ncpus = psutil.cpu_count()
    start = time.monotonic_ns()
    p.cpu_percent(interval=None)
    print(f"{start},", flush=True)
    deadline = start
    for _ in range(int(args.seconds)):
        deadline += 1_000_000_000
        time.sleep(max(0, deadline - time.monotonic_ns()) / 1e9)
        t = time.monotonic_ns()
        cpu = p.cpu_percent(interval=None) / ncpus
        print(f"{t},{cpu:.4f}", flush=True)


# ---- the orchestra ----

def wait_ready(proc):
    line = proc.stdout.readline()
    if line.strip() != "ready":
        sys.exit(f"target did not start: {line!r}")


def start(*argv):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), *argv],
                            stdout=subprocess.PIPE, text=True)


def run(*argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def bench_cost(bench, nthreads, samples):
    target = start("target", "--threads", str(nthreads))
    try:
        wait_ready(target)
        time.sleep(0.5)
        ours = {}
        for line in run(bench, "cost", str(target.pid), str(samples)).splitlines():
            f = dict(kv.split("=") for kv in line.split())
            ours[f["mode"]] = f
        psutil_us = float(run(sys.executable, os.path.abspath(__file__), "psutil-cost",
                              str(target.pid), str(max(samples // 10, 200))))
    finally:
        target.kill()
        target.wait()

    print(f"\nCPU time per sample, target: Python with {nthreads} threads, light load")
    print(f"  {'configuration':<14} {'sampler':>10} {'bare reads':>11} {'ratio':>6}")
    for mode, f in ours.items():
        print(f"  {mode:<14} {float(f['sampler_us']):>8.1f}us {float(f['bare_us']):>9.1f}us "
              f"{float(f['ratio']):>6.2f}")
    print(f"  {'psutil (seed)':<14} {psutil_us:>8.1f}us")


def truth_cpu(log, ncpus):
    """CPU(t) from the busy target's log: piecewise linear, in ns."""
    pts = []
    with open(log) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 2:
                pts.append((int(parts[0]), int(parts[1])))

    def cpu_at(t):
        i = bisect.bisect_right(pts, (t, float("inf")))
        if i == 0 or i >= len(pts):
            return None
        (t0, c0), (t1, c1) = pts[i - 1], pts[i]
        return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c0

    def share(a, b):
        ca, cb = cpu_at(a), cpu_at(b)
        if ca is None or cb is None:
            return None
        return 100.0 * (cb - ca) / (b - a) / ncpus

    return share


def errors(series, share):
    """series: [(mono_ns, figure)], the first being the baseline."""
    errs, vals = [], []
    for (a, _), (b, v) in zip(series, series[1:]):
        truth = share(a, b)
        if truth is not None and v is not None:
            errs.append(v - truth)
            vals.append(truth)
    if not errs:
        return None
    return (statistics.mean(abs(e) for e in errs), max(abs(e) for e in errs),
            statistics.mean(errs), statistics.mean(vals), len(errs))


def bench_accuracy(bench, duty, seconds):
    ncpus = os.cpu_count()
    fd, log = tempfile.mkstemp(prefix="bench-sampler-busy-", suffix=".log")
    os.close(fd)
    target = start("busy", "--duty", str(duty), "--log", log, "--lifetime", str(seconds + 5))
    try:
        wait_ready(target)
        time.sleep(0.3)
        ps = start("psutil-watch", str(target.pid), str(seconds))
        ours = run(bench, "watch", str(target.pid), str(seconds))
        ps_out = ps.communicate()[0]
        time.sleep(2 * PERIOD)  # a log point after the last sample
    finally:
        target.kill()
        target.wait()
    share = truth_cpu(log, ncpus)
    os.unlink(log)

    ticks, exact, psu = [], [], []
    for line in ours.splitlines():
        t, a, b = line.split(",")
        ticks.append((int(t), float(a) if a else None))
        exact.append((int(t), float(b) if b else None))
    for line in ps_out.splitlines():
        t, a = line.split(",")
        psu.append((int(t), float(a) if a else None))

    print(f"\nCPU accuracy, target burning {duty:.0%} of one core "
          f"({100 * duty / ncpus:.2f} % of this {ncpus}-CPU machine), {seconds} samples of 1 s,")
    print("share of the machine, against the target's own CPU clock:")
    print(f"  {'source':<22} {'mean |err|':>10} {'max |err|':>10} {'mean err':>9} {'truth':>7} {'n':>4}")
    for name, s in (("ours, stat ticks", ticks), ("ours, schedstat", exact), ("psutil cpu_percent", psu)):
        e = errors(s, share)
        if e:
            print(f"  {name:<22} {e[0]:>9.3f}pt {e[1]:>9.3f}pt {e[2]:>+8.3f}pt {e[3]:>6.2f}% {e[4]:>4}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    p = sub.add_parser("target")
    p.add_argument("--threads", type=int, default=20)
    p.add_argument("--lifetime", type=float, default=600)
    p = sub.add_parser("busy")
    p.add_argument("--duty", type=float, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--lifetime", type=float, default=600)
    p = sub.add_parser("psutil-cost")
    p.add_argument("pid", type=int)
    p.add_argument("n", type=int)
    p = sub.add_parser("psutil-watch")
    p.add_argument("pid", type=int)
    p.add_argument("seconds", type=float)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--seconds", type=int, default=20)
    args = ap.parse_args()

    if args.cmd == "target":
        return cmd_target(args)
    if args.cmd == "busy":
        return cmd_busy(args)
    if args.cmd == "psutil-cost":
        return cmd_psutil_cost(args)
    if args.cmd == "psutil-watch":
        return cmd_psutil_watch(args)

    bench = os.path.join(args.build_dir, "tests", "bench-sampler")
    if not os.access(bench, os.X_OK):
        sys.exit(f"{bench}: not built (meson setup {args.build_dir} && ninja -C {args.build_dir})")
    print(f"bench-sampler: {os.cpu_count()} CPUs, {os.uname().release}")
    for n in (20, 200):
        bench_cost(bench, n, args.samples)
    for duty in (0.25, 0.6):
        bench_accuracy(bench, duty, args.seconds)


if __name__ == "__main__":
    main()
