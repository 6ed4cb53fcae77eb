#!/usr/bin/python3
"""The journal path: when JOURNAL_STREAM names its stderr, the daemon logs natively with PAMPROF_* fields.

journald does not run on the test machines, so the test plays it: in a mount
namespace of its own it puts a tmpfs on /run/systemd, binds
/run/systemd/journal/socket (the fixed address sd_journal_send() writes to),
gives the daemon a stderr whose device and inode it names in JOURNAL_STREAM, as
systemd does for a service whose output goes to the journal, and decodes the
native protocol's datagrams. Nothing outside the namespace sees any of it.
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import unittest

from unitlib import (BURNER, PAMPROFCTL, PAMPROFD, PYTHON, SLOW, WorkdirTest, need, wait_until)

JOURNAL_SOCKET = "/run/systemd/journal/socket"
IN_NAMESPACE = "PAMPROF_TEST_JOURNAL_NS"


def parse_native(data):
    """One datagram of journald's native protocol: KEY=VALUE lines, or KEY, a 64-bit length, binary VALUE."""
    fields = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            key, _, value = line.partition(b"=")
            i = nl + 1
        else:
            key = line
            (size,) = struct.unpack_from("<Q", data, nl + 1)
            value = data[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[key.decode()] = value.decode(errors="replace")
    return fields


class FakeJournal:
    def __init__(self):
        os.makedirs(os.path.dirname(JOURNAL_SOCKET), exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(JOURNAL_SOCKET)
        self.entries = []
        self.cond = threading.Condition()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                return
            with self.cond:
                self.entries.append(parse_native(data))
                self.cond.notify_all()

    def wait_for(self, timeout=10, **want):
        def match():
            return next((e for e in self.entries if all(e.get(k) == v for k, v in want.items())), None)
        with self.cond:
            self.cond.wait_for(match, timeout * SLOW)
            return match()


@unittest.skipUnless(os.environ.get(IN_NAMESPACE) == "1", "runs inside its own mount namespace (see main)")
class JournalTest(WorkdirTest):
    @classmethod
    def setUpClass(cls):
        cls.journal = FakeJournal()

    def setUp(self):
        super().setUp()
        self.tag = f"pamprof-journal-{os.getpid()}-{id(self) & 0xffff:x}"
        self.sock = self.path("pamprofd.sock")

    def start_daemon(self, stream_matches=True):
        self.stderr = open(self.path("stderr"), "wb")
        st = os.fstat(self.stderr.fileno())
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID")}
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino + (0 if stream_matches else 1)}"
        self.daemon = self.spawn([PAMPROFD, "--config", "/dev/null", "--socket", self.sock, "--state-dir",
                                  self.path("state"), "--output-dir", self.path("out"), "--target-match", self.tag,
                                  "--scan-interval", "1"], stdout=self.stderr, stderr=self.stderr, env=env)
        wait_until(lambda: self.ctl("version").returncode == 0, 20, what="the daemon to answer")

    def ctl(self, *args):
        return subprocess.run([PAMPROFCTL, "--socket", self.sock, *args], capture_output=True, text=True,
                              timeout=60 * SLOW)

    def stderr_text(self):
        self.stderr.flush()
        with open(self.path("stderr"), errors="replace") as f:
            return f.read()

    def tearDown(self):
        super().tearDown()
        self.stderr.close()

    def test_fields_and_priorities_in_the_journal(self):
        target = self.spawn([PYTHON, BURNER, "--duty", "0.05", "--cmdline-tag", self.tag], stdout=subprocess.PIPE,
                            text=True)
        pid = int(target.stdout.readline())
        target.stdout.close()
        self.start_daemon()
        ready = self.journal.wait_for(SYSLOG_IDENTIFIER="pamprofd", PRIORITY="6")
        self.assertIsNotNone(ready, self.journal.entries)

        r = self.ctl("start", "--scenario", "journal-test", "--interval", "0.5", "--no-profile")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        start = self.journal.wait_for(PAMPROF_EVENT="session-start", PAMPROF_SCENARIO="journal-test")
        self.assertIsNotNone(start, self.journal.entries)
        self.assertEqual(start["PRIORITY"], "5")
        self.assertEqual(start["PAMPROF_PID"], str(pid))
        self.assertTrue(start["PAMPROF_SESSION"].startswith("pam_journal-test_"), start)
        self.assertIn("started", start["MESSAGE"])
        session = start["PAMPROF_SESSION"]

        target.send_signal(signal.SIGKILL)
        target.wait()
        gone = self.journal.wait_for(PAMPROF_EVENT="target-exit", PAMPROF_SESSION=session)
        self.assertIsNotNone(gone, self.journal.entries)
        self.assertEqual(gone["PAMPROF_PID"], str(pid))
        self.assertEqual(gone["PAMPROF_SCENARIO"], "journal-test")

        r = self.ctl("stop")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        stop = self.journal.wait_for(PAMPROF_EVENT="session-stop", PAMPROF_SESSION=session)
        self.assertIsNotNone(stop, self.journal.entries)

        self.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(30 * SLOW), 0)
        # Everything went to the journal, nothing to the stream.
        self.assertNotIn("ready on", self.stderr_text())

    def test_a_stream_that_is_not_stderr_keeps_the_prefixed_lines(self):
        before = len(self.journal.entries)
        self.start_daemon(stream_matches=False)
        wait_until(lambda: "ready on" in self.stderr_text(), 10, what="the ready line on stderr")
        self.assertRegex(self.stderr_text(), r"(?m)^<6>pamprofd .* ready on ")
        self.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(30 * SLOW), 0)
        self.assertEqual(len(self.journal.entries), before, "nothing may reach the journal socket")


def main():
    if os.environ.get(IN_NAMESPACE) != "1":
        if os.geteuid() != 0:
            print("1..0 # SKIP needs root for a mount namespace of its own")
            sys.exit(0)
        need("unshare", "mount")
        # A private mount namespace with a tmpfs on /run/systemd: the fake journal's socket lives
        # there and nowhere else.
        run = "/run/systemd" if os.path.isdir("/run/systemd") else "/run"
        script = f'mount -t tmpfs -o mode=0755 tmpfs {run} && exec "$@"'
        env = dict(os.environ, **{IN_NAMESPACE: "1"})
        os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                               sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)
    from unitlib import tap
    tap.main()


if __name__ == "__main__":
    try:
        main()
    except unittest.SkipTest as e:
        print(f"1..0 # SKIP {e}")
