#!/usr/bin/python3
"""Profiles to Pyroscope: the daemon's spool at a session's end, pamprofd-upload against a mock.

No Pyroscope server can run here: tests/tools/mock-pyroscope.py keeps its documented /ingest
rules (label grammar, last-space split and integer counts, type suffix, 4 MiB, age limits, the
64 KiB line trap) and records what it took. A session runs against the py-spy test double; its
folded stacks must reach the mock with the name, labels, bounds and per-stack samples of the
speedscope file.
"""

import json
import os
import re
import socket
import subprocess
import time

from harness import BUILD, DaemonTest, PYTHON, TESTS, main, wait_until, SLOW, free_port

UPLOAD = os.path.join(BUILD, "daemon", "pamprofd-upload")
MOCK = os.path.join(TESTS, "tools", "mock-pyroscope.py")


def clean(text):
    """folded.c's cleaning of a name: ';' to ':', control bytes to '?', 1 KiB at most."""
    out = "".join(":" if c == ";" else "?" if ord(c) < 0x20 or c == "\x7f" else c for c in text)
    return out.encode()[:1024].decode("utf-8", "ignore") or "?"


def folded_of_speedscope(path):
    """The per-stack and per-thread sample counts of a speedscope file, as folded.c names them."""
    with open(path) as f:
        doc = json.load(f)
    frames = doc["shared"]["frames"]

    def text(i):
        fr = frames[i]
        name, file, line = fr.get("name", ""), fr.get("file") or "", fr.get("line") or 0
        return clean(f"{name} ({file}:{line})" if file and line else f"{name} ({file})" if file else name)

    stacks, threads = {}, {}
    for prof in doc["profiles"]:
        m = re.search(r'"(.*)"', prof["name"])
        root = clean(m.group(1) if m else prof["name"])
        for sample in prof["samples"]:
            key = ";".join([root] + [text(i) for i in sample])
            stacks[key] = stacks.get(key, 0) + 1
            threads[root] = threads.get(root, 0) + 1
    return stacks, threads


class Mock:
    def __init__(self, workdir, port, *args):
        self.record = os.path.join(workdir, "mock.jsonl")
        self.proc = subprocess.Popen([PYTHON, MOCK, "--record", self.record, "--port", str(port), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert int(self.proc.stdout.readline()) == port

    def received(self):
        if not os.path.exists(self.record):
            return []
        with open(self.record) as f:
            return [json.loads(line) for line in f]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class UploadTest(DaemonTest):
    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mocks = []
        self.spool = os.path.join(self.workdir, "state", "upload")
        self.conf = os.path.join(self.workdir, "upload.conf")
        with open(self.conf, "w") as f:
            f.write(f"pyroscope_url = {self.url}\npyroscope_tenant = drones\n")

    def tearDown(self):
        for m in self.mocks:
            m.stop()
        super().tearDown()

    def mock(self, *args):
        m = Mock(self.workdir, self.port, *args)
        self.mocks.append(m)
        return m

    def upload(self, *args, timeout=30):
        t0 = time.monotonic()
        r = subprocess.run([UPLOAD, "--config", self.conf, "--spool", self.spool, *args],
                           capture_output=True, text=True, timeout=timeout * SLOW)
        return r, time.monotonic() - t0

    def spooled(self):
        return sorted(n for n in os.listdir(self.spool) if not n.startswith(".") and n != "rejected")

    def fake(self, base, age=5, size=0):
        """A spool entry as the daemon writes one, ended `age` seconds ago."""
        os.makedirs(os.path.join(self.spool, "rejected"), exist_ok=True)
        now = int(time.time())
        with open(os.path.join(self.spool, base + ".folded"), "w") as f:
            f.write("MainThread;main (app.py:1);work (app.py:5) 7\nworker;loop (w.py:2) 3\n")
            f.write("x" * size + (" 1\n" if size else ""))
        with open(os.path.join(self.spool, base + ".json"), "w") as f:
            json.dump({"name": "pam.wall", "labels": {"host": "h", "scenario": "s", "sampler": "py-spy"},
                       "from": now - age - 10, "until": now - age, "sampleRate": 100, "spyName": "pyspy"}, f)

    def session(self, d, seconds=2.5):
        sid = d.ctl_json("start", "--scenario", "fleet", "--rate", "50")["result"]["id"]
        time.sleep(seconds)
        return sid, d.ctl_json("stop")["result"]

    def test_a_session_reaches_pyroscope_with_its_samples(self):
        self.target(duty=0.2, threads=2)
        d = self.daemon(config_text=f"pyroscope_url = {self.url}\n")
        sid, rec = self.session(d)
        self.assertEqual(self.spooled(), [sid + ".folded", sid + ".json"])
        self.assertEqual(oct(os.stat(self.spool).st_mode & 0o777), "0o770")
        with open(os.path.join(self.spool, sid + ".json")) as f:
            labels = json.load(f)
        self.assertEqual(labels["name"], "pam.wall")  # py-spy ran with --idle
        self.assertEqual(labels["labels"]["scenario"], "fleet")
        self.assertEqual(labels["labels"]["sampler"], "py-spy")
        self.assertEqual(labels["labels"]["host"], socket.gethostname())
        self.assertEqual(labels["from"], int(rec["started_at_unix"]))
        self.assertGreaterEqual(labels["until"], int(rec["ended_at_unix"]))
        self.assertLessEqual(labels["until"], int(rec["ended_at_unix"]) + 1)
        self.assertEqual(labels["sampleRate"], 50)
        mock = self.mock()
        r, _ = self.upload()
        self.assertEqual(r.returncode, 0, r.stderr)
        got = mock.received()
        self.assertEqual(len(got), 1, got)
        got = got[0]
        self.assertEqual(got["status"], 200)
        self.assertEqual(got["app"], "pam.wall")
        self.assertEqual(got["type"], "wall")
        self.assertEqual(got["labels"], {"host": socket.gethostname(), "scenario": "fleet", "sampler": "py-spy"})
        q = got["query"]
        self.assertEqual((int(q["from"]), int(q["until"])), (labels["from"], labels["until"]))
        self.assertEqual((q["format"], q["sampleRate"], q["spyName"], q["units"], q["aggregationType"]),
                         ("folded", "50", "pyspy", "samples", "sum"))
        self.assertEqual(got["tenant"], "drones")
        self.assertFalse(got["dropped_after_long_line"])
        # Per stack and per thread, what the speedscope file holds.
        stacks, threads = folded_of_speedscope(self.session_files(d, rec, "profile"))
        self.assertEqual(got["stacks"], stacks)
        by_thread = {}
        for k, n in got["stacks"].items():
            by_thread[k.split(";")[0]] = by_thread.get(k.split(";")[0], 0) + n
        self.assertEqual(by_thread, threads)
        self.assertEqual(sum(threads.values()), rec["profile"]["samples"])
        print(f"# {len(stacks)} stacks, {sum(threads.values())} samples, {len(threads)} threads matched")
        self.assertEqual(self.spooled(), [])

    def test_bad_options_are_refused_with_their_reason(self):
        for args, said in ((("--timeout", "5x"), '--timeout must be 1 to 3600 seconds, not "5x"'),
                           (("--timeout", "0"), '--timeout must be 1 to 3600 seconds, not "0"'),
                           (("extra",), "pamprofd-upload takes no arguments")):
            r, _ = self.upload(*args)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(said, r.stderr)

    def test_no_url_no_spool(self):
        self.target(duty=0.1)
        d = self.daemon()
        self.session(d, 1.5)
        self.assertFalse(os.path.exists(self.spool))

    def test_offline_it_waits_and_goes_when_the_server_is_back(self):
        self.fake("pam_s_20250101_000000")
        r, _ = self.upload()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Failed to connect", r.stderr)
        self.assertIn("sent again later", r.stderr)
        self.assertEqual(len(self.spooled()), 2)
        r, _ = self.upload()  # backing off: no try at all
        self.assertIn("Backing off after 1 failed tries", r.stderr)
        mock = self.mock()
        r, _ = self.upload()
        self.assertEqual(mock.received(), [])  # still backing off
        r, _ = self.upload("--force")
        self.assertEqual([g["status"] for g in mock.received()], [200], r.stderr)
        self.assertEqual(self.spooled(), [])
        self.assertFalse(os.path.exists(os.path.join(self.spool, ".backoff")))

    def test_a_4xx_is_not_retried_moved_aside_and_said(self):
        mock = self.mock()
        self.fake("pam_s_20250101_000000", age=7200)  # a Pi whose clock was two hours behind
        r, _ = self.upload()
        self.assertEqual([g["status"] for g in mock.received()], [400])
        self.assertIn("too old", r.stderr)
        self.assertIn("real-time clock", r.stderr)
        self.assertIn("Not sent again", r.stderr)
        self.assertEqual(self.spooled(), [])
        rejected = os.path.join(self.spool, "rejected")
        self.assertEqual(sorted(os.listdir(rejected)), ["pam_s_20250101_000000.folded",
                                                          "pam_s_20250101_000000.json"])
        with open(os.path.join(rejected, "pam_s_20250101_000000.json")) as f:
            self.assertEqual(json.load(f)["rejected"]["status"], 400)
        self.upload("--force")
        self.assertEqual(len(mock.received()), 1)  # never again

    def test_a_5xx_is_retried_later(self):
        mock = self.mock("--status", "503")
        self.fake("pam_s_20250101_000000")
        r, _ = self.upload()
        self.assertIn("answered 503", r.stderr)
        self.assertEqual(len(self.spooled()), 2)
        with open(os.path.join(self.spool, ".backoff")) as f:
            failures, nxt = map(int, f.read().split())
        self.assertEqual(failures, 1)
        self.assertAlmostEqual(nxt - time.time(), 60, delta=5)
        mock.stop()
        self.mocks.remove(mock)
        mock = self.mock()  # the same record: the 503, then what this one took
        self.upload("--force")
        self.assertEqual([g["status"] for g in mock.received()], [503, 200])
        self.assertEqual(self.spooled(), [])

    def test_a_slow_server_is_a_timeout_not_a_hang(self):
        self.mock("--delay", "30")
        self.fake("pam_s_20250101_000000")
        r, took = self.upload("--timeout", "2")
        self.assertLess(took, 6, r.stderr)
        self.assertIn("timed out", r.stderr)
        self.assertEqual(len(self.spooled()), 2)

    def test_a_big_profile_goes_in_parts_under_4_mib(self):
        mock = self.mock()
        # 9 MB of lines of 60 KB: three parts, each under the server's 4 MiB.
        self.fake("pam_s_20250101_000000")
        with open(os.path.join(self.spool, "pam_s_20250101_000000.folded"), "a") as f:
            for i in range(150):
                f.write(f"T;{i:05d}" + "y" * 60000 + " 2\n")
        r, _ = self.upload()
        got = mock.received()
        self.assertEqual([g["status"] for g in got], [200, 200, 200], r.stderr)
        self.assertTrue(all(g["bytes"] <= 4 * 1024 * 1024 and not g["dropped_after_long_line"] for g in got))
        self.assertEqual(sum(g["lines"] for g in got), 152)

    def test_a_full_spool_drops_the_oldest_and_counts(self):
        os.makedirs(self.spool + "/rejected", exist_ok=True)
        for i, name in enumerate(["pam_a_1", "pam_b_2", "pam_c_3"]):
            self.fake(name, size=400 * 1024)
            t = time.time() - 1000 + i
            for ext in (".folded", ".json"):
                os.utime(os.path.join(self.spool, name + ext), (t, t))
        self.target(duty=0.1)
        d = self.daemon(config_text=f"pyroscope_url = {self.url}\nupload_spool_mb = 1\n")
        sid, _ = self.session(d, 1.5)
        left = self.spooled()
        self.assertIn(sid + ".json", left)
        self.assertNotIn("pam_a_1.json", left)
        self.assertIn("pam_c_3.json", left)
        with open(os.path.join(self.spool, ".dropped")) as f:
            dropped = int(f.read())
        self.assertGreaterEqual(dropped, 1)
        wait_until(lambda: "dropped unsent" in d.log_text(), 5, what="the drop in the log")
        print(f"# dropped {dropped}: {[n for n in left if n.endswith('.json')]} kept")


if __name__ == "__main__":
    main()
