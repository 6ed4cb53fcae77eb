#!/usr/bin/python3
"""Austin sessions: the real Austin 3.7.0 through the daemon, end to end, and each way a run of it ends.

Austin is not in Debian 12 (only 1.0, which cannot read Python 3.11), so the
first test to need it builds it with tests/tools/build-austin.sh from trixie's
source package in Debian's archive into $PAMPROF_BUILD_DIR/austin (about 15 s,
once per build directory), unless $PAMPROF_AUSTIN names one. Only when the
archive cannot be reached are these tests skipped, and they say so.

Every test runs the real Austin. Two exit paths need Austin to misbehave; for
those the daemon runs a small wrapper in the test's directory that execs the
real Austin with a changed argument (a pid that is not there) or with SIGINT
and SIGTERM blocked (so only SIGKILL ends it): the exit status and the file
are still the real Austin's own.
"""

import ast
import glob
import json
import os
import signal
import stat
import subprocess
import time
import urllib.request

from harness import BUILD, PYTHON, SPEEDSCOPE_CHECK, STANDIN, TESTS, DaemonTest, main, read_csv, wait_until

BUILD_AUSTIN = os.path.join(TESTS, "tools", "build-austin.sh")
STANDIN_PKG = os.path.join(TESTS, "pam-standin", "petal_app_manager")
_austin = None


def austin():
    """The path of Austin 3.7.0, built once per build directory; skips the test when it cannot be had."""
    global _austin
    if _austin:
        return _austin
    given = os.environ.get("PAMPROF_AUSTIN")
    if given:
        _austin = given
        return given
    r = subprocess.run(["bash", BUILD_AUSTIN, os.path.join(BUILD, "austin")], capture_output=True, text=True,
                       timeout=600)
    if r.returncode == 3:
        raise SkipAustin("Austin could not be fetched, so the tests with the real Austin were skipped: "
                         + r.stderr.strip().splitlines()[-1])
    if r.returncode != 0:
        raise AssertionError(f"tests/tools/build-austin.sh failed ({r.returncode}):\n{r.stderr}")
    _austin = r.stdout.strip().splitlines()[-1]
    return _austin


class SkipAustin(Exception):
    pass


def healthy(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def check_speedscope(path):
    r = subprocess.run([PYTHON, SPEEDSCOPE_CHECK, "--json", path], capture_output=True, text=True)
    assert r.returncode == 0, f"{path} is not a valid speedscope file: {r.stdout} {r.stderr}"
    return json.loads(r.stdout)


def standin_functions():
    """Every function and method (qualname) defined in the stand-in's package."""
    names = set()
    for path in glob.glob(os.path.join(STANDIN_PKG, "*.py")):
        with open(path) as f:
            tree = ast.parse(f.read())

        def walk(node, prefix):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(prefix + child.name)
                    walk(child, prefix + child.name + ".<locals>.")
                elif isinstance(child, ast.ClassDef):
                    walk(child, prefix + child.name + ".")
                else:
                    walk(child, prefix)
        walk(tree, "")
    return names


class AustinTest(DaemonTest):
    def setUp(self):
        super().setUp()
        try:
            self.austin = austin()
        except SkipAustin as e:
            self.skipTest(str(e))

    def daemon(self, *a, args=(), **kw):
        return super().daemon(*a, args=("--austin-path", kw.pop("austin_path", self.austin), *args), **kw)

    def wrapper(self, python_body):
        """An executable in the work dir that runs python_body, then execs the real Austin."""
        path = os.path.join(self.workdir, "austin-wrapper")
        with open(path, "w") as f:
            f.write(f"#!{PYTHON}\nimport os, signal, sys\nargv = sys.argv[1:]\nAUSTIN = {self.austin!r}\n"
                    f"{python_body}\nos.execv(AUSTIN, [AUSTIN] + argv)\n")
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path

    def start(self, d, *extra, scenario="austin"):
        return d.ctl_json("start", "--scenario", scenario, "--profiler", "austin", *extra)["result"]["id"]

    def profile_of(self, d):
        return d.ctl_json("status")["result"]["session"]["profile"]

    def test_real_austin_against_the_standin(self):
        from test_standin import free_port
        port = free_port()
        pam = subprocess.Popen([STANDIN, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (pam.kill(), pam.wait()))
        d = self.daemon(match=f"petal_app_manager\\.main:app .*--port {port}")
        wait_until(lambda: d.ctl_json("status")["result"]["target"].get("pid") == pam.pid, 30, what="the stand-in")
        # /health answers once uvicorn's start-up has started the workers (they name themselves first thing)
        wait_until(lambda: healthy(port), 30, interval=0.2, what="the stand-in's /health")
        sid = self.start(d)
        time.sleep(1.5)
        st = self.profile_of(d)
        self.assertEqual(st["profiler"], "austin")
        self.assertEqual(st["version"], "austin 3.7.0")
        self.assertEqual(st["state"], "running")
        time.sleep(3.5)
        rec = d.ctl_json("stop")["result"]
        prof = rec["profile"]
        self.assertEqual(prof["state"], "ok", prof)
        self.assertRegex(prof["command"], rf"austin -P -i 10000 -t 1000 -p {pam.pid} -o \S+/staging/{sid}\.1\.austin$")
        run = prof["runs"][0]
        self.assertEqual(run["outcome"], "ok")
        self.assertEqual(run["exit"], 254)  # Austin's exit after SIGINT, with a complete file
        self.assertFalse(run["conversion"]["cut"])
        self.assertEqual(run["conversion"]["bad_lines"], 0)
        path = os.path.join(d.output, rec["files"]["profile"])
        summary = check_speedscope(path)
        threads = " ".join(summary["threads"])
        for name in ("MainThread", "MAVLinkWorker-1", "RedisWorker-1", "MQTTWorker-1"):
            self.assertIn(f'"{name}"', threads)
        self.assertIn(f'Thread {pam.pid} "MainThread"', threads)
        self.assertEqual(prof["samples"], summary["samples"])
        # Weights are Austin's own time: each thread is sampled over the ~5 s the run lasted.
        self.assertGreater(summary["duration"], 3.5)
        self.assertLess(summary["duration"], 8)
        with open(path) as f:
            doc = json.load(f)
        self.assertTrue(doc["exporter"].startswith("pamprofd from austin 3.7.0"))
        ours = {fr["name"] for fr in doc["shared"]["frames"] if "/petal_app_manager/" in fr["file"]}
        defined = standin_functions()
        self.assertTrue({"mavlink_worker", "redis_worker", "mqtt_worker"} <= ours, ours)
        self.assertTrue(ours <= defined | {"<module>"}, ours - defined)
        self.assertIn("Worker.run", ours)  # Austin's qualnames keep the class
        files = {fr["file"] for fr in doc["shared"]["frames"]}
        self.assertTrue(any(f.endswith("petal_app_manager/workers.py") for f in files), files)
        # frames are shared: no two alike
        keys = [(fr["name"], fr["file"], fr.get("line")) for fr in doc["shared"]["frames"]]
        self.assertEqual(len(keys), len(set(keys)))
        # The sampler's own cost is in the CSV, staging is clean.
        _, rows = read_csv(os.path.join(d.output, sid + "_cpu.csv"))
        self.assertTrue(any(r["profiler_cpu_percent"] for r in rows), rows)
        self.assertEqual(os.listdir(os.path.join(d.state, "staging")), [])

    def test_the_configured_default_and_the_refusals(self):
        self.target(duty=0.1)
        d = self.daemon(config_text="profiler = austin\n")
        sid, rec = self._start_stop(d, 1.5)
        self.assertEqual(rec["profile"]["profiler"], "austin")
        self.assertEqual(rec["profile"]["state"], "ok", rec["profile"])
        summary = check_speedscope(os.path.join(d.output, rec["files"]["profile"]))
        self.assertIn('"Burner-1"', " ".join(summary["threads"]))
        # What Austin cannot do is refused before anything starts, and so is a sampler that does not exist.
        r = d.ctl_json("start", "--scenario", "x", "--native", check=1)
        self.assertEqual(r["error"]["code"], "bad-field")
        self.assertIn("--native needs --profiler py-spy", r["error"]["message"])
        r = d.ctl_json("start", "--scenario", "x", "--profiler", "perf", check=1)
        self.assertIn('no profiler called "perf": use py-spy or austin', r["error"]["message"])

    def _start_stop(self, d, seconds, *extra):
        sid = d.ctl_json("start", "--scenario", "austin", *extra)["result"]["id"]
        time.sleep(seconds)
        return sid, d.ctl_json("stop")["result"]

    def test_missing_austin_is_refused_with_advice(self):
        self.target(duty=0.0)
        d = self.daemon(austin_path=os.path.join(self.workdir, "no-austin-here"))
        r = d.ctl("start", "--scenario", "noaustin", "--profiler", "austin", check=1)
        self.assertIn("austin was not found (looked at the configured austin_path", r.stderr)
        self.assertIn("build-austin.sh", r.stderr)
        self.assertIn("--no-profile", r.stderr)

    def test_sigterm_gives_a_complete_file(self):
        self.target(duty=0.1, threads=2)
        d = self.daemon()
        self.start(d)
        wait_until(lambda: self.profile_of(d).get("pid"), 10, what="Austin to run")
        time.sleep(1)
        os.kill(self.profile_of(d)["pid"], signal.SIGTERM)
        wait_until(lambda: self.profile_of(d)["runs"][0].get("conversion") not in (None, "running"), 10,
                   what="the run to end and be converted")
        rec = d.ctl_json("stop")["result"]
        run = rec["profile"]["runs"][0]
        self.assertEqual((run["outcome"], run["exit"]), ("ok", 241))
        self.assertEqual(run["reason"], "a SIGTERM from outside pamprofd ended it, with a complete file")
        self.assertEqual(rec["profile"]["state"], "ok")
        check_speedscope(os.path.join(d.output, rec["files"]["profile"]))

    def test_target_exit_ends_the_run_with_0_and_a_new_pid_gets_a_new_run(self):
        first = self.target(duty=0.1, threads=1, name="First")
        d = self.daemon()
        self.start(d)
        time.sleep(1.5)
        first.stop(signal.SIGTERM)
        wait_until(lambda: self.profile_of(d)["runs"][0]["outcome"] != "running", 10, what="Austin to end with PAM")
        second = self.target(duty=0.1, threads=1, name="Second")
        wait_until(lambda: len(self.profile_of(d)["runs"]) >= 2, 10, what="a second Austin run on the new PAM")
        wait_until(lambda: self.profile_of(d)["runs"][-1]["outcome"] == "running", 10,
                   what="Austin running on the new PAM")
        time.sleep(1.5)
        rec = d.ctl_json("stop")["result"]
        runs = rec["profile"]["runs"]
        # The first run ends with its PAM; the last is on the new one, stopped by the stop. Between them
        # may be an attempt on the new PAM made before its interpreter was up (a loaded machine finds
        # the process sooner than Python starts): a failed run, restarted, and counted so.
        self.assertEqual((runs[0]["outcome"], runs[0]["exit"]), ("ok", 0), runs)
        self.assertEqual((runs[-1]["outcome"], runs[-1]["exit"]), ("ok", 254), runs)
        self.assertTrue(all(r["outcome"] == "failed" for r in runs[1:-1]), runs)
        self.assertEqual(runs[0]["reason"], f"pid {first.pid} exited and Austin finished its file")
        self.assertNotIn("reason", runs[-1])  # the usual end: SIGINT from pamprofd, exit 254, nothing to say
        # Its target's end is not an early stop: its pidfd said so; full coverage.
        self.assertNotIn("profiler-early-exit", [e["type"] for e in rec["events"]])
        self.assertNotIn("early_exit", runs[0])
        self.assertEqual(rec["profile"]["restarts"], len(runs) - 2)
        self.assertEqual([r["target_pid"] for r in runs], [first.pid] + [second.pid] * (len(runs) - 1))
        names = " ".join(check_speedscope(os.path.join(d.output, rec["files"]["profile"]))["threads"])
        self.assertIn('"First-1"', names)
        self.assertIn(f'pid {second.pid}: Thread ', names)
        self.assertIn('"Second-1"', names)

    def test_missing_pid_exit_36(self):
        self.target(duty=0.1)
        # The real Austin, sent to a pid that is not there.
        w = self.wrapper("if '-p' in argv: i = argv.index('-p'); argv[i + 1] = '4194303'")
        d = self.daemon(austin_path=w)
        sid, rec = self._start_stop(d, 2.5, "--profiler", "austin")
        run = rec["profile"]["runs"][0]
        self.assertEqual((run["outcome"], run["exit"]), ("failed", 36))
        self.assertIn("is not running: Austin could not attach to it (exit 36)", run["reason"])
        self.assertEqual(rec["profile"]["state"], "missing")
        self.assertGreaterEqual(rec["rows"], 1)  # sampling went on
        self.assertIn("profiler-failed", [e["type"] for e in rec["events"]])

    def test_not_python_exit_32_names_both_causes(self):
        sleeper = subprocess.Popen(["sleep", "60"])
        self.addCleanup(lambda: (sleeper.kill(), sleeper.wait()))
        d = self.daemon()
        sid, rec = self._start_stop(d, 3, "--profiler", "austin", "--pid", str(sleeper.pid))
        run = rec["profile"]["runs"][0]
        self.assertEqual((run["outcome"], run["exit"]), ("failed", 32))
        self.assertIn("not a Python process", run["reason"])
        self.assertIn("permission problem", run["reason"])
        self.assertIn("CAP_SYS_PTRACE", rec["profile"]["reason"])
        out = d.ctl("show", sid, check=0).stdout
        self.assertIn("not a Python process", out)

    def test_killed_by_someone_else_keeps_the_file_up_to_its_last_whole_line(self):
        self.target(duty=0.2, threads=3)
        d = self.daemon()
        self.start(d)
        wait_until(lambda: self.profile_of(d).get("pid"), 10, what="Austin to run")
        time.sleep(2)
        os.kill(self.profile_of(d)["pid"], signal.SIGKILL)
        wait_until(lambda: self.profile_of(d)["runs"][0].get("conversion") not in (None, "running"), 10,
                   what="the cut run to be converted")
        # the restart comes 0.05 s after the early stop, from a timer: on a loaded machine a stop that
        # follows the conversion at once can come first (seen here: a record of one run)
        wait_until(lambda: len(self.profile_of(d)["runs"]) == 2, 10, what="Austin's restart")
        rec = d.ctl_json("stop")["result"]
        run = rec["profile"]["runs"][0]
        self.assertEqual((run["outcome"], run["exit"]), ("partial", -9))
        self.assertIn("Austin was killed by signal 9 (not by pamprofd)", run["reason"])
        self.assertIn("used up to its last whole line", run["reason"])
        self.assertGreater(run["conversion"]["samples"], 10)
        self.assertEqual(rec["profile"]["state"], "partial")
        self.assertIn("used up to its last whole line", rec["profile"]["reason"])
        # PAM still ran: the run ended early, and Austin was started again at once.
        self.assertTrue(run["early_exit"])
        event = next(e for e in rec["events"] if e["type"] == "profiler-early-exit")
        self.assertRegex(event["message"], r"^Austin run 1 stopped early, after \d+\.\d\d s: Austin was killed by signal 9 "
                                           r"\(not by pamprofd\); .*; restart 1 in 0\.05 s$")
        self.assertEqual(len(rec["profile"]["runs"]), 2)
        summary = check_speedscope(os.path.join(d.output, rec["files"]["profile"]))
        good = [r for r in rec["profile"]["runs"] if r["outcome"] in ("ok", "partial")]
        self.check_merged_samples(summary, good)
        self.assertIn('"Burner-3"', " ".join(summary["threads"]))

    def test_ignoring_sigint_is_killed_after_its_grace_and_kept_as_partial(self):
        self.target(duty=0.2, threads=2)
        w = self.wrapper("signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})")
        d = self.daemon(austin_path=w)
        self.start(d)
        time.sleep(2)
        t0 = time.monotonic()
        rec = d.ctl_json("stop")["result"]
        self.assertGreaterEqual(time.monotonic() - t0, 2.9)  # min(Austin's 5 s, stop_timeout 3 s)
        run = rec["profile"]["runs"][0]
        self.assertEqual((run["outcome"], run["exit"]), ("partial", -9))
        self.assertIn("Austin did not finish its file within 3s of SIGINT and was killed", run["reason"])
        self.assertEqual(rec["profile"]["state"], "partial")
        check_speedscope(os.path.join(d.output, rec["files"]["profile"]))

    def check_merged_samples(self, summary, runs):
        """The merged file holds every run's samples, and at most one empty one a thread a later run
        (profile-merge.h: a thread's time before its run, so it is placed when it ran)."""
        converted = sum(r["conversion"]["samples"] for r in runs)
        # what the converter left out (a garbage thread id) is counted for the report's data line
        self.assertTrue(all(r["conversion"]["garbage_samples"] >= 0 for r in runs), runs)
        self.assertGreaterEqual(summary["samples"], converted)
        self.assertLessEqual(summary["samples"], converted + summary["profiles"] * (len(runs) - 1))

    def test_chunks_are_converted_and_merged(self):
        self.target(duty=0.1, threads=2)
        d = self.daemon(args=("--chunk", "1.5"))
        sid, rec = self._start_stop(d, 4.2, "--profiler", "austin")
        runs = rec["profile"]["runs"]
        self.assertGreaterEqual(len(runs), 2, runs)
        self.assertTrue(all(r["outcome"] == "ok" and r["conversion"]["samples"] > 0 for r in runs), runs)
        summary = check_speedscope(os.path.join(d.output, rec["files"]["profile"]))
        self.assertEqual(summary["profiles"], 3)  # one per thread, not one per chunk
        self.check_merged_samples(summary, runs)
        self.assertEqual(os.listdir(os.path.join(d.state, "staging")), [])

    def test_daemon_killed_mid_session_austin_finishes_and_it_is_recovered(self):
        self.target(duty=0.1, threads=2)
        d = self.daemon()
        sid = self.start(d, scenario="crash")
        time.sleep(2.2)
        d.stop(signal.SIGKILL)
        staged = os.path.join(d.state, "staging")
        def finished():
            for f in os.listdir(staged):
                if f.endswith(".austin"):
                    with open(os.path.join(staged, f)) as text:
                        if "\n# duration: " in text.read():
                            return True
            return False
        # Austin got SIGINT from the kernel (parent-death signal) and finished its file: the trailer is there.
        wait_until(finished, 10, what="Austin's finished file after the daemon died")
        self.assertTrue(any(f.endswith(".threads") for f in os.listdir(staged)))
        d2 = self.daemon()
        wait_until(lambda: d2.ctl_json("show", sid)["result"].get("profile", {}).get("state") == "recovered", 15,
                   what="the profile to be recovered")
        rec = d2.ctl_json("show", sid)["result"]
        summary = check_speedscope(os.path.join(d.output, rec["files"]["profile"]))
        self.assertIn('"Burner-2"', " ".join(summary["threads"]))
        self.assertEqual([f for f in os.listdir(staged) if f.endswith((".austin", ".threads", ".json"))], [])


if __name__ == "__main__":
    main()
