#!/usr/bin/python3
"""What the flight recorder costs: the stand-in with 20 threads, the recorder on, then off.

    tests/bench/bench-recorder.py [--build DIR] [--seconds N] [--rate HZ] [--window S] [--every S]

For each phase (recorder on, recorder off) it starts the stand-in
(--threads 20 --on-demand) and pamprofd, waits for a full window, then for
--seconds (default 300) measures from /proc:
  - the recorder's CPU: Austin's and the aggregator's (the daemon's children),
    and the daemon's own (its 1 s sampler, the stream's bytes), % of one core;
  - their memory: Austin's and the aggregator's RSS, printed every --every s
    (default 30) so flat is visible;
  - PAM's throughput: GET /health as fast as one client can, requests/s.
It prints the figures; it asserts nothing. Austin: $PAMPROF_AUSTIN or
tests/tools/build-austin.sh's.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
os.environ.setdefault("PAMPROF_TESTS_DIR", os.path.join(HERE, ".."))

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        v = s[s.rindex(")") + 2:].split()
        return int(v[11]) + int(v[12])
    except (OSError, ValueError):
        return None


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE / 1048576
    except (OSError, ValueError):
        return None


def children(pid):
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
        except OSError:
            continue
        if int(s[s.rindex(")") + 2:].split()[1]) == pid:
            out[int(p)] = s[s.index("(") + 1:s.rindex(")")]
    return out


def hammer(port, stop, counts):
    url = f"http://127.0.0.1:{port}/health"
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read()
            counts[0] += 1
        except OSError:
            counts[1] += 1


def phase(args, on, austin):
    from harness import PAMPROFCTL, PAMPROFD, STANDIN, wait_until
    from test_austin import healthy
    from test_standin import free_port

    work = tempfile.mkdtemp(prefix="bench-recorder-")
    port = free_port()
    pam = subprocess.Popen([STANDIN, "--port", str(port), "--threads", "20", "--on-demand"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conf = os.path.join(work, "pamprofd.conf")
    with open(conf, "w") as f:
        f.write(f"recorder = {'on' if on else 'off'}\nrecorder_window = {args.window}\nrecorder_rate = {args.rate}\n"
                "recorder_cpu_percent = 0\nrecorder_rss_mb = 0\nrecorder_threads_jump = 0\nrecorder_on_exit = no\n")
    sock = os.path.join(work, "s.sock")
    d = subprocess.Popen([PAMPROFD, "--config", conf, "--socket", sock, "--state-dir", os.path.join(work, "state"),
                          "--output-dir", os.path.join(work, "out"), "--target-match",
                          f"petal_app_manager\\.main:app .*--port {port}", "--scan-interval", "1",
                          "--austin-path", austin], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: healthy(port), 60, interval=0.2, what="the stand-in")
        label = "on " if on else "off"
        warm = args.window + 5 if on else 10
        print(f"[{label}] warming up {warm} s (a full window)", flush=True)
        time.sleep(warm)
        kids = children(d.pid)
        austins = [p for p, c in kids.items() if c == "austin"]
        aggs = [p for p, c in kids.items() if c != "austin"]
        watched = {"daemon": [d.pid], "austin": austins, "aggregator": aggs}
        t0 = {k: sum(cpu_ticks(p) or 0 for p in v) for k, v in watched.items()}
        stop, counts = threading.Event(), [0, 0]
        th = threading.Thread(target=hammer, args=(port, stop, counts), daemon=True)
        start = time.monotonic()
        th.start()
        rss_series = []
        while time.monotonic() - start < args.seconds:
            time.sleep(args.every)
            el = time.monotonic() - start
            a = sum(rss_mb(p) or 0 for p in austins)
            g = sum(rss_mb(p) or 0 for p in aggs)
            rss_series.append((el, a, g))
            if on:
                print(f"[{label}] t={el:5.0f}s  Austin RSS {a:5.1f} MB  aggregator RSS {g:5.1f} MB", flush=True)
        stop.set()
        th.join()
        el = time.monotonic() - start
        cpu = {k: ((sum(cpu_ticks(p) or 0 for p in v) - t0[k]) / CLK_TCK) / el * 100 for k, v in watched.items()}
        status = subprocess.run([PAMPROFCTL, "--socket", sock, "status"], capture_output=True, text=True).stdout
        return {"cpu": cpu, "rss": rss_series, "rps": counts[0] / el, "errors": counts[1], "status": status}
    finally:
        d.terminate()
        d.wait(30)
        pam.kill()
        pam.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--rate", type=int, default=5, help="Austin's rate, Hz (default 5, the daemon's recorder_rate)")
    ap.add_argument("--window", type=int, default=120)
    ap.add_argument("--every", type=float, default=30)
    args = ap.parse_args()
    os.environ["PAMPROF_BUILD_DIR"] = os.path.abspath(args.build)
    from test_austin import austin
    path = austin()
    on = phase(args, True, path)
    off = phase(args, False, path)
    c = on["cpu"]
    total = c["austin"] + c["aggregator"] + (c["daemon"] - off["cpu"]["daemon"])
    print(f"\nrecorder on, rate {args.rate} Hz, window {args.window} s, stand-in with 20 extra threads, "
          f"{args.seconds:.0f} s measured")
    print(f"CPU, % of one core: Austin {c['austin']:.2f}, aggregator {c['aggregator']:.2f}, daemon {c['daemon']:.2f} "
          f"(off: {off['cpu']['daemon']:.2f}); the recorder's total {total:.2f}")
    a = [r[1] for r in on["rss"]]
    g = [r[2] for r in on["rss"]]
    if a:
        print(f"RSS, MB: Austin {min(a):.1f}..{max(a):.1f}, aggregator {min(g):.1f}..{max(g):.1f}; "
              f"together at most {max(x + y for x, y in zip(a, g)):.1f}")
    print(f"PAM /health: {on['rps']:.0f} req/s with the recorder on, {off['rps']:.0f} off "
          f"({(on['rps'] / off['rps'] - 1) * 100 if off['rps'] else 0:+.1f} %); errors {on['errors']}/{off['errors']}")
    print("status (on):\n" + "\n".join("  " + line for line in on["status"].splitlines()))


if __name__ == "__main__":
    main()
