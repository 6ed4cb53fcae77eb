#!/usr/bin/python3
"""The profiles pamprofd writes, opened in the real speedscope app.

tests/tools/speedscope-app.py loads speedscope's own release (npm package
speedscope@1.25.0, checked against its published sha512) into headless
Chromium and reads back what the app shows; it also validates each file
against that release's file-format-schema.json. Here it opens what users
open: a py-spy profile merged from chunks and from two PAM processes, and an
Austin profile converted by the daemon. The py-spy runs come from the py-spy
TEST DOUBLE (py-spy cannot be installed here), whose files have py-spy's
shape; the merged file is the daemon's own writing either way. The Austin
one comes from the real Austin 3.7.0 (tests/tools/build-austin.sh).

Skipped, saying why, only when Chromium, python3-jsonschema or the release
cannot be had (tests/install-deps.sh installs the first two).
"""

import json
import os
import re
import signal
import subprocess
import time

from harness import PYTHON, SPEEDSCOPE_CHECK, TESTS, DaemonTest, main, wait_until

APP = os.path.join(TESTS, "tools", "speedscope-app.py")


def seconds(shown):
    """speedscope's duration text ("4.72s", "830.00ms", "1.02min") in seconds."""
    m = re.fullmatch(r"([0-9.]+)(ns|µs|us|ms|s|min|h)", shown)
    assert m, f"unexpected duration {shown!r}"
    scale = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600}[m.group(2)]
    return float(m.group(1)) * scale


class SpeedscopeAppTest(DaemonTest):
    def open_in_app(self, path):
        r = subprocess.run([PYTHON, APP, "--json", path], capture_output=True, text=True, timeout=300)
        if r.returncode == 77:
            self.skipTest(r.stdout.strip())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def ours(self, path):
        r = subprocess.run([PYTHON, SPEEDSCOPE_CHECK, "--json", path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return json.loads(r.stdout)

    def assert_app_shows(self, path, title, rec, threads):
        """The app's title, one profile per thread in the file's order and names, and durations it
        computed inside the session; returns what it showed."""
        app = self.open_in_app(path)
        self.assertEqual(app["title"], title)
        self.assertEqual([p["name"] for p in app["profiles"]], self.ours(path)["threads"])
        names = " ".join(p["name"] for p in app["profiles"])
        for t in threads:
            self.assertIn(t, names)
        for p in app["profiles"]:
            self.assertGreater(seconds(p["duration"]), 0, p)
            self.assertLessEqual(seconds(p["duration"]), rec["duration_seconds"] + 0.5, p)
        return app

    def test_merged_pyspy_profile_opens_with_every_thread(self):
        first = self.target(duty=0.2, threads=2, name="First")
        d = self.daemon(args=("--chunk", "1"))
        sid = d.ctl_json("start", "--scenario", "app")["result"]["id"]
        time.sleep(2.5)
        first.stop(signal.SIGKILL)
        second = self.target(duty=0.2, threads=1, name="Second")
        wait_until(lambda: any(r["target_pid"] == second.pid
                               for r in d.ctl_json("status")["result"]["session"]["profile"]["runs"]),
                   15, what="py-spy on the second PAM")
        time.sleep(1.5)
        rec = d.ctl_json("stop")["result"]
        self.assertEqual(rec["profile"]["state"], "ok", rec["profile"])
        runs = rec["profile"]["runs"]
        self.assertGreaterEqual(len(runs), 3)  # chunks of the first PAM, then the second
        # Each chunk counts from its own run's start: none is cut short (a run on the PAM that came back
        # once got SIGINT 28 ms after it started, from a timer that ticked for the session).
        for a, b in zip(runs, runs[1:]):
            if a["target_pid"] == b["target_pid"]:
                self.assertGreater(b["started_elapsed_seconds"] - a["started_elapsed_seconds"], 0.95, runs)
        path = os.path.join(d.output, rec["files"]["profile"])

        # One profile per thread of both processes; the first PAM's threads cover several chunks.
        app = self.assert_app_shows(path, "py-spy profile", rec,
                                    ['"First-1"', '"First-2"', f'pid {second.pid}: ', '"Second-1"'])
        first_main = next(p for p in app["profiles"] if '"First-1"' in p["name"])
        self.assertGreater(seconds(first_main["duration"]), 1.5, app["profiles"])
        # The second PAM's threads are on the first run's clock: each begins with an empty sample as
        # long as the time before its run (it began at 0 s before). The app takes that sample as idle
        # time, as it must for Time Order to show the thread when it ran: the duration it shows is the
        # work alone, not the lead.
        begins = next(r["started_elapsed_seconds"] for r in runs if r["target_pid"] == second.pid) - \
            runs[0]["started_elapsed_seconds"]
        with open(path) as f:
            doc = json.load(f)
        for shown in app["profiles"]:
            if not shown["name"].startswith(f"pid {second.pid}: "):
                continue
            p = next(p for p in doc["profiles"] if p["name"] == shown["name"])
            self.assertEqual(p["samples"][0], [])
            self.assertAlmostEqual(p["weights"][0], begins, delta=0.1)
            work = sum(w for sample, w in zip(p["samples"], p["weights"]) if sample)
            self.assertAlmostEqual(seconds(shown["duration"]), work, delta=0.01)

    def test_austin_profile_opens_with_every_thread(self):
        from test_austin import SkipAustin, austin
        try:
            austin_path = austin()
        except SkipAustin as e:
            self.skipTest(str(e))
        self.target(duty=0.2, threads=2, name="Worker")
        d = self.daemon(args=("--austin-path", austin_path))
        d.ctl_json("start", "--scenario", "appaustin", "--profiler", "austin")
        time.sleep(3)
        rec = d.ctl_json("stop")["result"]
        self.assertEqual(rec["profile"]["state"], "ok", rec["profile"])
        path = os.path.join(d.output, rec["files"]["profile"])

        self.assert_app_shows(path, "austin profile", rec, ['"Worker-1"', '"Worker-2"'])


if __name__ == "__main__":
    main()
