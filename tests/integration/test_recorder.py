#!/usr/bin/python3
"""The flight recorder (recorder = on) against the PAM stand-in with the real Austin.

The stand-in runs with --on-demand: SIGUSR1 makes a CPU spike in a thread of
its own (geofence_recompute_spike, named GeofenceSpike), SIGUSR2 a memory jump
(telemetry_cache_grow keeps 150 MiB more), GET /debug/threads 20 more threads,
GET /debug/exit an exit. Windows are short (10 s before, 3 s after) so each
test takes tens of seconds; every wait is generous (a loaded 2-core machine),
and no assertion is on a tight time. The CPU spike's capture is also opened in
the real speedscope app (tests/tools/speedscope-app.py, headless Chromium).
"""

import json
import os
import signal
import subprocess
import time
import urllib.request

from harness import NCPU, PYTHON, STANDIN, TESTS, DaemonTest, main, read_csv, wait_until
from test_austin import SkipAustin, austin, check_speedscope, healthy
from test_standin import free_port

APP = os.path.join(TESTS, "tools", "speedscope-app.py")
WINDOW = 10
AFTER = 3
SPIKE_S = 6


def recorder_config(**keys):
    conf = {"recorder": "on", "recorder_window": WINDOW, "recorder_after": AFTER, "recorder_cooldown": 0,
            "recorder_rss_mb": 0, "recorder_threads_jump": 0}
    conf.update(keys)
    return "".join(f"{k} = {v}\n" for k, v in conf.items())


def frame_times(prof, profile, name):
    """The seconds (from the profile's start) at which profile's samples have frame `name` on their stack."""
    frames = prof["shared"]["frames"]
    at, times = profile["startValue"], []
    for stack, weight in zip(profile["samples"], profile["weights"]):
        if any(frames[i]["name"] == name for i in stack):
            times.append(at)
        at += weight
    return times


def children(pid, comm):
    """Pids of pid's children whose comm is comm."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid and name == comm:
            found.append(int(p))
    return found


class RecorderTest(DaemonTest):
    def setUp(self):
        super().setUp()
        try:
            self.austin = austin()
        except SkipAustin as e:
            self.skipTest(str(e))

    def daemon(self, *a, args=(), **kw):
        return super().daemon(*a, args=("--austin-path", self.austin, *args), **kw)

    def start(self, d, scenario):
        return d.ctl_json("start", "--scenario", scenario, "--profiler", "austin")["result"]["id"]

    def pam(self, *extra, env=None):
        self.port = free_port()
        e = dict(os.environ, PAM_STANDIN_SPIKE_S=str(SPIKE_S))
        e.update(env or {})
        pam = subprocess.Popen([STANDIN, "--port", str(self.port), "--on-demand", *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e)
        self.addCleanup(lambda: (pam.kill(), pam.wait()))
        return pam

    def recorder_daemon(self, pam, **keys):
        d = self.daemon(match=f"petal_app_manager\\.main:app .*--port {self.port}",
                        config_text=recorder_config(**keys))
        wait_until(lambda: d.ctl_json("status")["result"]["target"].get("pid") == pam.pid, 60, what="the stand-in")
        wait_until(lambda: healthy(self.port), 60, interval=0.2, what="the stand-in's /health")
        return d

    def recorder(self, d):
        return d.ctl_json("status")["result"]["recorder"]

    def wait_held(self, d, seconds):
        """Until the recorder holds `seconds` of rows and of stacks (the window before a trigger)."""
        return wait_until(lambda: (lambda r: r["seconds_held"] >= seconds and r.get("stack_seconds_held", 0)
                                   >= seconds and r)(self.recorder(d)), seconds + 60, interval=0.5,
                          what=f"the recorder to hold {seconds} s")

    def get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return json.load(r)

    def captures(self, d, state=None):
        rows = d.ctl_json("list")["result"]["sessions"]
        return [r for r in rows if "capture" in r["id"] and (state is None or r["state"] == state)]

    def session_json(self, d, sid):
        with open(os.path.join(d.output, sid + "_session.json")) as f:
            return json.load(f)

    def wait_capture(self, d, n=1, timeout=90):
        try:
            return wait_until(lambda: len(self.captures(d, "captured")) >= n and self.captures(d, "captured"),
                              timeout, interval=0.5, what=f"{n} capture(s)")
        except AssertionError as e:
            raise AssertionError(f"{e}\nrecorder: {self.recorder(d)}\nsessions: {self.captures(d)}\n"
                                 f"log:\n{d.log_text()}") from None

    def test_cpu_spike_is_captured_with_the_window_before_it(self):
        pam = self.pam()
        # 50 % for 2 rows: the spike is one core, but a loaded 2-core machine may not give it all
        d = self.recorder_daemon(pam, recorder_cpu_percent=50, recorder_cpu_samples=2, recorder_cpu_rearm_percent=20)
        self.wait_held(d, WINDOW + 1)
        rec = self.recorder(d)
        self.assertEqual(rec["austin"], "running")
        self.assertEqual(rec["trigger_state"], "armed")
        spiked = time.time()
        pam.send_signal(signal.SIGUSR1)
        # the trigger needs 3 rows over 80 %, then AFTER seconds; a few more for the files
        caps = self.wait_capture(d)
        appeared = time.time() - spiked
        self.assertTrue(caps, d.log_text())
        cap = caps[0]
        sid = cap["id"]
        self.assertIn("capture-cpu", sid)
        doc = self.session_json(d, sid)
        self.assertEqual(doc["state"], "captured")
        self.assertEqual(doc["capture"]["trigger"], "cpu")
        fired = doc["capture"]["fired_elapsed_seconds"]
        self.assertGreaterEqual(fired, WINDOW - 1)
        # the CSV starts a window before the trigger
        _, rows = read_csv(os.path.join(d.output, doc["files"]["cpu_csv"]))
        self.assertGreaterEqual(len(rows), WINDOW)
        first = float(rows[0]["elapsed_seconds"])
        self.assertLessEqual(first, fired - (WINDOW - 1), rows[:2])
        self.assertGreater(max(float(r["cpu_percent"]) for r in rows) * NCPU, 60)  # of the machine: one core
        # the profile: valid, the spike's function in it, on a thread named as the OS names it
        self.assertEqual(doc["profile"]["state"], "ok", doc["profile"])
        path = os.path.join(d.output, doc["files"]["profile"])
        summary = check_speedscope(path)
        self.assertGreaterEqual(summary["duration"], WINDOW - 1)
        with open(path) as f:
            prof = json.load(f)
        names = {fr["name"] for fr in prof["shared"]["frames"]}
        self.assertIn("geofence_recompute_spike", names)
        # on the stack, not only at its top: the spike's sum() runs a generator, so many of its
        # samples have <genexpr> above it (at 5 Hz, now and then every one of them)
        spike_threads = [p for p in prof["profiles"] if frame_times(prof, p, "geofence_recompute_spike")]
        self.assertEqual(len(spike_threads), 1, [p["name"] for p in spike_threads])
        spike = spike_threads[0]
        self.assertRegex(spike["name"], r'^Thread \d+ "GeofenceSpike"$')
        # the spike is in the seconds around the trigger: it began at most SPIKE_S before it fired,
        # and not after (give or take the 2 s in which Austin's lines reach the aggregator, which
        # stamps each with the second it reads it)
        times = frame_times(prof, spike, "geofence_recompute_spike")
        self.assertGreaterEqual(min(times), fired - SPIKE_S - 2, (min(times), fired))
        self.assertLessEqual(min(times), fired + 2, (min(times), fired))
        # the record names the thread that was busy, and the profile opens on it
        busiest = doc["capture"]["busiest_thread"]
        self.assertEqual(busiest["name"], "GeofenceSpike", busiest)
        self.assertGreater(busiest["cpu_core_percent"], 10, busiest)  # its mean over 8 rows, 5 of them spiking
        self.assertIs(prof["profiles"][prof["activeProfileIndex"]], spike)
        # the report names the trigger, the thread and the spike's code
        rep = d.ctl("report", sid, check=0)
        self.assertIn("geofence_recompute_spike", rep.stdout)
        self.assertRegex(rep.stdout, r"captured by the flight recorder, trigger cpu at [0-9.]+ s: CPU at \d+% of a core")
        self.assertRegex(rep.stdout, r'the busiest thread around it: Thread \d+ "GeofenceSpike", \d+% of a core')
        print("# " + "\n# ".join(rep.stdout.splitlines()[:3]))
        # and `show` says it
        shown = d.ctl("show", sid, check=0).stdout
        self.assertRegex(shown, r"Capture: +trigger cpu at [0-9.]+ ?s: CPU at \d+% of a core for \d+ samples")
        self.assertRegex(shown, r'busiest thread: Thread \d+ "GeofenceSpike", \d+% of a core')
        print("# " + "\n# ".join(line for line in shown.splitlines() if "Capture:" in line or "busiest" in line))
        # the real speedscope app opens it on the spike's thread, whose functions it lists
        app = subprocess.run([PYTHON, APP, "--json", "--sandwich", path], capture_output=True, text=True,
                             timeout=300)
        if app.returncode != 77:
            self.assertEqual(app.returncode, 0, app.stdout + app.stderr)
            shown = json.loads(app.stdout.strip().splitlines()[-1])
            self.assertEqual(shown["active"]["name"], spike["name"], shown["active"])
            self.assertIn("geofence_recompute_spike", [f["name"] for f in shown["functions"]], shown["functions"])
        rec = self.recorder(d)
        self.assertEqual(rec["captures"], 1)
        self.assertGreaterEqual(rec["captures_last_hour"], 1)
        print(f"# capture appeared {appeared:.1f} s after the spike began (after = {AFTER} s)")
        if app.returncode == 77:
            self.skipTest(f"the capture is right, but it was not opened in the speedscope app: {app.stdout.strip()}")

    def test_snapshot_by_hand_names_threads_with_threads_off(self):
        # threads = no leaves _threads.csv out; the recorder still names Austin's threads
        # with metrics and a Pyroscope URL: the capture is counted and spooled as a session is
        prom_dir = os.path.join(self.workdir, "textfile")
        os.mkdir(prom_dir)
        pam = self.pam()
        d = self.recorder_daemon(pam, threads="no", recorder_cpu_percent=0, metrics_dir=prom_dir,
                                 metrics_interval=1, pyroscope_url="http://127.0.0.1:9")
        self.wait_held(d, 5)
        r = d.ctl_json("snapshot", "--before", "5", "--after", "1", "--scenario", "by-hand", timeout=120)
        sid = r["result"]["id"]
        self.assertIn("by-hand", sid)
        doc = self.session_json(d, sid)
        self.assertEqual(doc["state"], "captured")
        self.assertEqual(doc["capture"]["trigger"], "manual")
        self.assertNotIn("threads_csv", doc["files"])
        summary = check_speedscope(os.path.join(d.output, doc["files"]["profile"]))
        threads = " ".join(summary["threads"])
        for name in ("MainThread", "MAVLinkWorker-1", "RedisWorker-1"):
            self.assertIn(f'"{name}"', threads)

        def prom():
            with open(os.path.join(prom_dir, "pamprofd.prom")) as f:
                return f.read()
        wait_until(lambda: 'pamprofd_recorder_captures_total{trigger="manual"} 1' in prom(), 30, interval=0.5,
                   what="the capture counted in pamprofd.prom")
        self.assertIn('pamprofd_recorder_captures_total{trigger="cpu"} 0', prom())
        spool = os.path.join(d.state, "upload")
        wait_until(lambda: os.path.exists(os.path.join(spool, sid + ".json")), 30, interval=0.5,
                   what="the capture in the Pyroscope spool")

    def test_exit_is_captured(self):
        pam = self.pam()
        d = self.recorder_daemon(pam, recorder_cpu_percent=0)
        self.wait_held(d, 5)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/debug/exit", timeout=5)
        except OSError:
            pass  # it exits before it answers
        pam.wait(30)
        caps = self.wait_capture(d, timeout=60)
        doc = self.session_json(d, caps[0]["id"])
        self.assertIn("capture-exit", caps[0]["id"])
        self.assertEqual(doc["capture"]["trigger"], "exit")
        _, rows = read_csv(os.path.join(d.output, doc["files"]["cpu_csv"]))
        self.assertGreaterEqual(len(rows), 4)
        self.assertIn(doc["profile"]["state"], ("ok", "partial"), doc["profile"])
        check_speedscope(os.path.join(d.output, doc["files"]["profile"]))

    def the_capture(self, d, trigger, rise):
        """The one capture, fired by trigger with a rise of at least `rise` over the window's lowest:
        its id, its _session.json and the record's "capture"."""
        sid = self.wait_capture(d)[0]["id"]
        self.assertIn(f"capture-{trigger}", sid)
        doc = self.session_json(d, sid)
        cap = doc["capture"]
        self.assertEqual(cap["trigger"], trigger)
        self.assertGreaterEqual(cap["value"] - cap["baseline"], rise, cap)
        return sid, doc, cap

    def test_memory_jump_is_captured(self):
        pam = self.pam()
        d = self.recorder_daemon(pam, recorder_cpu_percent=0, recorder_rss_mb=100)
        self.wait_held(d, WINDOW)
        pam.send_signal(signal.SIGUSR2)  # 150 MiB more, kept
        sid, doc, cap = self.the_capture(d, "rss", 100)
        self.assertEqual(cap["threshold"], 100)
        # the CSV holds the window before the jump (flat) and the jump
        _, rows = read_csv(os.path.join(d.output, doc["files"]["cpu_csv"]))
        fired = cap["fired_elapsed_seconds"]
        before = [float(r["memory_mb"]) for r in rows if float(r["elapsed_seconds"]) < fired - 2]
        after = [float(r["memory_mb"]) for r in rows if float(r["elapsed_seconds"]) >= fired]
        self.assertGreaterEqual(len(before), WINDOW - 4, rows)
        self.assertGreaterEqual(min(after) - max(before), 100, (before, after))
        self.assertIn(doc["profile"]["state"], ("ok", "partial"), doc["profile"])
        check_speedscope(os.path.join(d.output, doc["files"]["profile"]))
        rep = d.ctl("report", sid, check=0).stdout
        self.assertRegex(rep, r"captured by the flight recorder, trigger rss at [0-9.]+ s: RSS")

    def test_thread_jump_is_captured(self):
        pam = self.pam(env={"PAM_STANDIN_THREADS_JUMP": "20"})
        d = self.recorder_daemon(pam, recorder_cpu_percent=0, recorder_threads_jump=10)
        self.wait_held(d, 5)
        threads = self.get("/debug/threads")["threads"]
        sid, doc, cap = self.the_capture(d, "threads", 10)
        self.assertLessEqual(cap["value"], threads + 2, cap)
        # the new threads are in _threads.csv after the trigger, by the names PAM gave them
        _, rows = read_csv(os.path.join(d.output, doc["files"]["threads_csv"]))
        named = {r["thread_name"] for r in rows if r["thread_name"].startswith("LinkRetry-")}
        self.assertEqual(len(named), 20, sorted(named))
        rep = d.ctl("report", sid, check=0).stdout
        self.assertRegex(rep, r"captured by the flight recorder, trigger threads at [0-9.]+ s: ")

    def test_full_disk_loses_the_capture_not_the_daemon(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a small tmpfs")
        small = os.path.join(self.workdir, "small")
        os.mkdir(small)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        self.addCleanup(lambda: subprocess.run(["umount", "-l", small]))
        pam = self.pam()
        d = self.daemon(match=f"petal_app_manager\\.main:app .*--port {self.port}",
                        config_text=recorder_config(recorder_cpu_percent=0) + "min_free_mb = 0\n",
                        args=("--output-dir", small))
        wait_until(lambda: d.ctl_json("status")["result"]["target"].get("pid") == pam.pid, 60, what="the stand-in")
        self.wait_held(d, 5)
        ballast = os.path.join(small, "ballast")

        def fill(path):  # the filesystem full to its last block
            with open(path, "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 4096)
                except OSError:
                    pass
        fill(ballast)
        r = d.ctl_json("snapshot", "--before", "5", "--after", "1", "--scenario", "full", check=None, timeout=120)
        # the capture is lost, and says why: in the answer or in its record
        if r["ok"]:
            rec = d.ctl_json("show", r["result"]["id"])["result"]
            self.assertEqual(rec["state"], "failed", rec)
            reason = rec["end_reason"]
        else:
            reason = r["error"]["message"]
        self.assertIn("No space left on device", reason, r)
        print(f"# on a full disk: {reason}")
        os.unlink(ballast)
        # the disk fills while a capture is being written (its window of rows, then its stacks)
        r = d.ctl_json("snapshot", "--before", "5", "--after", "3", "--scenario", "filling", "--no-wait")
        sid = r["result"]["id"]
        fill(ballast)
        rec = wait_until(lambda: (lambda x: x["state"] not in ("running", "stopping") and x)(
            d.ctl_json("show", sid)["result"]), 60, interval=0.5, what="the capture to end")
        # what could not be written is lost, and its record says why; what was written stays
        why = rec["end_reason"] if rec["state"] == "failed" else rec["profile"].get("reason", "")
        self.assertIn("No space left on device", why, rec)
        self.assertFalse(os.path.exists(os.path.join(small, sid + "_profile.speedscope.json"))
                         and rec["profile"]["state"] == "lost")
        _, rows = read_csv(os.path.join(small, rec["files"]["cpu_csv"]))
        self.assertGreaterEqual(len(rows), 4)
        # the plot after it: drawn, or its failure in the record
        rec = wait_until(lambda: (lambda x: ("plot" in x["files"] or "plot-failed" in
                                             [e["type"] for e in x["events"]]) and x)(d.ctl_json("show", sid)["result"]),
                         60, interval=0.5, what="the plot, or its failure, in the record")
        print(f"# the disk filling during a capture: {why}; "
              f"{[e['message'] for e in rec['events'] if e['type'] == 'plot-failed'] or 'plotted'}")
        # never the daemon: it answers, the recorder goes on, and with room the next capture is whole
        self.assertTrue(d.answers())
        self.assertEqual(self.recorder(d)["austin"], "running")
        os.unlink(ballast)
        r = d.ctl_json("snapshot", "--before", "5", "--after", "1", "--scenario", "room", timeout=120)
        with open(os.path.join(small, r["result"]["id"] + "_session.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["state"], "captured", doc)
        self.assertEqual(doc["profile"]["state"], "ok", doc["profile"])
        check_speedscope(os.path.join(small, doc["files"]["profile"]))

    def test_flapping_is_limited(self):
        pam = self.pam(env={"PAM_STANDIN_SPIKE_S": "4"})
        d = self.recorder_daemon(pam, recorder_max_per_hour=2, recorder_cpu_percent=50, recorder_cpu_samples=2,
                                 recorder_cpu_rearm_percent=20)
        self.wait_held(d, 3)
        for _ in range(4):  # four spikes, each long enough to fire, each dropping back to re-arm
            pam.send_signal(signal.SIGUSR1)
            time.sleep(4 + 4)
        self.wait_capture(d, 2, timeout=60)
        time.sleep(AFTER + 5)
        rec = self.recorder(d)
        self.assertEqual(len(self.captures(d)), 2, self.captures(d))
        self.assertEqual(rec["captures_last_hour"], 2)
        self.assertGreaterEqual(rec["held_back"], 1)
        self.assertIn("hourly limit", rec["trigger_state"])

    def test_cooldown_holds_back(self):
        pam = self.pam(env={"PAM_STANDIN_SPIKE_S": "4"})
        d = self.recorder_daemon(pam, recorder_cooldown=600, recorder_cpu_percent=50, recorder_cpu_samples=2,
                                 recorder_cpu_rearm_percent=20)
        self.wait_held(d, 3)
        pam.send_signal(signal.SIGUSR1)
        self.wait_capture(d, 1, timeout=60)
        time.sleep(4)
        pam.send_signal(signal.SIGUSR1)
        wait_until(lambda: self.recorder(d)["held_back"] >= 1, 30, interval=0.5, what="a held-back trigger")
        self.assertEqual(len(self.captures(d)), 1)
        self.assertIn("cooldown", self.recorder(d)["trigger_state"])

    def test_austin_killed_mid_window(self):
        pam = self.pam()
        d = self.recorder_daemon(pam, recorder_cpu_percent=0)
        self.wait_held(d, 4)
        austins = children(d.proc.pid, "austin")
        self.assertEqual(len(austins), 1, austins)
        os.kill(austins[0], signal.SIGKILL)
        # it comes back (with a back-off) while PAM runs
        wait_until(lambda: [p for p in children(d.proc.pid, "austin") if p != austins[0]], 60, interval=0.5,
                   what="Austin restarted")
        time.sleep(2)
        r = d.ctl_json("snapshot", "--before", str(WINDOW), "--after", "1", timeout=120)
        doc = self.session_json(d, r["result"]["id"])
        prof = doc["profile"]
        self.assertIn(prof["state"], ("partial", "lost"), prof)
        self.assertIn("Austin", prof.get("reason", ""), prof)
        self.assertTrue(d.answers())
        self.assertEqual(self.recorder(d)["austin"], "running")

    def test_a_session_pauses_the_recorders_austin(self):
        pam = self.pam()
        d = self.recorder_daemon(pam, recorder_cpu_percent=0)
        self.wait_held(d, 3)
        sid = self.start(d, scenario="user")
        rec = wait_until(lambda: (lambda r: r["austin"] == "paused" and r)(self.recorder(d)), 30, interval=0.3,
                         what="the recorder's Austin to pause")
        self.assertIn("paused_for", rec)
        self.assertEqual(len(children(d.proc.pid, "austin")), 1)  # the session's only: PAM sampled once
        rows_before = rec["rows"]
        time.sleep(3)
        d.ctl_json("stop")
        wait_until(lambda: self.recorder(d)["austin"] == "running", 30, interval=0.3,
                   what="the recorder's Austin to resume")
        rec = self.recorder(d)
        self.assertGreaterEqual(rec["rows"], min(rows_before + 2, WINDOW + AFTER))  # rows went on
        self.assertTrue(os.path.exists(os.path.join(d.output, sid + "_session.json")))

    def test_status_shows_the_recorder(self):
        pam = self.pam()
        d = self.recorder_daemon(pam)
        self.wait_held(d, 3)
        text = d.ctl("status", check=0).stdout
        self.assertRegex(text, r"Recorder: holding \d+s of rows, \d+s of stacks \(window 10s \+ 3s after\); "
                               r"Austin running")
        self.assertIn("triggers: armed", text)
        rec = self.recorder(d)
        for key in ("window_seconds", "seconds_held", "aggregator_memory_bytes", "austin_cpu_core_percent",
                    "captures_last_hour", "trigger_state"):
            self.assertIn(key, rec)
        self.assertEqual(rec["window_seconds"], WINDOW)

    def test_reload_says_recorder_keys_take_a_restart(self):
        pam = self.pam()
        d = self.recorder_daemon(pam)
        with open(d.config, "a") as f:
            f.write("recorder_window = 30\nrecorder_rate = 20\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "recorder_window, recorder_rate changed; the flight recorder keeps its settings"
                   in d.log_text(), 30, interval=0.3, what="the reload's warning")
        self.assertEqual(self.recorder(d)["window_seconds"], WINDOW)


if __name__ == "__main__":
    main()
