"""Helpers for the tests of the systemd units, the man pages and the journal path.

The tests find the source tree from PAMPROF_TESTS_DIR and the build tree from
PAMPROF_BUILD_DIR (both set by tests/meson.build), and read the units that the
build generated from systemd/*.in, so they test what `meson install` installs.
"""

import os
import sys
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import stage  # noqa: E402  (tests/stage.py: tools every user can read)
import tap  # noqa: E402  (tests/tap.py: every case reported in TAP)

TESTS = os.environ.get("PAMPROF_TESTS_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SRC = os.path.abspath(os.path.join(TESTS, ".."))
BUILD = os.environ.get("PAMPROF_BUILD_DIR", os.path.join(SRC, "build"))
PYTHON = os.environ.get("PAMPROF_PYTHON", "/usr/bin/python3")
SLOW = float(os.environ.get("PAMPROF_TEST_SLOWDOWN", "1"))

PAMPROFD = os.path.join(BUILD, "daemon", "pamprofd")
PAMPROFCTL = os.path.join(BUILD, "client", "pamprofctl")
SERVICE = os.path.join(BUILD, "systemd", "pamprofd.service")
SOCKET_UNIT = os.path.join(BUILD, "systemd", "pamprofd.socket")
DEFAULT_CONF = os.path.join(BUILD, "systemd", "pamprofd.conf")
SYSUSERS = os.path.join(SRC, "systemd", "pamprofd.sysusers")
# Programs that run as another user come from a copy every user can read (tests/stage.py).
BURNER = stage.tool("tools", "cpu-burner.py")
PYSPY_DOUBLE = stage.tool("tools", "py-spy")

MAN_PAGES = {
    "pamprofd.8": os.path.join(SRC, "daemon", "pamprofd.8"),
    "pamprofd.conf.5": os.path.join(SRC, "daemon", "pamprofd.conf.5"),
    "pamprofctl.1": os.path.join(SRC, "client", "pamprofctl.1"),
    "pamprofd-upload.8": os.path.join(SRC, "daemon", "upload", "pamprofd-upload.8"),
}
COMPLETION = os.path.join(SRC, "client", "pamprofctl.bash-completion")

# Capability numbers (linux/capability.h) of the ones the unit may name.
CAP_NUMBERS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
               "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_SYS_PTRACE": 19,
               "CAP_SYS_ADMIN": 21, "CAP_SYS_RESOURCE": 24}


def parse_unit(path):
    """{section: {key: [values in order]}}; an empty assignment resets, as systemd does."""
    units = {}
    section = None
    with open(path) as f:
        lines = f.read().replace("\\\n", " ").splitlines()
    for line in lines:
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = units.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if value == "":
            section[key] = []
        else:
            section.setdefault(key, []).append(value)
    return units


def unit_value(units, section, key, default=None):
    values = units.get(section, {}).get(key)
    return values[-1] if values else default


def unit_words(units, section, key):
    return [w for v in units.get(section, {}).get(key, []) for w in v.split()]


def check_config(*args):
    """The daemon's effective configuration for an empty file: {key: value}."""
    r = subprocess.run([PAMPROFD, "--config", "/dev/null", "--check-config", *args], capture_output=True,
                       text=True, timeout=30, check=True)
    conf = {}
    for line in r.stdout.splitlines():
        if line and not line.startswith("#") and " =" in line:
            key, _, value = line.partition(" =")
            conf[key.strip()] = value.strip()
    return conf


def parse_seconds(text):
    """systemd time spans as used in the units: 30s, 1min 30s, 90, 2m."""
    units = {"us": 1e-6, "ms": 1e-3, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
    total = 0.0
    for word in text.split():
        num = word.rstrip("abcdefghijklmnopqrstuvwxyz")
        total += float(num) * units.get(word[len(num):] or "s", 1)
    return total


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout * SLOW:.1f}s waiting for {what}")


def need(*programs):
    """Skip the test when a program it runs is not installed."""
    for p in programs:
        if not shutil.which(p):
            raise unittest.SkipTest(f"{p} is not installed")


class NotifyListener:
    """A NOTIFY_SOCKET of our own: a thread drains it at once, as PID 1 does (sd_notify()
    blocks once the socket's queue is full), and keeps every datagram."""

    def __init__(self, path, mode=0o777):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, mode)
        self.messages = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            with self.cond:
                self.messages.append(data.decode(errors="replace"))
                self.cond.notify_all()

    def wait_for(self, text, count=1, timeout=10):
        with self.cond:
            return self.cond.wait_for(lambda: sum(text in m for m in self.messages) >= count, timeout * SLOW)

    def close(self):
        self.sock.close()


class WorkdirTest(unittest.TestCase):
    """A world-readable work directory per test, and the processes to end."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="pamprof-sd-")
        os.chmod(self.workdir, 0o755)
        self.procs = []

    def tearDown(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(15 * SLOW)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    def path(self, *parts):
        return os.path.join(self.workdir, *parts)
