#!/usr/bin/python3
"""A sampler that stops by itself while PAM still runs: found, said, restarted, and the profile's coverage stated.

Austin 3.7 exits 0 with a complete file after a fraction of a second to a few
seconds when the target keeps starting threads that live a few milliseconds
(tests/tools/thread-churn.py is such a target): the daemon must ask the
target's pidfd before it believes the exit, record the early stop as an
event, restart the sampler, and say how much of the session the profile
covers (`stop`, `status`, `show`, `_session.json`, the plot). The same path
with py-spy is driven by the py-spy TEST DOUBLE (tests/tools/py-spy), told to
stop early (PYSPY_DOUBLE_MODE=exit-early=S) or to fail.

Also here, the smaller defects of the same issue in the same code: a --pid
target's command line in the record, `pamprofctl version` without a daemon,
the unit of `record`'s CPU figures, and a profiler that cannot be executed.
"""

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

from harness import PAMPROFCTL, PYTHON, SLOW, TESTS, DaemonTest, main, wait_until

sys.path.insert(0, os.path.dirname(__file__))
from test_austin import SkipAustin, austin, check_speedscope  # noqa: E402

CHURN = os.path.join(TESTS, "tools", "thread-churn.py")


class EarlyExitTest(DaemonTest):
    def churn(self, *extra):
        """A process that starts 5 ms threads without end (Austin stops early against it)."""
        p = subprocess.Popen([PYTHON, CHURN, "--parallel", "3", "--lifetime", "5", "--cmdline-tag", self.tag, *extra],
                             stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (p.kill(), p.wait(), p.stdout.close()))
        self.assertEqual(int(p.stdout.readline()), p.pid)
        return p

    def record_of(self, d, rec):
        with open(os.path.join(d.output, rec["files"]["session"])) as f:
            return json.load(f)

    def check_coverage_figures(self, rec):
        """coverage = profiled / session up to the stop; profiled = the usable runs' seconds within it."""
        prof = rec["profile"]
        end = prof["session_seconds"]
        if "runs_omitted" in prof:  # the record lists the first 4 and last 12 runs: the sum cannot be made
            self.assertEqual((len(prof["runs"]), prof["runs_omitted"]), (16, prof["run_count"] - 16))
            return
        # The last run ends a little after the stop (the sampler finishes its file): that part is not counted.
        usable = sum(min(r["started_elapsed_seconds"] + r["seconds"], end) - r["started_elapsed_seconds"]
                     for r in prof["runs"] if r["outcome"] in ("ok", "partial"))
        self.assertAlmostEqual(prof["profiled_seconds"], usable, delta=0.03)
        # The session's seconds are those before the stop; finishing the files (conversion, merge, plot) came after.
        self.assertLessEqual(prof["session_seconds"], rec["duration_seconds"] + 0.01)
        self.assertAlmostEqual(prof["coverage"], min(1, prof["profiled_seconds"] / prof["session_seconds"]),
                               delta=0.01)

    def test_austin_stopping_early_is_restarted_and_the_coverage_stated(self):
        try:
            path = austin()
        except SkipAustin as e:
            self.skipTest(str(e))
        pam = self.churn()
        d = self.daemon(args=("--austin-path", path))
        wait_until(lambda: d.ctl_json("status")["result"]["target"].get("pid") == pam.pid, 20, what="the target")
        sid = d.ctl_json("start", "--scenario", "churn", "--profiler", "austin")["result"]["id"]
        started = time.monotonic()
        time.sleep(12)
        # Austin stops early in most 12 s windows against this target, not in all (a loaded machine
        # slows the churn): give it up to 40 s before calling it a change in Austin.
        while time.monotonic() - started < 40 and not any(
                e["type"] == "profiler-early-exit" for e in d.ctl_json("show", sid)["result"]["events"]):
            time.sleep(1)
        waited = time.monotonic() - started
        status = d.ctl("status", check=0).stdout
        self.assertRegex(status, r"austin 3\.7\.0: (running|restarting)")
        self.assertRegex(status, r"Coverage: \d+ % of the session|Warning: profile covers")
        out = d.ctl("stop", check=0).stdout
        rec = self.record_of(d, d.ctl_json("show", sid)["result"])
        prof = rec["profile"]
        early = [e for e in rec["events"] if e["type"] == "profiler-early-exit"]
        # Austin 3.7 stopped by itself while the target ran (runs of 0.05-9 s measured here against this
        # target; 40 s without one would mean Austin no longer does it, and this test must say so).
        self.assertGreaterEqual(len(early), 1, f"Austin never stopped early: {prof['runs']}")
        self.assertRegex(early[0]["message"],
                         rf"^Austin run 1 stopped early, after \d+\.\d\d s: "
                         rf"Austin ended by itself \(exit 0, a complete file\) while pid {pam.pid} was still running; "
                         r"restart 1 in 0\.05 s$")
        # The record keeps the first 16 and last 16 events, the first 4 and last 12 runs (one reply holds it).
        n_early = prof["early_exits"]
        if len(early) < n_early:
            self.assertEqual(len(rec["events"]), 32)
        else:
            self.assertEqual(n_early, len(early))
        self.assertEqual(prof["restarts"], n_early)
        runs = prof["runs"]
        n_runs = prof["run_count"]
        self.assertEqual(n_runs, len(runs) + prof.get("runs_omitted", 0))
        # Every run but the last stopped early; the last one, as a rule, was stopped by the stop (SIGINT,
        # Austin's 254), unless it too stopped early just before and its restart was still to come.
        self.assertTrue(all(r.get("early_exit") and r["exit"] == 0 and r["outcome"] == "ok" for r in runs[:-1]), runs)
        if runs[-1].get("early_exit"):
            self.assertEqual(n_runs, n_early)
        else:
            self.assertEqual(n_runs, n_early + 1)
            self.assertEqual((runs[-1]["exit"], runs[-1]["outcome"]), (254, "ok"))
        self.assertTrue(all(r["target_pid"] == pam.pid for r in runs))
        # Each restart came at once (0.05 s after the stop, plus the loop's own latency).
        for a, b in zip(runs, runs[1:]):
            gap = b["started_elapsed_seconds"] - (a["started_elapsed_seconds"] + a["seconds"])
            self.assertLess(gap, 0.5, runs)
        self.assertEqual(prof["state"], "ok")
        self.check_coverage_figures(rec)
        # Of the 12 s (and a status) before the stop; the conversion and merging after it are not counted.
        self.assertGreaterEqual(prof["session_seconds"], 12)
        self.assertLess(prof["session_seconds"], (waited + 2) * SLOW)
        self.assertGreaterEqual(prof["coverage"], 0.9, {k: v for k, v in prof.items() if k != "threads"})
        self.assertNotIn("coverage_warning", prof)
        # What a person reads at stop: the restarts and the coverage, naming the sampler that ran.
        self.assertRegex(out, rf"Profile: ok, \d+ samples over {prof['thread_count']} threads, {n_runs} Austin run\(s\) "
                              r"\(austin 3\.7\.0\)\.")
        self.assertIn(f"Coverage: {int(prof['coverage'] * 100)} % of the session ({prof['profiled_seconds']:.1f} s "
                      f"profiled); Austin stopped early {n_early} time{'s' if n_early > 1 else ''} and was "
                      "restarted.", out)
        self.assertNotIn("py-spy", out)
        shown = d.ctl("show", sid, check=0).stdout
        self.assertIn("profiler-early-exit", shown)
        self.assertIn(f"Austin stopped early {n_early} time", shown)
        # The profile is every run merged; staging is clean.
        summary = check_speedscope(os.path.join(d.output, rec["files"]["profile"]))
        # (the merged file may hold more: a thread born mid-run starts with an empty sample as long
        # as the time before it, so it shows at its true time)
        if "runs_omitted" not in prof:
            self.assertGreaterEqual(summary["samples"], sum(r["conversion"]["samples"] for r in runs))
        # Thousands of short-lived threads: the record names the first 64, counts them all, and fits in
        # the one reply that stop is (it did not: "The reply would exceed 65536 bytes", CI, 5129 threads).
        self.assertEqual(prof["thread_count"], len(summary["threads"]))
        self.assertEqual(prof["threads"], summary["threads"][:64])
        self.assertLess(len(json.dumps(rec, separators=(",", ":"))), 65536 - 64)
        self.assertEqual(summary["name"], "Austin profile")
        self.assertEqual(os.listdir(os.path.join(d.state, "staging")), [])

    def test_pyspy_stopping_early_is_restarted(self):
        t = self.target(duty=0.1, threads=2)
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "exit-early=1.5"})
        sid = d.ctl_json("start", "--scenario", "early")["result"]["id"]
        wait_until(lambda: len(d.ctl_json("status")["result"]["session"]["profile"]["runs"]) >= 2, 10,
                   what="a restart")
        time.sleep(5)
        out = d.ctl("stop", check=0).stdout
        rec = self.record_of(d, d.ctl_json("show", sid)["result"])
        prof = rec["profile"]
        runs = prof["runs"]
        early = [e for e in rec["events"] if e["type"] == "profiler-early-exit"]
        self.assertGreaterEqual(len(early), 3, runs)
        self.assertTrue(all(r.get("early_exit") and r["outcome"] == "ok" for r in runs[:-1]), runs)
        self.assertEqual(len(runs), len(early) + (0 if runs[-1].get("early_exit") else 1))
        self.assertRegex(early[0]["message"],
                         rf"^py-spy run 1 stopped early, after 1\.\d\d s: py-spy "
                         rf"ended by itself \(exit 0, a complete file\) while pid {t.pid} was still running: py-spy> "
                         r"Wrote speedscope file to '.*'\. Samples: \d+ Errors: 0; restart 1 in 0\.05 s$")
        # Not a "profiler-chunk": those runs did not end as a chunk does; only the last, stopped by the stop, did.
        chunks = [e["message"] for e in rec["events"] if e["type"] == "profiler-chunk"]
        self.assertEqual(chunks, [] if runs[-1].get("early_exit") else
                         [f"py-spy run {len(runs)} ended ({runs[-1]['size']} bytes)"])
        self.assertEqual(prof["state"], "ok")
        self.check_coverage_figures(rec)
        self.assertGreaterEqual(prof["coverage"], 0.85, prof)
        self.assertIn(f"py-spy stopped early {len(early)} times and was restarted.", out)
        summary = check_speedscope(os.path.join(d.output, rec["files"]["profile"]))
        self.assertEqual(summary["name"], "py-spy profile")

    def test_a_stop_just_after_a_restart_still_gets_a_file(self):
        self.target(duty=0.1)
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "exit-early=1"})
        d.ctl_json("start", "--scenario", "young")
        wait_until(lambda: len(d.ctl_json("status")["result"]["session"]["profile"]["runs"]) >= 2, 10,
                   interval=0.02, what="a restart")
        # At once: the new py-spy is starting up, and a SIGINT now would kill it before its handler is set.
        rec = d.ctl_json("stop")["result"]
        runs = rec["profile"]["runs"]
        self.assertEqual([r["outcome"] for r in runs], ["ok"] * len(runs), runs)
        self.assertGreaterEqual(runs[-1]["seconds"], 0.5)
        self.assertEqual(rec["profile"]["state"], "ok")

    def test_a_run_whose_target_dies_as_it_starts_is_not_a_failure(self):
        t = self.target(duty=0.1)
        # py-spy takes 3 s to start; PAM is killed in them: there was nothing left to profile.
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "start-delay=3"})
        sid = d.ctl_json("start", "--scenario", "gone")["result"]["id"]
        wait_until(lambda: d.ctl_json("status")["result"]["session"]["profile"].get("pid"), 10, what="py-spy")
        t.stop(signal.SIGKILL)
        wait_until(lambda: d.ctl_json("status")["result"]["session"]["profile"]["runs"][0]["outcome"] != "running",
                   10, what="the run to end")
        wait_until(lambda: any(e["type"] == "target-exit" for e in d.ctl_json("show", sid)["result"]["events"]),
                   10, what="PAM's exit to be seen")
        time.sleep(1)
        rec = d.ctl_json("stop")["result"]
        run = rec["profile"]["runs"][0]
        self.assertEqual(run["outcome"], "target-gone", run)
        self.assertRegex(run["reason"], rf"^pid {t.pid} exited as py-spy started \(.*\)$")
        types = [e["type"] for e in rec["events"]]
        self.assertNotIn("profiler-failed", types)
        self.assertNotIn("profiler-early-exit", types)
        self.assertIn("target-exit", types)
        self.assertEqual(rec["profile"]["state"], "missing")
        self.assertNotIn("of its runs failed", rec["profile"]["coverage_warning"])
        self.assertIn("PAM was not running for", rec["profile"]["coverage_warning"])

    def test_a_profile_that_covers_too_little_says_so_everywhere(self):
        self.target(duty=0.1)
        # Runs that die after 1 s and leave nothing: restarted after 0.5 s, 1 s, 2 s; little is covered.
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "die-after=1"})
        sid = d.ctl_json("start", "--scenario", "little")["result"]["id"]
        time.sleep(6)
        st = d.ctl_json("status")["result"]["session"]["profile"]
        self.assertLess(st["coverage"], 0.9)
        self.assertIn("coverage_warning", st)
        text = d.ctl("status", check=0).stdout
        self.assertRegex(text, r"Warning: profile covers \d+ % of the session \(\d+\.\d of \d+\.\d s\): [23] of its "
                               r"runs failed; see journalctl -u pamprofd\.")
        out = d.ctl("stop", check=0).stdout
        rec = self.record_of(d, d.ctl_json("show", sid)["result"])
        prof = rec["profile"]
        self.check_coverage_figures(rec)
        self.assertLess(prof["coverage"], 0.9)
        failed = sum(1 for r in prof["runs"] if r["outcome"] == "failed")
        self.assertIn(failed, (3, 4), prof["runs"])
        pct = int(prof["coverage"] * 100)
        m = re.fullmatch(rf"profile covers {pct} % of the session \((\d+\.\d) of (\d+\.\d) s\): {failed} of its runs "
                         r"failed; see journalctl -u pamprofd", prof["coverage_warning"])
        self.assertIsNotNone(m, prof["coverage_warning"])
        # the daemon rounds its own figures, the record keeps them to 0.01: 6.05 may say 6.0 or 6.1
        self.assertAlmostEqual(float(m.group(1)), prof["profiled_seconds"], delta=0.051)
        self.assertAlmostEqual(float(m.group(2)), prof["session_seconds"], delta=0.051)
        want = prof["coverage_warning"]
        self.assertIn(f"Warning: {want}.", out)
        self.assertIn(f"Warning: {want}.", d.ctl("show", sid, check=0).stdout)
        # The plot reads the same record: the warning is drawn under its subtitle (test-plot-render checks how).
        self.assertTrue(os.path.exists(os.path.join(d.output, rec["files"]["plot"])))

    def test_a_sampler_failing_again_and_again_backs_off_then_gives_up(self):
        self.target(duty=0.1)
        # py-spy panicking 0.2 s into every run (exit 101, no file): worth another try, but not at once.
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "die-after=0.2"})
        sid = d.ctl_json("start", "--scenario", "failing")["result"]["id"]
        wait_until(lambda: any("not started again" in e["message"]
                               for e in d.ctl_json("show", sid)["result"]["events"]), 30, what="the last try")
        time.sleep(0.5)
        rec = d.ctl_json("stop")["result"]
        runs = rec["profile"]["runs"]
        self.assertEqual(len(runs), 6, runs)
        self.assertTrue(all(r["outcome"] == "failed" and r["exit"] == 101 for r in runs), runs)
        gaps = [b["started_elapsed_seconds"] - (a["started_elapsed_seconds"] + a["seconds"])
                for a, b in zip(runs, runs[1:])]
        for gap, want in zip(gaps, (0.5, 1, 2, 4, 8)):
            self.assertAlmostEqual(gap, want, delta=0.25, msg=gaps)
        failed = [e["message"] for e in rec["events"] if e["type"] == "profiler-failed"]
        self.assertEqual(len(failed), 6)
        self.assertRegex(failed[0], r"^py-spy run 1 failed after 0\.\d\d s: .*exited with status 101: ")
        backoff = " (failed runs back off, 0.5 s doubling to 8 s)"
        self.assertTrue(failed[0].endswith("; restart 1 in 0.5 s" + backoff), failed[0])
        self.assertTrue(failed[3].endswith("; restart 4 in 4 s" + backoff), failed[3])
        self.assertTrue(failed[4].endswith("; restart 5 in 8 s" + backoff), failed[4])
        self.assertTrue(failed[5].endswith("; not started again: it failed 6 times in a row"), failed[5])
        self.assertEqual(rec["profile"]["state"], "missing")
        self.assertEqual(rec["profile"]["coverage"], 0)
        self.assertIn("6 of its runs failed; it was not started again after failing 6 times in a row",
                      rec["profile"]["coverage_warning"])

    def test_pid_target_has_its_command_line_in_the_record(self):
        t = self.target(duty=0.1)
        d = self.daemon()
        sid = d.ctl_json("start", "--scenario", "bypid", "--pid", str(t.pid), "--no-profile")["result"]["id"]
        time.sleep(1.2)
        rec = d.ctl_json("stop")["result"]
        with open(f"/proc/{t.pid}/cmdline", "rb") as f:
            cmdline = " ".join(a.decode() for a in f.read().split(b"\0") if a)
        self.assertEqual(rec["target"]["cmdline"], cmdline)
        self.assertIn(self.tag, cmdline)
        self.assertIn(f"Target:   pid {t.pid} {cmdline}\n", d.ctl("show", sid, check=0).stdout)

    def test_version_without_a_daemon_still_prints_the_clients(self):
        sock = os.path.join(self.workdir, "nobody-here.sock")
        r = subprocess.run([PAMPROFCTL, "--socket", sock, "version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 3)
        self.assertRegex(r.stdout, r"^pamprofctl \d+\.\d+\S*\n$")
        self.assertIn(f"cannot reach pamprofd at {sock}", r.stderr)

    def test_a_profiler_that_cannot_run_is_refused_not_taken_for_a_version(self):
        self.target(duty=0.1)
        bad = os.path.join(self.workdir, "austin")
        with open(bad, "wb") as f:
            f.write(b"\x7fELF not really\n")
        os.chmod(bad, 0o755)
        d = self.daemon(args=("--austin-path", bad))
        r = d.ctl("start", "--scenario", "noexec", "--profiler", "austin", check=1)
        self.assertIn(f"Austin ({bad}) cannot be run: `austin --version` said: cannot execute {bad}: Exec format "
                      "error.", r.stderr)
        self.assertIn("--no-profile", r.stderr)
        self.assertEqual(d.ctl_json("status")["result"].get("session"), None)

    def test_record_line_gives_the_cpu_unit(self):
        self.target(duty=0.2)
        d = self.daemon()
        master, slave = pty.openpty()
        p = subprocess.Popen([PAMPROFCTL, "--socket", d.socket, "record", "--scenario", "tty", "--duration", "2.5",
                              "--no-profile"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        seen = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            if p.poll() is not None and not ready:
                break
        p.wait(20)
        os.close(master)
        p.stdout.close()
        self.assertEqual(p.returncode, 0)
        self.assertRegex(seen.decode(errors="replace"),
                         r"CPU \d+\.\d\d % now, \d+\.\d\d % mean \(of the machine\)  memory \d+\.\d MB")


if __name__ == "__main__":
    main()
