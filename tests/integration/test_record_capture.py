#!/usr/bin/python3
"""tests/tools/record-capture: a real capture (the real Austin through a private pamprofd) that the report reads,
with a HOW.md that says how it was made and files that name no path of the checkout; bad input refused."""

import json
import os
import subprocess

from harness import BUILD, NCPU, PAMPROFCTL, TESTS, DaemonTest, main
from test_austin import SkipAustin, austin

RECORD = os.path.join(TESTS, "tools", "record-capture")
CHECKOUT = os.path.dirname(os.path.abspath(TESTS))


class RecordCaptureTest(DaemonTest):
    def record(self, *args, timeout=120):
        return subprocess.run([RECORD, *args], capture_output=True, text=True, timeout=timeout)

    def test_a_capture_the_report_reads(self):
        try:
            path = austin()
        except SkipAustin as e:
            self.skipTest(str(e))
        out = os.path.join(self.workdir, "cap")
        r = self.record("trial", "--switch", "blocking-coroutine", "--duration", "4", "--warmup", "1",
                        "--build", BUILD, "--austin", path, "--out", out, "--note", "A trial.")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip().splitlines()[-1], out)
        files = sorted(os.listdir(out))
        self.assertEqual(files, ["HOW.md", "trial_cpu.csv", "trial_profile.speedscope.json", "trial_session.json",
                                 "trial_threads.csv"])
        for name in files:
            with open(os.path.join(out, name)) as f:
                self.assertNotIn(CHECKOUT, f.read(), f"{name} names the checkout")
        with open(os.path.join(out, "HOW.md")) as f:
            how = f.read()
        self.assertIn("tests/tools/record-capture trial --switch blocking-coroutine --interval 0.5 --rate 100 "
                      "--duration 4 --warmup 1 --note 'A trial.'", how)
        self.assertIn("A trial.", how)
        self.assertIn("austin 3.7.0", how)
        self.assertIn(f"- machine: {NCPU} cores", how)
        self.assertIn("switched on: --blocking-coroutine", how)
        self.assertRegex(how, r"- date: \d{4}-\d\d-\d\d \d\d:\d\d")
        self.assertRegex(how, r"load average [\d.]+ as the session started, [\d.]+ as it ended")
        self.assertRegex(how, r"stand-in source: (git tree [0-9a-f]{12}|uncommitted changes over git tree [0-9a-f]{12})")
        with open(os.path.join(out, "trial_session.json")) as f:
            session = json.load(f)
        self.assertEqual(session["scenario"], "trial")
        self.assertEqual(session["state"], "stopped")
        self.assertEqual(session["options"]["rate"], 100)
        self.assertEqual(session["options"]["interval"], 0.5)
        self.assertRegex(session["target"]["cmdline"], r"-m uvicorn petal_app_manager\.main:app .*--port \d+")
        r = subprocess.run([PAMPROFCTL, "report", "--json", os.path.join(out, "trial_session.json")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["source"]["profile"]["exporter"], "pamprofd from austin 3.7.0")
        self.assertEqual(doc["source"]["session"]["id"], session["id"])
        self.assertGreaterEqual(doc["csv"]["rows"], 7)
        self.assertEqual(sorted(t["name"] for t in doc["threads"]),
                         ["MAVLinkWorker-1", "MQTTWorker-1", "MainThread", "RedisWorker-1"])
        coroutines = [c["function"]["name"] for loop in doc["event_loop"] for c in loop["coroutines"]]
        self.assertIn("refresh_cloud_settings", coroutines)
        # An existing capture is kept unless -f.
        r = self.record("trial", "--build", BUILD, "--austin", path, "--out", out, "--duration", "1")
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{out} exists: give -f to replace it", r.stderr)

    def test_bad_input_is_refused_with_a_sentence(self):
        for args, message in (
                (["bad name"], "capture name 'bad name' must be 1 to 64 of A-Z a-z 0-9 . _ -"),
                (["x", "--switch", "busy thread"], "--switch 'busy thread' is not a flag name"),
                (["x", "--duration", "0.5"], "--duration must be 1 to 600 seconds"),
                (["x", "--rate", "5000"], "--rate must be 1 to 1000"),
                (["x", "--nice", "-30"], "--nice must be -20 to 19"),
                (["x", "--switch", "leak=1", "--", "sleep", "9"], "--switch is for the stand-in"),
                (["x", "--"], "nothing after '--'"),
                (["x", "--build", os.path.join(self.workdir, "nothing")], "is not built")):
            r = self.record(*args, timeout=30)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(message, r.stderr, args)
            self.assertEqual(r.stdout, "", args)


if __name__ == "__main__":
    main()
