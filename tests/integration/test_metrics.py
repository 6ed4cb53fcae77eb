#!/usr/bin/python3
"""Prometheus through node_exporter's textfile collector (issue 16, section 1).

Debian's real prometheus-node-exporter runs on loopback with the textfile collector
only, pointed at the daemon's metrics_dir; its /metrics must carry every pamprofd
series with the value the kernel gives for the same process, and promtool must find
the file clean. The daemon is killed while it writes, over and over: the collector
must never see a half-written file nor a temporary one.
"""

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from harness import CLK_TCK, PYSPY, SLOW, DaemonTest, main, wait_until, free_port

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
PROMTOOL = "/usr/bin/promtool"
PAGE = os.sysconf("SC_PAGE_SIZE")
LAST_LINE = "pamprofd_build_info{"  # the text's last series: a file that ends with it is whole


def parse(text):
    """{(name, labels): value} of the sample lines; labels as the text has them ('' when none)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.rsplit(" ", 1)
        name, _, labels = fields[0].partition("{")
        out[(name, labels.rstrip("}"))] = float(fields[1])
    return out


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime 14, stime 15, num_threads 20, rss 24
    return {"utime": int(fields[11]) / CLK_TCK, "stime": int(fields[12]) / CLK_TCK,
            "threads": int(fields[17]), "rss": int(fields[21]) * PAGE}


def children_named(ppid, word):
    """ppid's children that run the program called word (argv[0], or a script's path after its
    interpreter): not the daemon's own forks, whose command lines hold --pyspy-path .../py-spy."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if parent == ppid and word in (os.path.basename(a) for a in argv[:2]):
            pids.append(int(p))
    return pids


class MetricsTest(DaemonTest):
    def setUp(self):
        super().setUp()
        for tool, package in ((NODE_EXPORTER, "prometheus-node-exporter"), (PROMTOOL, "prometheus")):
            if not os.access(tool, os.X_OK):
                self.skipTest(f"{tool} is missing: install Debian's {package} (tests/install-deps.sh does)")
        self.metrics_dir = os.path.join(self.workdir, "textfile")
        os.mkdir(self.metrics_dir)
        self.prom = os.path.join(self.metrics_dir, "pamprofd.prom")

    def node_exporter(self):
        port = free_port()
        log = open(os.path.join(self.workdir, "node-exporter.log"), "wb")
        proc = subprocess.Popen([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}",
                                 "--collector.disable-defaults", "--collector.textfile",
                                 f"--collector.textfile.directory={self.metrics_dir}"],
                                stdout=log, stderr=subprocess.STDOUT)

        def stop():
            proc.kill()
            proc.wait()
            log.close()
        self.addCleanup(stop)
        self.url = f"http://127.0.0.1:{port}/metrics"
        wait_until(lambda: self.try_scrape() is not None, 20, what="node_exporter to answer")

    def try_scrape(self):
        try:
            with urllib.request.urlopen(self.url, timeout=5) as r:
                return r.read().decode()
        except OSError:
            return None

    def scrape(self):
        text = self.try_scrape()
        self.assertIsNotNone(text, "node_exporter stopped answering")
        return parse(text)

    def file_figures(self):
        try:
            with open(self.prom) as f:
                return parse(f.read())
        except FileNotFoundError:
            return {}

    def promtool_is_clean(self):
        with open(self.prom) as f:
            r = subprocess.run([PROMTOOL, "check", "metrics"], stdin=f, capture_output=True, text=True,
                               timeout=30)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""), "promtool check metrics")

    def test_node_exporter_serves_every_series(self):
        t = self.target(duty=0.5)
        self.node_exporter()
        d = self.daemon(args=("--metrics-dir", self.metrics_dir, "--metrics-interval", "1"))
        m = wait_until(lambda: (lambda s: s if s.get(("pamprofd_pam_up", "")) == 1 else None)(self.scrape()),
                       20, what="pamprofd_pam_up 1 from node_exporter")
        self.assertEqual(m[("node_textfile_scrape_error", "")], 0)
        self.assertEqual(m[("pamprofd_session_running", "")], 0)
        self.assertEqual(m[("pamprofd_build_info", 'version="0.1.0"')], 1)
        for outcome in ("stopped", "failed", "interrupted"):
            self.assertEqual(m[("pamprofd_sessions_total", f'outcome="{outcome}"')], 0)
        self.assertNotIn(("pamprofd_profiler_rss_bytes", ""), m)
        self.assertEqual(os.stat(self.prom).st_mode & 0o777, 0o644)

        # A session with the profiler: written at every sample (0.5 s).
        d.ctl_json("start", "--scenario", "prom", "--interval", "0.5", "--rate", "50")
        m = wait_until(lambda: (lambda s: s if ("pamprofd_profiler_rss_bytes", "") in s else None)(self.scrape()),
                       20, what="the profiler's series")
        self.assertEqual(m[("pamprofd_session_running", "")], 1)
        time.sleep(2)
        m = self.scrape()
        k = proc_stat(t.pid)
        # The file is at most one interval (0.5 s) and a write old; the target burns half a core.
        tol = 0.5 * SLOW
        for mode, key in (("user", "utime"), ("system", "stime")):
            got = m[("pamprofd_pam_cpu_seconds_total", f'mode="{mode}"')]
            self.assertLessEqual(got, k[key] + 0.011, mode)
            self.assertGreaterEqual(got, k[key] - tol, mode)
        cpu = sum(m[("pamprofd_pam_cpu_seconds_total", f'mode="{x}"')] for x in ("user", "system"))
        self.assertGreater(cpu, 1.0, "a half-busy target for 3 s")
        self.assertAlmostEqual(m[("pamprofd_pam_rss_bytes", "")], k["rss"], delta=max(k["rss"] * 0.1, 2 << 20))
        self.assertEqual(m[("pamprofd_pam_threads", "")], k["threads"])
        pss = m[("pamprofd_pam_pss_bytes", "")]
        self.assertGreater(pss, 0)
        self.assertLessEqual(pss, k["rss"] * 1.1)
        profilers = children_named(d.proc.pid, os.path.basename(PYSPY))
        self.assertEqual(len(profilers), 1, "one profiler child")
        p = proc_stat(profilers[0])
        self.assertAlmostEqual(m[("pamprofd_profiler_rss_bytes", "")], p["rss"], delta=max(p["rss"] * 0.2, 2 << 20))
        self.assertLessEqual(m[("pamprofd_profiler_cpu_seconds_total", "")], p["utime"] + p["stime"] + 0.011)
        free = os.statvfs(d.output)
        self.assertAlmostEqual(m[("pamprofd_output_free_bytes", "")], free.f_bavail * free.f_frsize,
                               delta=256 << 20)
        self.assertEqual(m[("pamprofd_pam_restarts_total", "")], 0)

        d.ctl_json("stop")
        stopped_at = time.time()
        m = wait_until(lambda: (lambda s: s if s.get(("pamprofd_sessions_total", 'outcome="stopped"')) == 1
                                else None)(self.scrape()), 20, what="the session counted")
        self.assertEqual(m[("pamprofd_session_running", "")], 0)
        self.assertNotIn(("pamprofd_profiler_rss_bytes", ""), m)
        self.assertAlmostEqual(m[("pamprofd_last_session_end_timestamp_seconds", "")], stopped_at, delta=5 * SLOW)
        on_disk = sum(os.path.getsize(os.path.join(d.output, f)) for f in os.listdir(d.output))
        self.assertGreater(m[("pamprofd_profiles_bytes", "")], 0)
        self.assertLessEqual(m[("pamprofd_profiles_bytes", "")], on_disk)
        self.assertEqual(m[("node_textfile_scrape_error", "")], 0)
        self.promtool_is_clean()
        with open(self.prom) as f:
            for line in f:
                if not line.startswith("#"):
                    self.assertEqual(len(line.split()), 2, f"a timestamp or a stray field: {line!r}")
                    labels = line.partition("{")[2].partition("}")[0]
                    self.assertNotRegex(labels, r"pid|session|file|id=", line)

    def test_a_session_the_daemon_died_in_counts_as_interrupted(self):
        self.target(duty=0.1)
        d = self.daemon(args=("--metrics-dir", self.metrics_dir, "--metrics-interval", "1"))
        d.ctl_json("start", "--scenario", "crash", "--no-profile")
        time.sleep(1.5)
        d.stop(signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.prom)  # the dead daemon's last figures are not the new one's (slow under qemu)
        d.start()
        m = wait_until(lambda: (lambda s: s if s.get(("pamprofd_pam_up", "")) == 1 else None)(self.file_figures()),
                       20, what="pamprofd.prom from the restarted daemon")
        self.assertEqual(m[("pamprofd_sessions_total", 'outcome="interrupted"')], 1)
        self.assertEqual(m[("pamprofd_sessions_total", 'outcome="stopped"')], 0)
        # it ended when the daemon died, which nobody knows: no end time is made up for it
        self.assertNotIn(("pamprofd_last_session_end_timestamp_seconds", ""), m)
        self.promtool_is_clean()

    def test_pam_gone_and_back_is_a_restart(self):
        t = self.target(duty=0.1)
        d = self.daemon(args=("--metrics-dir", self.metrics_dir, "--metrics-interval", "1"))
        wait_until(lambda: self.file_figures().get(("pamprofd_pam_up", "")) == 1, 20, what="PAM up")
        t.stop()
        m = wait_until(lambda: (lambda s: s if s.get(("pamprofd_pam_up", "")) == 0 else None)(self.file_figures()),
                       20, what="PAM down")
        self.assertNotIn(("pamprofd_pam_cpu_seconds_total", 'mode="user"'), m)
        self.target(duty=0.1)
        m = wait_until(lambda: (lambda s: s if s.get(("pamprofd_pam_up", "")) == 1 else None)(self.file_figures()),
                       20, what="PAM back")
        self.assertEqual(m[("pamprofd_pam_restarts_total", "")], 1)
        self.promtool_is_clean()
        d.stop()

    def test_killed_while_writing_never_shows_a_half_file(self):
        self.target(duty=0.2)
        self.node_exporter()
        d = self.daemon(start=False, args=("--metrics-dir", self.metrics_dir, "--metrics-interval", "1"))
        seen = {"reads": 0, "scrapes": 0, "bad": []}
        done = threading.Event()

        def reader():
            while not done.is_set():
                try:
                    with open(self.prom) as f:
                        text = f.read()
                except FileNotFoundError:
                    continue
                seen["reads"] += 1
                last = text.rstrip("\n").rsplit("\n", 1)[-1]
                if not text.endswith("\n") or not last.startswith(LAST_LINE):
                    seen["bad"].append(text[-200:])

        def scraper():
            while not done.is_set():
                existed = os.path.exists(self.prom)  # before the scrape: the first write may come during it
                text = self.try_scrape()
                if text is None:
                    continue
                seen["scrapes"] += 1
                m = parse(text)
                if m.get(("node_textfile_scrape_error", "")) != 0:
                    seen["bad"].append("scrape error:\n" + text[-400:])
                if existed and ("pamprofd_build_info", 'version="0.1.0"') not in m:
                    seen["bad"].append("no build_info in a scrape")
        threads = [threading.Thread(target=reader), threading.Thread(target=scraper)]
        for th in threads:
            th.start()
        try:
            for i in range(12):
                d.start()
                # A session samples every 0.1 s: the file is rewritten ten times a second.
                d.ctl("start", "--scenario", f"kill{i}", "--interval", "0.1", "--no-profile", check=0)
                time.sleep(random.uniform(0.3, 1.0))
                d.stop(sig=9)
        finally:
            done.set()
            for th in threads:
                th.join()
        names = os.listdir(self.metrics_dir)
        print(f"# 12 kills: {seen['reads']} reads, {seen['scrapes']} scrapes, left: {sorted(names)}", file=sys.stderr)
        self.assertEqual(seen["bad"], [])
        self.assertGreater(seen["reads"], 50)
        self.assertGreater(seen["scrapes"], 5)
        # What the collector may pick up is pamprofd.prom alone (the rest is the next start's to clear).
        self.assertEqual([n for n in names if n.endswith(".prom")], ["pamprofd.prom"])
        self.assertTrue(all(n == "pamprofd.prom" or (n.startswith(".pamprofd.prom.") and n.endswith(".tmp"))
                            for n in names), names)
        self.promtool_is_clean()
        # The next start clears the temporaries a killed writer left.
        d.start()
        wait_until(lambda: os.listdir(self.metrics_dir) == ["pamprofd.prom"], 10, what="temporaries cleared")
        d.stop()


if __name__ == "__main__":
    main()
