#!/usr/bin/python3
"""The daemon run the way pamprofd.service and pamprofd.socket run it, without systemd as PID 1.

systemd-socket-activate stands in for pamprofd.socket (a SOCK_SEQPACKET socket
made before the daemon runs, handed over on the first connection, then given
the unit's SocketMode= and SocketGroup=), and setpriv for the [Service]
section's identity: a user other than root, NoNewPrivileges=, and exactly the
capabilities of CapabilityBoundingSet= and AmbientCapabilities=, read from the
built unit. PAM runs as a third user, the client as a fourth. A NOTIFY_SOCKET
of the test's own receives READY, STATUS, WATCHDOG and STOPPING.

Then each capability of the unit is taken away in turn, and the test shows the
thing that breaks without it: the unit holds no capability that nothing needs.
"""

import csv
import grp
import json
import os
import pwd
import signal
import socket
import subprocess
import unittest

from unitlib import (BURNER, CAP_NUMBERS, PAMPROFCTL, PAMPROFD, PYSPY_DOUBLE, PYTHON, SERVICE, SLOW,
                     SOCKET_UNIT, NotifyListener, WorkdirTest, need, parse_unit, unit_value, unit_words,
                     wait_until)

DAEMON_USER = "bin"        # stands in for User=pamprofd, which need not exist on this machine
TARGET_USER = "daemon"     # PAM runs as someone else than the daemon
CLIENT_USER = "nobody"     # a user of the allowed group...
CLIENT_GROUP = "nogroup"   # ...which stands in for pamprof


def setpriv_caps(caps):
    return ",".join("+" + c[len("CAP_"):].lower() for c in sorted(caps))


class ServiceSandboxTest(WorkdirTest):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to run the daemon, PAM and the client as other users")
        need("setpriv", "systemd-socket-activate")
        cls.service = parse_unit(SERVICE)
        cls.socket_unit = parse_unit(SOCKET_UNIT)
        cls.caps = set(unit_words(cls.service, "Service", "AmbientCapabilities"))
        exec_start = unit_value(cls.service, "Service", "ExecStart").split()
        cls.exec_args = exec_start[1:]

    def setUp(self):
        super().setUp()
        self.tag = f"pamprof-sandbox-{os.getpid()}-{id(self) & 0xffffff:x}"
        du = pwd.getpwnam(DAEMON_USER)
        cu = pwd.getpwnam(CLIENT_USER)
        self.state = self.path("state")
        os.mkdir(self.state)
        os.chown(self.state, du.pw_uid, du.pw_gid)
        # A client's own directory, closed to everyone else, and a sticky one like /tmp.
        self.userdir = self.path("user")
        os.mkdir(self.userdir, 0o700)
        os.chown(self.userdir, cu.pw_uid, grp.getgrnam(CLIENT_GROUP).gr_gid)
        self.sticky = self.path("sticky")
        os.mkdir(self.sticky)
        os.chmod(self.sticky, 0o1777)
        self.pyspy_log = self.path("py-spy-argv.log")
        open(self.pyspy_log, "w").close()
        os.chown(self.pyspy_log, du.pw_uid, du.pw_gid)
        self.sock = self.path("pamprofd.sock")
        self.daemon_log = self.path("pamprofd.log")

    def tearDown(self):
        super().tearDown()
        if getattr(self, "logf", None):
            self.logf.close()
        if getattr(self, "notify", None):
            self.notify.close()

    # -- the pieces --

    def start_target(self):
        p = self.spawn(["setpriv", f"--reuid={TARGET_USER}", f"--regid={pwd.getpwnam(TARGET_USER).pw_gid}",
                        "--clear-groups", "--", PYTHON, BURNER, "--duty", "0.1", "--cmdline-tag", self.tag],
                       stdout=subprocess.PIPE, text=True)
        self.target_pid = int(p.stdout.readline())
        p.stdout.close()
        return p

    def start_service(self, caps, watchdog_usec=None):
        """pamprofd as the units run it, with CAPS; returns the notify listener once READY=1 came."""
        notify = self.notify = NotifyListener(self.path("notify.sock"))
        env = ["NOTIFY_SOCKET=" + notify.path, "PYSPY_DOUBLE_ARGV_LOG=" + self.pyspy_log]
        if watchdog_usec:
            env.append(f"WATCHDOG_USEC={watchdog_usec}")
        for k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "PAMPROF_LOG_LEVEL"):
            if k in os.environ:
                env.append(f"{k}={os.environ[k]}")
        capargs = ["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]
        if caps:
            c = setpriv_caps(caps)
            capargs = [f"--inh-caps={c}", f"--ambient-caps={c}", f"--bounding-set=-all,{c}"]
        no_new_privs = ["--no-new-privs"] if unit_value(self.service, "Service", "NoNewPrivileges") == "yes" else []
        argv = ["systemd-socket-activate", "--seqpacket", "-l", self.sock]
        for e in env:
            argv += ["-E", e]
        argv += ["setpriv", f"--reuid={DAEMON_USER}", f"--regid={pwd.getpwnam(DAEMON_USER).pw_gid}",
                 "--clear-groups", *capargs, *no_new_privs, "--",
                 PAMPROFD, *self.exec_args, "--config", "/dev/null", "--state-dir", self.state,
                 "--output-dir", os.path.join(self.state, "profiles"), "--target-match", self.tag,
                 "--allowed-group", CLIENT_GROUP, "--pyspy-path", PYSPY_DOUBLE, "--pss-interval", "0.5",
                 "--scan-interval", "1"]
        self.logf = open(self.daemon_log, "ab")
        self.daemon = self.spawn(argv, stdout=self.logf, stderr=subprocess.STDOUT)
        wait_until(lambda: os.path.exists(self.sock), 10, what="the socket unit's socket")
        # What SocketMode= and SocketGroup= do.
        os.chmod(self.sock, int(unit_value(self.socket_unit, "Socket", "SocketMode"), 8))
        os.chown(self.sock, 0, grp.getgrnam(CLIENT_GROUP).gr_gid)
        # The first connection starts the service.
        self.ctl("version", user="root", check=0)
        self.assertTrue(notify.wait_for("READY=1"), notify.messages)
        return notify

    def ctl(self, *args, user=CLIENT_USER, check=None):
        argv = [PAMPROFCTL, "--socket", self.sock, *args]
        if user != "root":
            argv = ["setpriv", f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}", "--init-groups",
                    "--"] + argv
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60 * SLOW)
        if check is not None and r.returncode != check:
            raise AssertionError(f"pamprofctl {' '.join(args)} exited {r.returncode}, wanted {check}:\n"
                                 f"{r.stdout}{r.stderr}\nlog:\n{self.log()}")
        return r

    def session(self, scenario, output=None, seconds=2.5):
        """start, wait, stop as the client; the stop reply (or None and the start's error)."""
        args = ["start", "--scenario", scenario, "--interval", "0.5"] + (["--output", output] if output else [])
        r = self.ctl("--json", *args)
        start = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
        if r.returncode != 0:
            return None, start.get("error", {}).get("message", r.stderr)
        wait_until(lambda: self.status_rows() >= 3, 20, what="3 rows")
        r = self.ctl("--json", "stop", check=0)
        return json.loads(r.stdout.strip().splitlines()[-1])["result"], None

    def status_rows(self):
        r = self.ctl("--json", "status", check=0)
        s = json.loads(r.stdout.strip().splitlines()[-1])["result"].get("session") or {}
        return s.get("rows", 0)

    def log(self):
        with open(self.daemon_log, errors="replace") as f:
            return f.read()

    def stop_service(self):
        self.daemon.send_signal(signal.SIGTERM)
        rc = self.daemon.wait(30 * SLOW)
        self.logf.close()
        return rc

    def pss_values(self, result):
        with open(os.path.join(result["output_dir"], result["files"]["cpu_csv"]), newline="") as f:
            return [row["pss_mb"] for row in csv.DictReader(f)]

    def pyspy_runs(self):
        with open(self.pyspy_log) as f:
            return [json.loads(line) for line in f if '"record"' in line]

    # -- the service as the units describe it --

    def test_service_with_the_units_capabilities(self):
        self.start_target()
        notify = self.start_service(self.caps, watchdog_usec=1_000_000)
        self.assertIn("Using the control socket passed by systemd", self.log())
        self.assertTrue(notify.wait_for("STATUS=PAM pid"), notify.messages)
        self.assertTrue(notify.wait_for("WATCHDOG=1", count=3, timeout=5),
                        f"the event loop must ping a 1 s watchdog: {notify.messages}")

        client = pwd.getpwnam(CLIENT_USER)
        for where in (self.userdir, self.sticky):
            res, err = self.session("sandbox", output=where)
            self.assertIsNone(err, f"--output {where}: {err}\n{self.log()}")
            self.assertEqual(res["state"], "stopped")
            for name in res["files"].values():
                st = os.stat(os.path.join(where, name))
                self.assertEqual(st.st_uid, client.pw_uid, f"{name} must belong to the client")
            # smaps_rollup of another user's process: CAP_SYS_PTRACE.
            self.assertTrue(any(self.pss_values(res)), f"no PSS read from PAM:\n{self.log()}")
            self.assertEqual(res["profile"]["state"], "ok", json.dumps(res["profile"]))
            self.assertIn("profile", res["files"])
        self.assertTrue(notify.wait_for("STATUS=recording sandbox"), notify.messages)

        # py-spy got CAP_SYS_PTRACE through the ambient set, past NoNewPrivileges.
        runs = self.pyspy_runs()
        self.assertTrue(runs, "py-spy never ran")
        eff = int(runs[-1]["status"]["CapEff"], 16)
        self.assertTrue(eff & (1 << CAP_NUMBERS["CAP_SYS_PTRACE"]), runs[-1])
        self.assertEqual(runs[-1]["status"]["NoNewPrivs"], "1")
        # ... and nothing else the daemon holds (spawn.c clears the ambient set and raises that one again).
        extra = sorted(c for c in self.caps - {"CAP_SYS_PTRACE"} if eff & (1 << CAP_NUMBERS[c]))
        self.assertEqual(extra, [], runs[-1])

        self.assertEqual(self.stop_service(), 0, self.log())
        self.assertTrue(notify.wait_for("STOPPING=1"), notify.messages)

    # -- each capability, taken away, and what breaks --

    def without(self, cap):
        if cap not in self.caps:
            self.skipTest(f"the unit does not hold {cap}")
        self.start_target()
        self.start_service(self.caps - {cap})

    def test_without_cap_sys_ptrace_no_pss_and_no_profile(self):
        self.without("CAP_SYS_PTRACE")
        res, err = self.session("noptrace", output=self.userdir)
        self.assertIsNone(err, err)
        self.assertFalse(any(self.pss_values(res)), "PSS of another user's process needs CAP_SYS_PTRACE")
        self.assertNotEqual(res["profile"]["state"], "ok")
        self.assertIn("Permission Denied", json.dumps(res["profile"]), "py-spy needs CAP_SYS_PTRACE")

    def test_without_cap_dac_override_no_output_into_the_clients_directory(self):
        self.without("CAP_DAC_OVERRIDE")
        res, err = self.session("nodac", output=self.userdir)
        self.assertIsNone(res)
        self.assertIn("Permission denied", err)

    def test_without_cap_chown_no_files_for_the_client(self):
        self.without("CAP_CHOWN")
        res, err = self.session("nochown", output=self.userdir)
        self.assertIsNone(res)
        self.assertIn("Operation not permitted", err)

    def test_without_cap_fowner_no_files_in_a_sticky_directory(self):
        self.without("CAP_FOWNER")
        res, err = self.session("nofowner", output=self.sticky)
        self.assertIsNone(res)
        self.assertIn("Operation not permitted", err)
        res, err = self.session("nofowner", output=self.userdir)
        self.assertIsNone(err, "a directory of the client's own needs no CAP_FOWNER")

    def test_every_capability_of_the_unit_has_a_test_above(self):
        tested = {"CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE", "CAP_CHOWN", "CAP_FOWNER"}
        self.assertLessEqual(self.caps, tested, "a capability was added to the unit: show here why it is needed")


if __name__ == "__main__":
    from unitlib import tap
    tap.main()
