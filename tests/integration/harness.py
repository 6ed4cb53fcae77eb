"""Integration-test harness: the real pamprofd on a temporary socket, real target processes.

Every test gets its own directory with the socket, the state dir and the
output dir; the daemon runs with a configuration file of its own and a
target regex that matches only that test's processes, so tests never see
each other (or a real PAM on the machine).
"""

import contextlib
import csv
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import stage  # noqa: E402  (tests/stage.py: tools every user can read)
import tap  # noqa: E402  (tests/tap.py: every case reported in TAP)
from tap import optional  # noqa: E402,F401

BUILD = os.environ.get("PAMPROF_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
TESTS = os.environ.get("PAMPROF_TESTS_DIR", os.path.join(os.path.dirname(__file__), ".."))
PYTHON = os.environ.get("PAMPROF_PYTHON", "/usr/bin/python3")
# PAMPROF_DAEMON: another daemon executable, e.g. the aarch64 daemon under qemu-user
# (tests/arm64/pamprofd-qemu.in), with this build's client and tools.
PAMPROFD = os.environ.get("PAMPROF_DAEMON") or os.path.join(BUILD, "daemon", "pamprofd")
PAMPROFCTL = os.path.join(BUILD, "client", "pamprofctl")
# The daemon of a build tree draws with the build tree's render module (meson test sets this too).
os.environ.setdefault("PAMPROF_RENDER_MODULE", os.path.join(BUILD, "common", "plot", "pamprof-render.so"))
# Programs that may run as another user come from a copy every user can read (tests/stage.py).
BURNER = stage.tool("tools", "cpu-burner.py")
STANDIN = stage.tool("pam-standin", "run-pam-standin")
# A real py-spy when one is on PATH and PAMPROF_REAL_PYSPY=1; else the test double (tests/tools/README.md).
PYSPY_DOUBLE = stage.tool("tools", "py-spy")
SPEEDSCOPE_CHECK = os.path.join(TESTS, "tools", "speedscope-check.py")
PYSPY = shutil.which("py-spy") if os.environ.get("PAMPROF_REAL_PYSPY") == "1" else None
PYSPY = PYSPY or PYSPY_DOUBLE
# Under valgrind or a sanitizer the daemon is slower; tests scale their waits.
SLOW = float(os.environ.get("PAMPROF_TEST_SLOWDOWN", "1"))

SEED_COLUMNS = ["elapsed_seconds", "cpu_percent", "memory_mb", "memory_percent", "timestamp"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count()


def free_port():
    """A loopback TCP port free now (for node_exporter, the stand-in, a mock server)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout * SLOW:.1f}s waiting for {what}")


def proc_cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


class Target:
    """A process of known CPU load whose command line carries a unique tag."""

    def __init__(self, tag, duty=0.5, threads=1, name="Burner", child=None, extra=()):
        args = [PYTHON, BURNER, "--duty", str(duty), "--threads", str(threads), "--name", name,
                "--cmdline-tag", tag, *extra]
        if child is not None:
            args += ["--fork-child", str(child)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.pid = int(self.proc.stdout.readline())
        self.child_pid = None
        if child is not None:
            line = self.proc.stdout.readline().split()
            self.child_pid = int(line[1])

    def stop(self, sig=signal.SIGTERM):
        self.proc.stdout.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Daemon:
    """pamprofd with its own socket, state and output directories."""

    def __init__(self, workdir, match, config_text="", args=(), env=None, interval=None):
        self.workdir = workdir
        self.socket = os.path.join(workdir, "run", "pamprofd.sock")
        self.state = os.path.join(workdir, "state")
        self.output = os.path.join(workdir, "profiles")
        self.config = os.path.join(workdir, "pamprofd.conf")
        self.log = os.path.join(workdir, "pamprofd.log")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.argv = [PAMPROFD, "--config", self.config, "--socket", self.socket, "--state-dir", self.state,
                     "--output-dir", self.output, "--target-match", match, "--scan-interval", "1",
                     "--pyspy-path", PYSPY, "--stop-timeout", "3", *args]
        self.env = dict(os.environ)
        self.env.pop("NOTIFY_SOCKET", None)
        self.env.pop("LISTEN_FDS", None)
        self.env.update(env or {})
        self.proc = None

    def start(self, wait=True):
        wrapper = os.environ.get("PAMPROF_DAEMON_WRAPPER", "").split()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(wrapper + self.argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=self.env)
        if wait:
            wait_until(self.answers, 20, what="pamprofd to answer on its socket")
        return self

    def answers(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"pamprofd exited with {self.proc.returncode}:\n{self.log_text()}")
        # A connection alone is not an answer: a child of a daemon just killed can hold the old
        # listening socket for a moment after the fork (CI: connected, then "Connection refused").
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(2)
        try:
            s.connect(self.socket)
            s.send(json.dumps({"version": 1, "cmd": "version"}).encode())
            return json.loads(s.recv(1 << 16)).get("ok") is True
        except (OSError, ValueError):
            return False
        finally:
            s.close()

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def ctl(self, *args, check=None, user=None, timeout=60, env=None):
        argv = [PAMPROFCTL, "--socket", self.socket, *args]
        if user:
            argv = ["setpriv", f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}", "--init-groups",
                    "--"] + argv
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout * SLOW, env=env)
        if check is not None and r.returncode != check:
            raise AssertionError(f"pamprofctl {' '.join(args)} exited {r.returncode}, wanted {check}:\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}\nlog:\n{self.log_text()}")
        return r

    def ctl_json(self, *args, check=0, **kw):
        r = self.ctl("--json", *args, check=check, **kw)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def request(self, payload, fds=()):
        """One raw datagram to the socket, the reply parsed."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(10 * SLOW)
        s.connect(self.socket)
        try:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            if fds:
                socket.send_fds(s, [data], list(fds))
            else:
                s.send(data)
            return json.loads(s.recv(70000))
        finally:
            s.close()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "logf", None):
            self.logf.close()
        return self.proc.returncode if self.proc else None


class DaemonTest(unittest.TestCase):
    """Per test: a work dir, a unique tag, and clean-up of everything started."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="pamprof-it-")
        os.chmod(self.workdir, 0o755)
        self.tag = "pamproftest-" + uuid.uuid4().hex[:12]
        self.targets = []
        self.daemons = []

    def tearDown(self):
        for t in self.targets:
            t.stop(signal.SIGKILL)
        bad = []
        for d in self.daemons:
            rc = d.stop()
            if rc not in (0, None, -9):
                bad.append((rc, d.log_text()))
        shutil.rmtree(self.workdir, ignore_errors=True)
        # A daemon that leaked (LeakSanitizer, valgrind) or crashed fails the test.
        for rc, log in bad:
            raise AssertionError(f"pamprofd exited with {rc}:\n{log}")

    def target(self, **kw):
        t = Target(self.tag, **kw)
        self.targets.append(t)
        return t

    def daemon(self, match=None, start=True, **kw):
        d = Daemon(self.workdir, match or self.tag, **kw)
        self.daemons.append(d)
        return d.start() if start else d

    def session_files(self, d, result, key):
        return os.path.join(result.get("output_dir") or d.output, result["files"][key])


def main():
    tap.main()
