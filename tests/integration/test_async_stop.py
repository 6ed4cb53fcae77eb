#!/usr/bin/python3
"""The loop never waits: while a session with a big profile stops, the daemon still answers.

At stop the runs are merged, the plot drawn and the report written, each in a
child of its own (daemon/exec/child.h) started from the one before; the event
loop goes on meanwhile. Here py-spy's TEST DOUBLE (tests/tools/py-spy) pads
each run's file to 40 MB (PYSPY_DOUBLE_MODE=bulk-mb=40), so the merge of two
or three of them and the report over the result take seconds: `status` asked
during the stop must be answered within a second each time, and one of the
answers must show the merge under way. When the merge ran inside the loop,
no status was answered until the stop was over.
"""

import json
import os
import socket
import threading
import time

from harness import SLOW, DaemonTest, main, wait_until


def status(sock_path, timeout):
    """One status request on a connection of its own; (seconds it took, reply)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.connect(sock_path)
        s.send(json.dumps({"version": 1, "cmd": "status"}).encode())
        reply = json.loads(s.recv(1 << 20))
    finally:
        s.close()
    return time.monotonic() - t0, reply


class AsyncStopTest(DaemonTest):
    def test_status_is_answered_while_a_big_profile_is_merged(self):
        target = self.target(duty=0.05, threads=3)
        d = self.daemon(args=("--chunk", "2"), env={"PYSPY_DOUBLE_MODE": "bulk-mb=40"})
        wait_until(lambda: d.ctl_json("status")["result"]["target"].get("pid") == target.pid, 20,
                   what="the target")
        sid = d.ctl_json("start", "--scenario", "bigstop", "--interval", "0.5")["result"]["id"]

        def finished_runs():
            prof = d.ctl_json("status")["result"]["session"]["profile"]
            return len([r for r in prof["runs"] if r["outcome"] == "ok"]) >= 2

        wait_until(finished_runs, 120, interval=0.5, what="two runs of 40 MB")

        stop = {}

        def stopper():
            stop["reply"] = d.ctl_json("stop", timeout=300)

        t = threading.Thread(target=stopper)
        t.start()
        answers = []
        while t.is_alive():
            # A loop that waited would leave this unanswered for the whole merge (seconds).
            took, reply = status(d.socket, 10 * SLOW)
            answers.append((took, reply))
            self.assertLess(took, 1.0 * SLOW, f"status took {took:.2f} s during the stop")
            time.sleep(0.05)
        t.join()

        self.assertEqual(stop["reply"]["result"]["id"], sid)
        states = [((r["result"].get("session") or {}).get("profile") or {}).get("state") for _, r in answers]
        self.assertIn("merging", states, f"no status answered during the merge: {states}")
        longest = max(took for took, _ in answers)
        print(f"# {len(answers)} status answered during the stop, the longest in {longest * 1000:.0f} ms")

        # The stop's files are all there, as before: the merged profile, the plot, the report.
        files = stop["reply"]["result"]["files"]
        for key in ("profile", "plot", "report_txt", "report_json", "cpu_csv", "session"):
            self.assertIn(key, files)
            self.assertTrue(os.path.getsize(os.path.join(d.output, files[key])) > 0, key)
        with open(os.path.join(d.output, files["session"])) as f:
            rec = json.load(f)
        self.assertEqual(rec["state"], "stopped")
        self.assertEqual(rec["profile"]["state"], "ok")
        self.assertGreater(os.path.getsize(os.path.join(d.output, files["profile"])), 80 * 2**20)
        # the staged runs are gone once merged (before the part counts as stopped)
        self.assertEqual([n for n in os.listdir(os.path.join(d.state, "staging")) if n.startswith(sid)], [])


if __name__ == "__main__":
    main()
