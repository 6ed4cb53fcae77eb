#!/usr/bin/python3
"""py-spy sessions: the profiler child end to end, and every way py-spy misbehaves.

py-spy cannot be installed on the machines this runs on, so the daemon runs
tests/tools/py-spy, a TEST DOUBLE that honours py-spy's command line, writes
speedscope files of py-spy's shape on SIGINT, and can be told to misbehave
(PYSPY_DOUBLE_MODE). With a real py-spy on PATH and PAMPROF_REAL_PYSPY=1 the
end-to-end test runs against the real one; otherwise it says it was skipped.
"""

import json
import os
import shutil
import signal
import subprocess
import time

from harness import (DaemonTest, PYSPY_DOUBLE, SPEEDSCOPE_CHECK, PYTHON, main, read_csv, wait_until, SLOW)
from harness import PAMPROFCTL, optional


def check_speedscope(path):
    r = subprocess.run([PYTHON, SPEEDSCOPE_CHECK, "--json", path], capture_output=True, text=True)
    assert r.returncode == 0, f"{path} is not a valid speedscope file: {r.stdout} {r.stderr}"
    return json.loads(r.stdout)


class ProfilerTest(DaemonTest):
    def start_stop(self, d, seconds=2.5, **start):
        args = ["start", "--scenario", start.pop("scenario", "prof")]
        for k, v in start.items():
            args += [f"--{k.replace('_', '-')}"] + ([] if v is True else [str(v)])
        sid = d.ctl_json(*args)["result"]["id"]
        time.sleep(seconds)
        return sid, d.ctl_json("stop")["result"]

    def test_profile_with_sampling_and_the_profilers_own_cost(self):
        t = self.target(duty=0.2, threads=2)
        d = self.daemon(env={"PYSPY_DOUBLE_ARGV_LOG": os.path.join(self.workdir, "argv.log")})
        sid, rec = self.start_stop(d, 3.2, rate=50)
        prof = rec["profile"]
        self.assertEqual(prof["state"], "ok")
        self.assertEqual(prof["profiler"], "py-spy")
        self.assertRegex(prof["version"], r"^py-spy \d+\.\d+")
        self.assertIn(f"record --pid {t.pid} --rate 50 --format speedscope --output ", prof["command"])
        self.assertIn("--idle", prof["command"])
        self.assertEqual(len(prof["runs"]), 1)
        self.assertEqual(prof["runs"][0]["outcome"], "ok")
        self.assertGreater(prof["runs"][0]["started_at_unix"], rec["started_at_unix"] - 1)
        path = os.path.join(d.output, sid + "_profile.speedscope.json")
        self.assertEqual(rec["files"]["profile"], sid + "_profile.speedscope.json")
        summary = check_speedscope(path)
        self.assertIn('"Burner-1"', " ".join(summary["threads"]))
        self.assertEqual(prof["samples"], summary["samples"])
        # The report is written at stop, and `pamprofctl report ID` finds the files through the daemon.
        self.assertEqual(rec["files"]["report_txt"], sid + "_report.txt")
        with open(os.path.join(d.output, sid + "_report.json")) as f:
            report = json.load(f)
        self.assertIn("findings", report)
        out = d.ctl("report", sid, check=0).stdout
        self.assertIn(f"Report on {sid}", out)
        self.assertIn('"Burner-1"', out)
        self.assertEqual(d.ctl("report", "pam_nosuch_20200101_000000", check=1).returncode, 1)
        # py-spy wrote into the daemon's staging dir, never into the output dir, and staging is clean.
        self.assertIn(os.path.join(d.state, "staging"), prof["command"])
        self.assertEqual(os.listdir(os.path.join(d.state, "staging")), [])
        # Its own CPU and memory are in the CSV, in their own columns.
        _, rows = read_csv(os.path.join(d.output, sid + "_cpu.csv"))
        cost = [r for r in rows if r["profiler_cpu_percent"]]
        self.assertGreaterEqual(len(cost), 1, rows)
        self.assertGreater(float(cost[-1]["profiler_rss_mb"]), 1.0)
        # The child got a clean signal mask, so SIGINT reached it (sd-event blocks signals in the daemon).
        with open(os.path.join(self.workdir, "argv.log")) as f:
            log = f.read()
        run = [json.loads(l) for l in log.splitlines() if '"record"' in l][0]
        self.assertRegex(run["status"]["SigBlk"], r"^0+$")
        # As root, only CAP_SYS_PTRACE (bit 19) is left to it.
        if os.geteuid() == 0:
            self.assertEqual(int(run["status"]["CapEff"], 16), 1 << 19)

    def test_no_profile_and_no_monitor(self):
        self.target(duty=0.1)
        d = self.daemon()
        sid, rec = self.start_stop(d, 1.5, no_profile=True)
        self.assertNotIn("profile", rec["files"])
        self.assertNotIn("profile", rec)
        sid, rec = self.start_stop(d, 1.5, scenario="onlyprof", no_monitor=True)
        self.assertEqual(sorted(rec["files"]), ["profile", "report_json", "report_txt", "session"])
        check_speedscope(os.path.join(d.output, rec["files"]["profile"]))

    def test_missing_pyspy_is_refused_with_advice(self):
        self.target(duty=0.0)
        d = self.daemon(args=("--pyspy-path", os.path.join(self.workdir, "no-py-spy-here")))
        r = d.ctl("start", "--scenario", "nopyspy", check=1)
        self.assertIn("py-spy was not found", r.stderr)
        self.assertIn("pip install py-spy", r.stderr)
        self.assertIn("--no-profile", r.stderr)
        self.assertEqual(d.ctl_json("start", "--scenario", "x", check=1)["error"]["code"], "no-profiler")
        self.assertEqual(os.listdir(d.output) if os.path.exists(d.output) else [], [])
        d.ctl("start", "--scenario", "fine", "--no-profile", check=0)
        d.ctl("stop", check=0)

    def test_permission_denied_keeps_sampling(self):
        self.target(duty=0.1)
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "permission"})
        sid, rec = self.start_stop(d, 2.5)
        self.assertEqual(rec["profile"]["state"], "missing")
        self.assertIn("Permission Denied", rec["profile"]["reason"])
        self.assertIn("profiler-failed", [e["type"] for e in rec["events"]])
        self.assertGreaterEqual(rec["rows"], 1)  # sampling went on
        self.assertNotIn("profile", rec["files"])
        # py-spy would be refused again: it is not restarted, and the event says why.
        self.assertEqual(len(rec["profile"]["runs"]), 1)
        failed = next(e for e in rec["events"] if e["type"] == "profiler-failed")
        self.assertTrue(failed["message"].endswith("; not started again: another run would fail the same way"),
                        failed["message"])
        self.assertIn("Permission Denied", d.log_text())
        out = d.ctl("show", sid, check=0).stdout
        self.assertIn("profiler-failed", out)

    def test_ignoring_sigint_is_killed_and_reported_lost(self):
        self.target(duty=0.1)
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "ignore-sigint"})
        sid = d.ctl_json("start", "--scenario", "stubborn")["result"]["id"]
        time.sleep(1.2)
        t0 = time.monotonic()
        rec = d.ctl_json("stop")["result"]
        waited = time.monotonic() - t0
        self.assertGreaterEqual(waited, 2.9)  # stop_timeout is 3 s in these tests
        self.assertEqual(rec["profile"]["state"], "lost")
        self.assertIn("did not write its file within 3s of SIGINT and was killed", rec["profile"]["reason"])
        self.assertEqual(rec["profile"]["runs"][0]["outcome"], "lost")

    def test_record_ending_by_itself_waits_for_the_files(self):
        # The duration runs out while py-spy still writes (2 s here): `record` must
        # wait for the finished session, not print one half-way through stopping.
        self.target(duty=0.1)
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "write-delay=2"})
        r = d.ctl("record", "--scenario", "slowfiles", "--duration", "1", "--interval", "0.5", check=0)
        self.assertRegex(r.stdout, r"Session pam_slowfiles_\S+ stopped after \ds: duration of 1s reached\.")
        self.assertRegex(r.stdout, r"Profile: ok, \d+ samples")
        self.assertIn("_profile.speedscope.json", r.stdout)
        self.assertNotIn("stopping", r.stdout)

    def test_show_while_recording_says_so(self):
        self.target(duty=0.1)
        d = self.daemon()
        sid = d.ctl_json("start", "--scenario", "inflight")["result"]["id"]
        wait_until(lambda: d.ctl_json("status")["result"]["session"]["profile"].get("pid"), 10 * SLOW,
                   what="py-spy to run")
        out = d.ctl("show", sid, check=0).stdout
        self.assertIn("Profile: recording (py-spy), 1 run(s) so far; the file is written when the session stops.",
                      out)
        d.ctl("stop", check=0)

    def test_exit_1_after_a_good_file_is_a_good_profile(self):
        self.target(duty=0.1)
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "exit1-after-file"})
        sid, rec = self.start_stop(d, 1.5)
        self.assertEqual(rec["profile"]["state"], "ok")
        self.assertEqual(rec["profile"]["runs"][0]["exit"], 1)
        check_speedscope(os.path.join(d.output, rec["files"]["profile"]))

    def test_truncated_file_is_not_passed_off_as_a_profile(self):
        self.target(duty=0.1)
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "truncated"})
        sid, rec = self.start_stop(d, 1.5)
        self.assertEqual(rec["profile"]["state"], "missing")
        self.assertIn("cut short", rec["profile"]["reason"])
        self.assertFalse(os.path.exists(os.path.join(d.output, sid + "_profile.speedscope.json")))

    def test_pyspy_dying_mid_session(self):
        self.target(duty=0.1)
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "die-after=1"})
        sid = d.ctl_json("start", "--scenario", "dies")["result"]["id"]
        wait_until(lambda: any(e["type"] == "profiler-failed" for e in d.ctl_json("show", sid)["result"]["events"]),
                   10, what="the failure to be recorded")
        st = d.ctl_json("status")["result"]["session"]
        self.assertEqual(st["state"], "running")
        self.assertEqual(st["profile"]["runs"][0]["outcome"], "failed")
        self.assertIn("exited with status 101", st["profile"]["runs"][0]["reason"])
        rec = d.ctl_json("stop")["result"]
        self.assertEqual(rec["profile"]["state"], "missing")

    def test_pam_restart_gives_two_runs_merged_into_one_file(self):
        first = self.target(duty=0.1, threads=1, name="First")
        d = self.daemon()
        sid = d.ctl_json("start", "--scenario", "restart")["result"]["id"]
        time.sleep(1.5)
        first.stop(signal.SIGKILL)
        wait_until(lambda: d.ctl_json("status")["result"]["session"]["profile"]["runs"][0]["outcome"] != "running",
                   10, what="py-spy to end with its target")
        second = self.target(duty=0.1, threads=1, name="Second")
        wait_until(lambda: len(d.ctl_json("status")["result"]["session"]["profile"]["runs"]) == 2, 10,
                   what="a second py-spy run on the new PAM")
        time.sleep(1.5)
        rec = d.ctl_json("stop")["result"]
        runs = rec["profile"]["runs"]
        self.assertEqual([r["target_pid"] for r in runs], [first.pid, second.pid])
        self.assertEqual([r["outcome"] for r in runs], ["ok", "ok"])
        self.assertEqual(rec["profile"]["state"], "ok")
        summary = check_speedscope(os.path.join(d.output, rec["files"]["profile"]))
        names = " ".join(summary["threads"])
        self.assertIn('"First-1"', names)
        self.assertIn(f'pid {second.pid}: ', names)
        self.assertIn('"Second-1"', names)
        # On one clock (speedscope's Time Order view): the new PAM's threads begin when its run began,
        # an empty sample as long as the time before it; they began at 0 s before.
        with open(os.path.join(d.output, rec["files"]["profile"])) as f:
            doc = json.load(f)
        later = [p for p in doc["profiles"] if p["name"].startswith(f"pid {second.pid}: ")]
        self.assertTrue(later)
        begins = runs[1]["started_elapsed_seconds"] - runs[0]["started_elapsed_seconds"]
        for p in later:
            self.assertEqual(p["samples"][0], [])
            self.assertAlmostEqual(p["weights"][0], begins, delta=0.1)
            self.assertEqual(len(p["samples"]), len(p["weights"]))
        self.assertTrue(rec["profile"]["threads_on_one_clock"])
        types = [e["type"] for e in rec["events"]]
        self.assertIn("target-exit", types)
        self.assertIn("target-return", types)
        # py-spy ended with its target, which its pidfd confirmed: not an early stop, nothing restarted.
        self.assertNotIn("profiler-early-exit", types)
        self.assertEqual(rec["profile"]["restarts"], 0)

    def test_the_daemon_answers_while_the_profiler_says_its_version(self):
        # The first profiled start asks the executable its version, once: in a child, while the
        # start waits; the loop goes on answering (it waited in poll() for up to 3 s before).
        self.target(duty=0.1)
        d = self.daemon(env={"PYSPY_DOUBLE_MODE": "version-delay=2"})
        start = subprocess.Popen([PAMPROFCTL, "--socket", d.socket, "--json", "start", "--scenario", "slowver"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: start.poll() is None and start.kill())
        time.sleep(0.5)
        status = d.ctl_json("status")["result"]
        self.assertIsNone(start.poll(), "the start did not wait for the version")  # still asking
        self.assertIsNone(status["session"])
        out, err = start.communicate(timeout=30 * SLOW)
        self.assertEqual(start.returncode, 0, err)
        self.assertTrue(json.loads(out)["result"]["id"].startswith("pam_slowver_"))
        self.assertEqual(d.ctl_json("status")["result"]["session"]["profile"]["version"], "py-spy 0.3.14")
        d.ctl_json("stop")

    def test_chunks_are_merged(self):
        self.target(duty=0.1, threads=2)
        d = self.daemon(args=("--chunk", "1.5"))
        sid, rec = self.start_stop(d, 4.2)
        runs = rec["profile"]["runs"]
        self.assertGreaterEqual(len(runs), 2, runs)
        self.assertTrue(all(r["outcome"] == "ok" for r in runs), runs)
        summary = check_speedscope(os.path.join(d.output, rec["files"]["profile"]))
        self.assertEqual(summary["profiles"], 3)  # one per thread, not one per chunk
        self.assertEqual(rec["profile"]["samples"], summary["samples"])
        self.assertEqual(os.listdir(os.path.join(d.state, "staging")), [])
        # The sampler's own CPU is in the row after each (re)start too, as its CPU since it started:
        # the first interval of every run was left empty (a baseline taken at the row).
        _, rows = read_csv(os.path.join(d.output, sid + "_cpu.csv"))
        filled = [r for r in rows if r["profiler_cpu_percent"]]
        self.assertGreaterEqual(len(filled), len(rows) - 1, rows)
        self.assertTrue(rows[0]["profiler_cpu_percent"], rows[0])

    def test_profile_size_cap_stops_profiling_not_sampling(self):
        # 60 threads at 500 Hz: the double writes about 0.6 MB a second, so a 1 MB cap stops it after one chunk.
        self.target(duty=0.0, threads=60)
        d = self.daemon(args=("--chunk", "1", "--max-profile-mb", "1"))
        sid = d.ctl_json("start", "--scenario", "capped", "--rate", "500", "--interval", "0.5")["result"]["id"]
        wait_until(lambda: any(e["type"] == "profiler-capped" for e in d.ctl_json("show", sid)["result"]["events"]),
                   20 * SLOW, what="the size cap")
        st = d.ctl_json("status")["result"]["session"]
        self.assertEqual(st["state"], "running")
        self.assertTrue(st["profile"]["capped"])
        rows = st["rows"]
        wait_until(lambda: d.ctl_json("status")["result"]["session"]["rows"] >= rows + 2, 10 * SLOW,
                   what="sampling to go on")
        runs = len(st["profile"]["runs"])
        r = d.ctl("stop", check=0)
        self.assertIn("profiling stopped early at the daemon's max_profile_mb", r.stdout)
        rec = d.ctl_json("show", sid)["result"]
        self.assertEqual(rec["profile"]["state"], "ok")
        self.assertEqual(len(rec["profile"]["runs"]), runs)  # no run after the cap
        event = next(e for e in rec["events"] if e["type"] == "profiler-capped")
        self.assertIn("one more would pass max_profile_mb (1 MB); CPU and memory sampling go on", event["message"])
        # The cap is judged as each run ends, by one more run like the last: the file passes it by less
        # than a run (by nothing when the runs are alike, as they were here: 0.63 MB, then the cap).
        path = os.path.join(d.output, rec["files"]["profile"])
        sizes = [r["size"] for r in rec["profile"]["runs"]]
        self.assertLessEqual(os.path.getsize(path), 1024 * 1024 + max(sizes), sizes)
        self.assertLessEqual(sum(sizes[:-1]), 1024 * 1024, sizes)
        check_speedscope(path)

    def test_daemon_killed_mid_session_profile_is_recovered(self):
        self.target(duty=0.1)
        d = self.daemon()
        sid = d.ctl_json("start", "--scenario", "crash")["result"]["id"]
        time.sleep(2.2)
        d.stop(signal.SIGKILL)
        # py-spy got SIGINT from the kernel (parent-death signal) and wrote its staged file.
        staged = os.path.join(d.state, "staging")
        wait_until(lambda: any(f.endswith(".speedscope.json") for f in os.listdir(staged)), 10,
                   what="py-spy's file after the daemon died")
        d2 = self.daemon()
        wait_until(lambda: d2.ctl_json("show", sid)["result"].get("profile", {}).get("state") == "recovered", 10,
                   what="the profile to be recovered")
        rec = d2.ctl_json("show", sid)["result"]
        self.assertEqual(rec["state"], "interrupted")
        check_speedscope(os.path.join(d.output, rec["files"]["profile"]))
        self.assertTrue(os.path.exists(os.path.join(d.output, sid + "_cpu.png")))
        self.assertEqual(rec["files"]["plot"], sid + "_cpu.png")

    def test_real_pyspy_against_the_standin(self):
        real = shutil.which("py-spy")
        if not real:
            self.skipTest(optional("no real py-spy on PATH (it comes from PyPI, which this machine cannot reach): "
                                   "the end-to-end test with the real py-spy did not run"))
        import test_standin  # noqa: F401  (the stand-in's start-up lives there)
        port = test_standin.free_port()
        pam = subprocess.Popen([os.path.join(os.path.dirname(PYSPY_DOUBLE), "..", "pam-standin", "run-pam-standin"),
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (pam.kill(), pam.wait()))
        d = self.daemon(match=f"petal_app_manager\\.main:app .*--port {port}", args=("--pyspy-path", real))
        wait_until(lambda: d.ctl_json("status")["result"]["target"].get("pid") == pam.pid, 30, what="the stand-in")
        sid, rec = self.start_stop(d, 5)
        self.assertEqual(rec["profile"]["state"], "ok", rec["profile"])
        summary = check_speedscope(os.path.join(d.output, rec["files"]["profile"]))
        self.assertIn("MAVLinkWorker-1", " ".join(summary["threads"]))


if __name__ == "__main__":
    main()
