#!/usr/bin/python3
"""Disk faults and housekeeping: a full filesystem, the free-space floor, a removed output
directory, retention and delete. The daemon stays up and what was written stays readable."""

import os
import subprocess
import time

from harness import SLOW, DaemonTest, main, read_csv, wait_until


class DiskTest(DaemonTest):
    def tmpfs(self, size):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a small tmpfs")
        path = os.path.join(self.workdir, f"tmpfs-{size}")
        os.mkdir(path)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
        self.addCleanup(lambda: subprocess.run(["umount", "-l", path]))
        return path

    def test_full_filesystem_ends_the_session_cleanly(self):
        self.target(duty=0.0, threads=150)
        small = self.tmpfs("600k")
        d = self.daemon(args=("--min-free-mb", "0", "--output-dir", small))
        sid = d.ctl_json("start", "--scenario", "full", "--interval", "0.1", "--no-profile")["result"]["id"]
        wait_until(lambda: d.ctl_json("status")["result"]["session"] is None, 60, interval=0.5,
                   what="the session to end on a full disk")
        rec = d.ctl_json("show", sid)["result"]
        self.assertEqual(rec["state"], "failed")
        self.assertIn("No space left on device", rec["end_reason"])
        # Every row that is there is whole.
        header, rows = read_csv(os.path.join(small, sid + "_cpu.csv"))
        self.assertGreater(len(rows), 0)
        for r in rows:
            self.assertEqual(len(r), len(header))
            float(r["cpu_percent"])
        with open(os.path.join(small, sid + "_threads.csv")) as f:
            self.assertTrue(f.read().endswith("\n"))
        self.assertTrue(d.ctl_json("status")["ok"])
        self.assertIn("failure", [e["type"] for e in rec["events"]])

    def test_floor_refuses_a_start_and_stops_a_session(self):
        self.target(duty=0.0)
        d = self.daemon(args=("--min-free-mb", "1000000"))
        r = d.ctl("start", "--scenario", "nospace", "--no-profile", check=1)
        self.assertIn("MB are free on the filesystem of", r.stderr)
        self.assertIn("min_free_mb", r.stderr)
        small = self.tmpfs("8m")
        d2 = self.daemon(start=False, args=("--min-free-mb", "4", "--socket", os.path.join(self.workdir, "two.sock"),
                                            "--output-dir", small, "--state-dir", os.path.join(self.workdir, "state2")))
        d2.socket = os.path.join(self.workdir, "two.sock")
        d2.start()
        sid = d2.ctl_json("start", "--scenario", "fills", "--no-profile", "--interval", "0.5")["result"]["id"]
        with open(os.path.join(small, "ballast"), "wb") as f:
            f.write(b"\0" * (5 * 1024 * 1024))
        wait_until(lambda: d2.ctl_json("status")["result"]["session"] is None, 15, what="the floor to stop it")
        rec = d2.ctl_json("show", sid)["result"]
        self.assertEqual(rec["state"], "stopped")
        self.assertIn("left free on the output filesystem", rec["end_reason"])
        self.assertIn("disk-low", [e["type"] for e in rec["events"]])

    def test_output_dir_removed_mid_session(self):
        self.target(duty=0.0)
        out = os.path.join(self.workdir, "doomed")
        d = self.daemon(args=("--output-dir", out))
        sid = d.ctl_json("start", "--scenario", "gone", "--no-profile")["result"]["id"]
        time.sleep(1.2)
        subprocess.run(["rm", "-rf", out], check=True)
        wait_until(lambda: d.ctl_json("status")["result"]["session"] is None, 15, what="the session to end")
        rec = d.ctl_json("show", sid)["result"]
        self.assertIn("output directory was removed", rec["end_reason"])
        self.assertTrue(d.ctl_json("status")["ok"])
        # The next session goes on in the re-created directory.
        d.ctl("start", "--scenario", "after", "--no-profile", check=0)
        d.ctl("stop", check=0)

    def test_retention_and_delete(self):
        self.target(duty=0.0)
        d = self.daemon(args=("--keep-sessions", "2"))
        ids = []
        for k in range(3):
            ids.append(d.ctl_json("start", "--scenario", f"keep{k}", "--no-profile")["result"]["id"])
            time.sleep(1.1)
            d.ctl("stop", check=0)
        # Retention runs once a session has ended, freeing the files in a child: the oldest goes
        # a moment after the stop's answer (under qemu it was still listed).
        wait_until(lambda: [s["id"] for s in d.ctl_json("list")["result"]["sessions"]] == ids[1:], 20 * SLOW,
                   what="retention to remove the oldest session")
        self.assertFalse(any(f.startswith(ids[0]) for f in os.listdir(d.output)))
        self.assertIn(f"Retention: removed session {ids[0]}", d.log_text())

        out = d.ctl("delete", ids[1], check=0).stdout
        self.assertIn(f"Deleted {ids[1]}", out)
        self.assertFalse(any(f.startswith(ids[1]) for f in os.listdir(d.output)))
        self.assertEqual(d.ctl_json("delete", ids[1], check=1)["error"]["code"], "not-found")
        running = d.ctl_json("start", "--scenario", "busy", "--no-profile")["result"]["id"]
        self.assertEqual(d.ctl_json("delete", running, check=1)["error"]["code"], "busy")
        d.ctl("stop", check=0)


if __name__ == "__main__":
    main()
