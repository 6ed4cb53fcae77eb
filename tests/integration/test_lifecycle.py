#!/usr/bin/python3
"""The daemon's life: configuration errors, signals, a crash mid-session, systemd's sockets and notifications."""

import json
import os
import signal
import socket
import subprocess
import time

from harness import Daemon, DaemonTest, PAMPROFD, main, read_csv, wait_until


class LifecycleTest(DaemonTest):
    def run_daemon(self, *args):
        return subprocess.run([PAMPROFD, *args], capture_output=True, text=True, timeout=20)

    def test_bad_config_refuses_to_start_with_file_and_line(self):
        conf = os.path.join(self.workdir, "bad.conf")
        cases = [
            ("# comment\n\ninterval = 1\nfrobnicate = yes\n", ":4: unknown key \"frobnicate\""),
            ("interval = fast\n", ":1: interval must be a number of seconds from 0.1 to 3600, not \"fast\""),
            ("rate = 5000\n", ":1: rate must be a whole number from 1 to 1000"),
            ("threads = maybe\n", ":1: threads must be yes or no"),
            ("output_dir = relative/path\n", ":1: output_dir must be an absolute path"),
            ("just some words\n", ":1: expected \"key = value\""),
            ("socket = \"/tmp/unterminated\n", ":1: unterminated quote"),
        ]
        for text, want in cases:
            with open(conf, "w") as f:
                f.write(text)
            r = self.run_daemon("--config", conf, "--check-config")
            self.assertEqual(r.returncode, 1, text)
            self.assertIn(conf + want, r.stderr, text)
        with open(conf, "w") as f:
            f.write("target_match = (unclosed\n")
        r = self.run_daemon("--config", conf, "--check-config")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a valid regular expression", r.stderr)
        r = self.run_daemon("--config", os.path.join(self.workdir, "missing.conf"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing.conf: cannot open", r.stderr)

    def test_flags_override_the_file_and_check_config_prints_it(self):
        conf = os.path.join(self.workdir, "ok.conf")
        with open(conf, "w") as f:
            f.write("interval = 5\nrate = 50  \n  # indented comment\nallowed_group = 'wheel'\n")
        r = self.run_daemon("--config", conf, "--interval", "2", "--check-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("interval = 2\n", r.stdout)
        self.assertIn("rate = 50\n", r.stdout)
        self.assertIn("allowed_group = wheel\n", r.stdout)
        self.assertIn("target_match = uvicorn", r.stdout)
        r = self.run_daemon("--config", conf, "--interval", "0")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--interval: interval must be", r.stderr)
        r = self.run_daemon("--no-such-flag")
        self.assertEqual(r.returncode, 2)
        r = self.run_daemon("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--socket", "--output-dir", "--target-match", "--max-duration", "--allowed-group",
                     "--pyspy-path", "--rate", "--proc-root"):
            self.assertIn(flag, r.stdout)

    def test_default_regex_matches_pam_command_lines(self):
        import re
        r = self.run_daemon("--config", "/dev/null", "--check-config")
        regex = next(l.split(" = ", 1)[1] for l in r.stdout.splitlines() if l.startswith("target_match"))
        for cmd in ("uvicorn petal_app_manager.main:app --host 0.0.0.0 --port 9000",
                    "/home/droneleaf/pam/.venv/bin/python3 /home/droneleaf/pam/.venv/bin/uvicorn "
                    "petal_app_manager.main:app --port 9000",
                    "/usr/bin/python3 -m uvicorn petal_app_manager.main:app --host 127.0.0.1"):
            self.assertTrue(re.search(regex, cmd), cmd)
        for cmd in ("uvicorn other.main:app", "python petal_app_manager/main.py"):
            self.assertFalse(re.search(regex, cmd), cmd)

    def test_killed_mid_session_is_recovered_as_interrupted(self):
        self.target(duty=0.2)
        d = self.daemon()
        sid = d.ctl_json("start", "--scenario", "crash", "--interval", "0.5")["result"]["id"]
        wait_until(lambda: d.ctl_json("status")["result"]["session"]["rows"] >= 4, 10, what="4 rows")
        d.stop(signal.SIGKILL)
        _, rows = read_csv(os.path.join(d.output, sid + "_cpu.csv"))
        self.assertGreaterEqual(len(rows), 4)
        d2 = self.daemon()
        rec = d2.ctl_json("show", sid)["result"]
        self.assertEqual(rec["state"], "interrupted")
        self.assertIn("stopped while recording", rec["end_reason"])
        self.assertEqual(rec["rows"], len(rows))
        self.assertAlmostEqual(rec["summary"]["cpu_mean"],
                               sum(float(r["cpu_percent"]) for r in rows) / len(rows), delta=0.01)
        with open(os.path.join(d.output, sid + "_session.json")) as f:
            self.assertEqual(json.load(f)["state"], "interrupted")
        self.assertIn("interrupted", d2.ctl("list", check=0).stdout)
        self.assertIn("was interrupted by a daemon restart", d2.log_text())

    def test_socket_activation(self):
        sock = os.path.join(self.workdir, "activated.sock")
        d = self.daemon(start=False)
        d.argv = ["systemd-socket-activate", "--seqpacket", "-l", sock] + d.argv
        d.socket = sock
        d.start(wait=False)
        wait_until(lambda: os.path.exists(sock), 10, what="systemd-socket-activate to listen")
        r = wait_until(lambda: d.ctl("version").returncode == 0, 20, what="an activated daemon")
        self.assertIn("Using the control socket passed by systemd", d.log_text())
        # It names the socket it was given, not the configured one.
        self.assertEqual(d.ctl_json("status")["result"]["daemon"]["socket"], sock)
        self.assertIn(f"ready on {sock}", d.log_text())

    def test_sd_notify_ready_status_stopping(self):
        self.target(duty=0.0)
        ns_path = os.path.join(self.workdir, "notify.sock")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(ns_path)
        ns.settimeout(10)
        d = self.daemon(env={"NOTIFY_SOCKET": ns_path})
        msgs = []

        def drain(until):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(until in m for m in msgs):
                try:
                    msgs.append(ns.recv(4096).decode())
                except socket.timeout:
                    break
            return any(until in m for m in msgs)

        self.assertTrue(drain("READY=1"), msgs)
        self.assertTrue(drain("STATUS=PAM pid"), msgs)
        d.ctl("start", "--scenario", "notify", check=0)
        self.assertTrue(drain("STATUS=recording notify"), msgs)
        d.stop(signal.SIGTERM)
        self.assertTrue(drain("STOPPING=1"), msgs)
        ns.close()

    def test_sighup_reloads_and_keeps_the_session(self):
        t = self.target(duty=0.1)
        ns_path = os.path.join(self.workdir, "notify.sock")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(ns_path)
        ns.settimeout(5)
        d = self.daemon(config_text="interval = 1\n", env={"NOTIFY_SOCKET": ns_path})
        sid = d.ctl_json("start", "--scenario", "reload", "--no-profile")["result"]["id"]
        msgs = []

        def collect(until):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not until(msgs):
                try:
                    msgs.append(ns.recv(4096).decode())
                except socket.timeout:
                    break
        collect(lambda ms: any("READY=1" in m for m in ms))
        with open(d.config, "w") as f:
            f.write("interval = 0.5\nproc_root = /elsewhere\n")
        d.proc.send_signal(signal.SIGHUP)
        collect(lambda ms: any("RELOADING=1" in m for m in ms) and "READY=1" in ms[-1])
        reload_at = next(i for i, m in enumerate(msgs) if "RELOADING=1" in m)
        self.assertIn("MONOTONIC_USEC=", msgs[reload_at])
        self.assertTrue(any("READY=1" in m for m in msgs[reload_at + 1:]), msgs)
        st = d.ctl_json("status")["result"]
        self.assertEqual(st["daemon"]["default_interval"], 0.5)
        self.assertEqual(st["session"]["id"], sid)          # the session goes on
        self.assertEqual(st["session"]["interval"], 1)      # with its own options
        self.assertIn("proc_root changed to /elsewhere; that takes a restart", d.log_text())
        # A broken file is refused and the running configuration kept.
        with open(d.config, "w") as f:
            f.write("interval = never\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "Reload failed" in d.log_text(), 5, what="the failed reload to be logged")
        self.assertEqual(d.ctl_json("status")["result"]["daemon"]["default_interval"], 0.5)
        d.ctl("stop", check=0)
        ns.close()

    def test_target_unit_without_a_system_bus_says_so(self):
        if os.path.exists("/run/dbus/system_bus_socket"):
            self.skipTest("a system bus is running here; tests/systemd/nspawn-e2e.sh covers target_unit")
        argv = list(Daemon(self.workdir, self.tag).argv) + ["--target-unit", "petal-app-manager.service"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 1)
        self.assertIn("target_unit = petal-app-manager.service needs the system bus", r.stderr)

    def test_wall_clock_stepped_mid_session(self):
        """The wall clock jumps an hour forward (tests/tools/clockstep.c, a test double for the clock, is
        LD_PRELOADed into the daemon): elapsed_seconds and the sampling grid do not move; timestamps do."""
        lib = os.environ.get("PAMPROF_CLOCKSTEP_LIB")
        if not lib or not os.path.exists(lib):
            self.skipTest("the clockstep test double was not built")
        step = os.path.join(self.workdir, "clockstep")
        with open(step, "w") as f:
            f.write("0\n")
        self.target(duty=0.1)
        d = self.daemon(env={"LD_PRELOAD": lib, "PAMPROF_CLOCKSTEP_FILE": step,
                             "ASAN_OPTIONS": "verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", "")})
        sid = d.ctl_json("start", "--scenario", "clock", "--interval", "0.5", "--no-profile")["result"]["id"]
        wait_until(lambda: d.ctl_json("status")["result"]["session"]["rows"] >= 3, 10, what="3 rows")
        with open(step, "w") as f:
            f.write("3600\n")
        rows_at_step = d.ctl_json("status")["result"]["session"]["rows"]
        wait_until(lambda: d.ctl_json("status")["result"]["session"]["rows"] >= rows_at_step + 3, 10,
                   what="3 rows after the step")
        rec = d.ctl_json("stop")["result"]
        _, rows = read_csv(os.path.join(d.output, sid + "_cpu.csv"))
        elapsed = [float(r["elapsed_seconds"]) for r in rows]
        for a, b in zip(elapsed, elapsed[1:]):
            self.assertAlmostEqual(b - a, 0.5, delta=0.15)
        self.assertLess(rec["duration_seconds"], 60)
        import datetime
        stamps = [datetime.datetime.fromisoformat(r["timestamp"]) for r in rows]
        jumps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:])]
        self.assertEqual(sum(1 for j in jumps if 3500 < j < 3700), 1, jumps)

    def test_second_daemon_on_the_same_socket_refuses(self):
        d = self.daemon()
        argv = list(Daemon(self.workdir, self.tag).argv)
        argv[argv.index("--socket") + 1] = d.socket
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Another pamprofd answers on", r.stderr)
        self.assertTrue(d.answers())


if __name__ == "__main__":
    main()
