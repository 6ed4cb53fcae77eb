#!/usr/bin/python3
"""Against the bundled PAM stand-in (a real uvicorn petal_app_manager.main:app), found by the default regex."""

import json
import os
import subprocess
import time
import urllib.request

from harness import DaemonTest, STANDIN, main, read_csv, wait_until, free_port


class StandinTest(DaemonTest):
    def test_session_against_the_standin(self):
        port = free_port()
        pam = subprocess.Popen([STANDIN, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (pam.kill(), pam.wait()))

        def healthy():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_until(healthy, 30, interval=0.2, what="the stand-in's /health")
        # The default regex, as a real installation has it; only this test's port tells it apart.
        d = self.daemon(match=f"uvicorn( .*)? petal_app_manager\\.main:app .*--port {port}")
        st = d.ctl_json("status")["result"]["target"]
        self.assertEqual(st["pid"], pam.pid)
        r = d.ctl("record", "--scenario", "idle-no-leaffc", "--duration", "3", check=0, timeout=30)
        sid = next(w for w in r.stdout.split() if w.startswith("pam_idle-no-leaffc_"))
        _, threads = read_csv(os.path.join(d.output, sid + "_threads.csv"))
        names = {t["thread_name"] for t in threads}
        for n in ("MAVLinkWorker-1", "RedisWorker-1", "MQTTWorker-1"):
            self.assertIn(n, names)
        _, rows = read_csv(os.path.join(d.output, sid + "_cpu.csv"))
        self.assertGreaterEqual(len(rows), 2)
        mem = float(rows[-1]["memory_mb"])
        self.assertGreater(mem, 20)  # a real uvicorn + FastAPI process
        self.assertTrue(os.path.getsize(os.path.join(d.output, sid + "_cpu.png")) > 10000)

    def start_standin(self, *flags, env=None):
        port = free_port()
        pam = subprocess.Popen([STANDIN, "--port", str(port), *flags], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env)
        self.addCleanup(lambda: (pam.kill(), pam.wait(), pam.stderr.close()))

        def healthy():
            if pam.poll() is not None:
                raise AssertionError(f"the stand-in exited {pam.returncode}: {pam.stderr.read().decode()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    return json.loads(r.read())
            except OSError:
                return None
        return pam, port, wait_until(healthy, 30, interval=0.2, what="the stand-in's /health")

    def test_pathology_switches_do_what_they_say(self):
        pam, port, health = self.start_standin("--busy-thread", "--blocking-coroutine", "--polling-thread",
                                               "--leak", "1.0", "--fast-periodic", "--json-roundtrip")
        self.assertEqual(health["switches"], ["blocking_coroutine", "busy_thread", "fast_periodic",
                                              "json_roundtrip", "leak_mb_per_s", "polling_thread"])
        # Each switch's thread, by the name /proc (and so an Austin profile) gives it: 15 bytes at most.
        names = wait_until(lambda: (lambda n: n if {"ArmingMonitor-1", "MQTTOutbox-1", "MissionWorker-1"} <= n
                                    else None)(set(self.comms(pam.pid).values())), 10, what="the switches' threads")
        self.assertIn("MAVLinkWorker-1", names)
        before, rss0, t0 = self.schedstats(pam.pid), self.rss_mb(pam.pid), time.monotonic()
        # /health answers late while refresh_cloud_settings holds the loop in time.sleep(0.2)
        latencies = []
        while time.monotonic() - t0 < 4:
            start = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                r.read()
            latencies.append(time.monotonic() - start)
            time.sleep(0.05)
        after, rss1, dt = self.schedstats(pam.pid), self.rss_mb(pam.pid), time.monotonic() - t0
        rate = {self.comms(pam.pid).get(tid, "?"): ((after[tid][0] - before[tid][0]) / 1e9 / dt * 100,
                                                    (after[tid][1] - before[tid][1]) / dt)
                for tid in after if tid in before}
        self.assertGreater(rate["ArmingMonitor-1"][0], 30, rate)   # spins (the GIL shared with the rest)
        self.assertGreater(rate["MQTTOutbox-1"][1], 300, rate)     # ~1000 wake-ups a second, 1 ms sleeps
        self.assertGreater(rate["python3"][1], 100, rate)          # the loop wakes every 4 ms
        self.assertGreater(rate["MissionWorker-1"][0], 2, rate)    # 290 KB dumped and loaded 10 times a second
        self.assertGreater(rss1 - rss0, 0.5 * dt, (rss0, rss1))    # 1 MiB/s kept
        self.assertGreater(max(latencies), 0.1, latencies)

    def test_wakeups_measured_per_thread(self):
        """A thread that polls in 1 ms sleeps is idle in every stack sample; the _threads.csv's
        wakeups_per_second is what shows it, as the scheduler counts it."""
        pam, port, _ = self.start_standin("--polling-thread")
        d = self.daemon(match=f"uvicorn( .*)? petal_app_manager\\.main:app .*--port {port}")
        r = d.ctl("record", "--scenario", "polling", "--duration", "4", "--interval", "0.5", "--no-profile",
                  check=0, timeout=30)
        sid = next(w for w in r.stdout.split() if w.startswith("pam_polling_"))
        _, threads = read_csv(os.path.join(d.output, sid + "_threads.csv"))
        _, rows = read_csv(os.path.join(d.output, sid + "_cpu.csv"))

        def mean(name):
            v = [float(t["wakeups_per_second"]) for t in threads if t["thread_name"] == name]
            self.assertTrue(v, name)
            return sum(v) / len(v)
        poller, quiet = mean("MQTTOutbox-1"), mean("MAVLinkWorker-1")
        # ~1000 a second by design; fewer when a loaded machine stretches the sleeps, never many more.
        self.assertGreater(poller, 300, threads)
        self.assertLess(poller, 1200, threads)
        self.assertLess(quiet, 0.2 * poller, threads)
        whole = sum(float(r["wakeups_per_second"]) for r in rows) / len(rows)
        self.assertGreater(whole, poller)

    def test_memory_verdict_is_the_reports_in_the_record_and_at_stop(self):
        """The record's memory trend is the report's verdict, not a line over every row: a steady
        1 MiB/s leak is called with its MB/h; a flat app gets a verdict and no MB/h at all."""
        for leak, duration in (("1.0", "15"), ("0", "6")):
            pam, port, _ = self.start_standin("--leak", leak)
            d = self.daemon(match=f"uvicorn( .*)? petal_app_manager\\.main:app .*--port {port}")
            r = d.ctl("record", "--scenario", "memory", "--duration", duration, "--interval", "0.5",
                      "--no-profile", check=0, timeout=60)
            sid = next(w for w in r.stdout.split() if w.startswith("pam_memory_"))
            rec = d.ctl_json("show", sid)["result"]
            trend = rec["memory_trend"]
            with open(os.path.join(d.output, sid + "_report.json")) as f:
                self.assertEqual(trend["verdict"], json.load(f)["csv"]["memory"]["verdict"])
            self.assertNotIn("memory_growth_mb_per_hour", rec["summary"])
            shown = d.ctl("show", sid, check=0).stdout
            self.assertIn(f"Memory: {trend['description']}.", shown)
            if leak != "0":
                self.assertEqual(trend["verdict"], "leak", trend)
                self.assertGreater(trend["mb_per_hour"], 2000, trend)  # 1 MiB/s is 3775 MB/h
                self.assertLess(trend["mb_per_hour"], 5000, trend)
                self.assertIn("MB per hour", shown)
            else:
                self.assertNotEqual(trend["verdict"], "leak", trend)
                self.assertNotIn("mb_per_hour", trend)
                self.assertNotIn("MB per hour", shown)
            d.stop()
            pam.kill()

    def test_switches_off_by_default(self):
        pam, port, health = self.start_standin()
        self.assertEqual(health["switches"], [])
        self.assertEqual(sorted(set(self.comms(pam.pid).values()) - {"python3"}),
                         ["MAVLinkWorker-1", "MQTTWorker-1", "RedisWorker-1"])

    def test_bad_switch_values_are_refused_with_a_sentence(self):
        for flags, env, message in (
                ((), {"PAM_STANDIN_BUSY_THREAD": "yes"}, "PAM_STANDIN_BUSY_THREAD='yes': want 1 (on) or 0 (off)"),
                (("--leak", "lots"), {}, "PAM_STANDIN_LEAK_MB_S='lots' is not a number"),
                (("--leak", "100"), {}, "PAM_STANDIN_LEAK_MB_S=100 is outside 0..64"),
                (("--leak",), {}, "--leak needs a rate in MiB/s"),
                (("--busy",), {}, "unknown option '--busy'")):
            r = subprocess.run([STANDIN, "--port", str(free_port()), *flags], capture_output=True, text=True,
                               env={**os.environ, **env}, timeout=30)
            self.assertNotEqual(r.returncode, 0, flags)
            self.assertIn(message, r.stderr, flags)

    @staticmethod
    def comms(pid):
        out = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    out[tid] = f.read().strip()
            except OSError:
                pass
        return out

    @staticmethod
    def schedstats(pid):
        """Per thread: (nanoseconds on a CPU, times it was scheduled in)."""
        out = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    fields = f.read().split()
                out[tid] = (int(fields[0]), int(fields[2]))
            except OSError:
                pass
        return out

    @staticmethod
    def rss_mb(pid):
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576


if __name__ == "__main__":
    main()
