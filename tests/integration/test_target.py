#!/usr/bin/python3
"""Following PAM: found by its command line, its exit and its return mid-session."""

import json
import os
import signal
import time

from harness import DaemonTest, main, read_csv, wait_until


class TargetTest(DaemonTest):
    def test_pam_exits_and_returns_mid_session(self):
        first = self.target(duty=0.2)
        d = self.daemon()
        sid = d.ctl_json("start", "--scenario", "restart", "--interval", "0.5")["result"]["id"]
        wait_until(lambda: d.ctl_json("status")["result"]["session"].get("rows", 0) >= 3, 10, what="3 rows")
        first.stop(signal.SIGKILL)
        wait_until(lambda: d.ctl_json("status")["result"]["target"]["state"] == "absent", 5, what="PAM gone")
        time.sleep(1.5)
        st = d.ctl_json("status")["result"]
        self.assertEqual(st["session"]["state"], "running")
        rows_during_absence = st["session"]["rows"]
        second = self.target(duty=0.2)
        wait_until(lambda: d.ctl_json("status")["result"]["target"].get("pid") == second.pid, 5,
                   what="the new PAM to be found")
        wait_until(lambda: d.ctl_json("status")["result"]["session"]["rows"] >= rows_during_absence + 3, 10,
                   what="rows from the new PAM")
        st = d.ctl_json("status")["result"]
        self.assertEqual(st["target"]["restarts"], 1)
        self.assertEqual(st["session"]["pid"], second.pid)
        stopped = d.ctl_json("stop")["result"]
        types = [e["type"] for e in stopped["events"]]
        self.assertIn("target-exit", types)
        self.assertIn("target-return", types)
        exit_ev = next(e for e in stopped["events"] if e["type"] == "target-exit")
        back_ev = next(e for e in stopped["events"] if e["type"] == "target-return")
        self.assertEqual(exit_ev["pid"], first.pid)
        self.assertEqual(back_ev["pid"], second.pid)

        _, rows = read_csv(os.path.join(d.output, sid + "_cpu.csv"))
        pids = [int(r["pid"]) for r in rows]
        self.assertEqual(set(pids), {first.pid, second.pid})
        self.assertEqual(pids, sorted(pids, key=lambda p: p == second.pid))  # old pid rows, then new
        # Nothing collected before the restart was lost, and no row spans the gap.
        self.assertEqual(len(rows), stopped["rows"])
        times = [float(r["elapsed_seconds"]) for r in rows]
        gap = max(b - a for a, b in zip(times, times[1:]))
        self.assertGreater(gap, 1.4)
        for r in rows:
            self.assertLess(float(r["cpu_percent"]), 60)  # no spike from mixing two processes' counters

    def test_status_names_pam(self):
        t = self.target(duty=0.0)
        d = self.daemon()
        st = d.ctl_json("status")["result"]["target"]
        self.assertEqual(st["pid"], t.pid)
        self.assertIn(self.tag, st["cmdline"])
        self.assertEqual(st["restarts"], 0)
        self.assertGreater(st["uptime_seconds"], 0)
        self.assertLess(st["uptime_seconds"], 60)
        text = d.ctl("status", check=0).stdout
        self.assertIn(f"PAM:     pid {t.pid}, up ", text)

    def test_explicit_pid_exit_ends_the_session(self):
        t = self.target(duty=0.1)
        d = self.daemon(match="matches-nothing-at-all")
        sid = d.ctl_json("start", "--scenario", "pidgone", "--pid", str(t.pid), "--interval", "0.5")["result"]["id"]
        time.sleep(1.3)
        t.stop(signal.SIGKILL)
        wait_until(lambda: d.ctl_json("status")["result"]["session"] is None, 5, what="the session to end")
        rec = d.ctl_json("show", sid)["result"]
        self.assertEqual(rec["state"], "stopped")
        self.assertIn(f"the target (pid {t.pid}) exited", rec["end_reason"])
        self.assertGreaterEqual(rec["rows"], 1)

    def test_the_oldest_interpreter_is_pam_not_its_fork(self):
        # A parent that matches and its child that matches: the parent is PAM.
        t = self.target(duty=0.0, child=0.0)
        d = self.daemon()
        self.assertEqual(d.ctl_json("status")["result"]["target"]["pid"], t.pid)


if __name__ == "__main__":
    main()
