#!/usr/bin/python3
"""Soak: many start/stop cycles with a crowd of status clients in between.

    tests/soak/soak.py [--build DIR] [--cycles 2000] [--clients 100] [--warmup 50]

Starts the real pamprofd (as the integration tests do: its own socket, state,
output and config in a temporary directory, a target regex that matches only
this run's tests/tools/cpu-burner.py) and repeats:

    start (raw request, a scenario name that changes every cycle)
    CLIENTS clients connect at once and each sends `status`; a few misbehave
    (garbage, an unknown command, leaving before the answer), as real ones do
    stop (answered when the CSV, the PNG and _session.json are final)

It prints the daemon's open descriptors and RSS at the start, after the
warm-up and at the end, and fails when the descriptors grew at all or the RSS
grew beyond --rss-tolerance-kb after the warm-up (allocator arenas, Cairo's
and fontconfig's caches settle in the first sessions). Each session's files
are deleted after its stop so the disk stays small; the daemon's records
(state/sessions/*.json, a couple of kB each) are kept, as in real use.

Sessions started in the same second get -2, -3 ... up to -99 after their
stamp; the scenario name cycles through --scenarios names so this run never
comes near that.

Needs a normal build (not ASan: its quarantine makes RSS meaningless); run as
the user the daemon runs as, or root, to read its /proc entries.
Exit 0 when nothing grew and every cycle worked; 1 otherwise.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
STATUS = json.dumps({"version": 1, "cmd": "status"}).encode()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.environ.get("PAMPROF_BUILD_DIR", os.path.join(HERE, "..", "..", "build")),
                   help="meson build directory with daemon/pamprofd (default: $PAMPROF_BUILD_DIR or build)")
    p.add_argument("--cycles", type=int, default=2000, help="start/stop cycles (default 2000)")
    p.add_argument("--clients", type=int, default=100, help="status clients at once per cycle (default 100)")
    p.add_argument("--warmup", type=int, default=50, help="cycles before the RSS reference (default 50)")
    p.add_argument("--interval", type=float, default=0.1, help="the sessions' sampling interval (default 0.1)")
    p.add_argument("--session-seconds", type=float, default=0.25,
                   help="least time a session runs, so it has rows to plot (default 0.25)")
    p.add_argument("--scenarios", type=int, default=20, help="distinct scenario names, in turn (default 20)")
    p.add_argument("--rss-tolerance-kb", type=int, default=512,
                   help="RSS growth allowed after the warm-up (default 512)")
    p.add_argument("--rss-abort-mb", type=int, default=512,
                   help="stop early when the daemon's RSS passes this (a leak found; default 512)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    a = p.parse_args()
    if a.cycles < 1 or a.clients < 1 or a.warmup < 0 or a.warmup >= a.cycles:
        p.error("need cycles >= 1, clients >= 1 and 0 <= warmup < cycles")
    return a


ARGS = parse_args()
# The harness reads the build directory from the environment when imported.
os.environ["PAMPROF_BUILD_DIR"] = os.path.abspath(ARGS.build)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Soak:
    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="pamprof-soak-")
        os.chmod(self.workdir, 0o755)
        self.tag = "pamprofsoak-" + uuid.uuid4().hex[:12]
        self.target = None
        self.daemon = None
        self.problems = []
        self.counts = {"ok": 0, "refused": 0, "abandoned": 0, "rows": 0, "png": 0}

    def request(self, payload, timeout=60):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(timeout)
        try:
            s.connect(self.daemon.socket)
            s.send(json.dumps(payload).encode())
            return json.loads(s.recv(70000))
        finally:
            s.close()

    def settled(self):
        """(fds, rss) once the daemon has closed every client: its descriptor count steady for 0.5 s."""
        pid = self.daemon.proc.pid
        last, since, deadline = fd_count(pid), time.monotonic(), time.monotonic() + 10
        while time.monotonic() - since < 0.5 and time.monotonic() < deadline:
            time.sleep(0.05)
            n = fd_count(pid)
            if n != last:
                last, since = n, time.monotonic()
        return last, rss_kb(pid)

    def crowd(self, cycle):
        """CLIENTS connections at once; every 10th sends garbage, every 25th an unknown command,
        every 33rd leaves without reading. The rest must get ok replies naming the session."""
        clients, expect = [], []
        try:
            for i in range(self.args.clients):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.settimeout(30)
                s.connect(self.daemon.socket)
                clients.append(s)
            for i, s in enumerate(clients):
                if i % 10 == 9:
                    s.send(b'{"version": 1, "cmd": "stat')
                    expect.append("malformed")
                elif i % 25 == 24:
                    s.send(b'{"version": 1, "cmd": "reboot"}')
                    expect.append("unknown-command")
                else:
                    s.send(STATUS)
                    expect.append("ok")
            for i, s in enumerate(clients):
                if i % 33 == 32:
                    s.close()
                    self.counts["abandoned"] += 1
                    continue
                reply = json.loads(s.recv(70000))
                if expect[i] == "ok" and reply.get("ok"):
                    self.counts["ok"] += 1
                elif not reply.get("ok") and reply["error"]["code"] == expect[i]:
                    self.counts["refused"] += 1
                else:
                    self.problems.append(f"cycle {cycle}: client {i} wanted {expect[i]}, got {reply}")
        finally:
            for s in clients:
                s.close()

    def cycle(self, n):
        scenario = f"soak-{n % self.args.scenarios}"
        begin = time.monotonic()
        r = self.request({"version": 1, "cmd": "start", "scenario": scenario, "interval": self.args.interval})
        if not r.get("ok"):
            self.problems.append(f"cycle {n}: start refused: {r}")
            return False
        sid = r["result"]["id"]
        self.crowd(n)
        left = self.args.session_seconds - (time.monotonic() - begin)
        if left > 0:
            time.sleep(left)
        r = self.request({"version": 1, "cmd": "stop"})
        if not r.get("ok") or r["result"].get("id") != sid:
            self.problems.append(f"cycle {n}: stop of {sid} failed: {r}")
            return False
        self.counts["rows"] += r["result"].get("rows", 0) or 0
        files = r["result"].get("files", {})
        if str(files.get("plot", "")).endswith(".png"):
            self.counts["png"] += 1
        # The files are the user's; drop them so 2,000 sessions do not fill the disk.
        for name in os.listdir(self.daemon.output):
            if name.startswith(sid):
                os.unlink(os.path.join(self.daemon.output, name))
        return True

    def run(self):
        a = self.args
        if not os.access(harness.PAMPROFD, os.X_OK):
            print(f"soak: no pamprofd at {harness.PAMPROFD}; build first (meson compile -C {a.build})")
            return 1
        self.target = harness.Target(self.tag, duty=0.05, threads=4)
        self.daemon = harness.Daemon(self.workdir, self.tag,
                                     config_text=f"max_connections = {max(64, a.clients + 8)}\n").start()
        pid = self.daemon.proc.pid
        print(f"soak: pamprofd pid {pid} ({harness.PAMPROFD}), {a.cycles} cycles, {a.clients} clients each, "
              f"interval {a.interval}s, work dir {self.workdir}", flush=True)
        start_fds, start_rss = self.settled()
        print(f"start:            fds {start_fds:4d}  RSS {start_rss:7d} kB", flush=True)
        warm_fds = warm_rss = None
        t0 = time.monotonic()
        for n in range(1, a.cycles + 1):
            if self.daemon.proc.poll() is not None:
                self.problems.append(f"pamprofd exited with {self.daemon.proc.returncode} before cycle {n}")
                break
            if not self.cycle(n) and len(self.problems) > 20:
                break
            if n % 10 == 0 and rss_kb(pid) > a.rss_abort_mb * 1024:
                self.problems.append(f"RSS passed {a.rss_abort_mb} MB after {n} cycles; stopped early")
                print(f"after {n:4d} cycles: RSS {rss_kb(pid)} kB, over --rss-abort-mb; stopping", flush=True)
                break
            if n == a.warmup:
                warm_fds, warm_rss = self.settled()
                print(f"after {n:4d} cycles: fds {warm_fds:4d}  RSS {warm_rss:7d} kB (reference)", flush=True)
            elif n % 250 == 0 or n == a.cycles:
                fds, rss = self.settled()
                rate = n / (time.monotonic() - t0)
                print(f"after {n:4d} cycles: fds {fds:4d}  RSS {rss:7d} kB  ({rate:.1f} cycles/s)", flush=True)
        alive = self.daemon.proc.poll() is None
        end_fds, end_rss = self.settled() if alive else (None, None)
        took = time.monotonic() - t0
        st = self.request({"version": 1, "cmd": "status"})["result"]["daemon"] if alive else {}
        print(f"end:              fds {end_fds}  RSS {end_rss} kB  after {took:.0f}s")
        print(f"replies: {self.counts['ok']} status ok, {self.counts['refused']} refusals as expected, "
              f"{self.counts['abandoned']} clients left early; {self.counts['rows']} rows, "
              f"{self.counts['png']} PNGs; daemon counted {st.get('requests')} requests, "
              f"{st.get('errors')} errors, {st.get('refused_connections')} refused connections, "
              f"{st.get('sessions_started')} sessions")
        if not alive:
            self.problems.append(f"pamprofd died: exit {self.daemon.proc.returncode}")
        else:
            if end_fds != start_fds:
                self.problems.append(f"descriptors grew: {start_fds} at start, {end_fds} at the end")
            if warm_rss is not None and end_rss - warm_rss > a.rss_tolerance_kb:
                self.problems.append(f"RSS grew by {end_rss - warm_rss} kB after the warm-up "
                                     f"({warm_rss} -> {end_rss} kB; tolerance {a.rss_tolerance_kb} kB)")
            if st.get("refused_connections"):
                self.problems.append(f"{st['refused_connections']} connections were refused")
        return 1 if self.problems else 0

    def close(self):
        if self.target:
            self.target.stop(signal.SIGKILL)
        rc = self.daemon.stop() if self.daemon else None
        if rc not in (0, None):
            self.problems.append(f"pamprofd exited with {rc} at SIGTERM")
        if self.args.keep or self.problems:
            print(f"soak: work dir kept: {self.workdir} (daemon log: {self.daemon.log if self.daemon else '-'})")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main():
    soak = Soak(ARGS)
    try:
        soak.run()
    except KeyboardInterrupt:
        soak.problems.append("interrupted")
    finally:
        soak.close()
    for p in soak.problems[:20]:
        print("FAIL:", p)
    print("soak:", "FAILED" if soak.problems else "ok")
    return 1 if soak.problems else 0


if __name__ == "__main__":
    sys.exit(main())
