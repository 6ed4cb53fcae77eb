#!/usr/bin/python3
"""The units as built: systemd-analyze verify and security, and agreement with the daemon's defaults."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from unitlib import (DEFAULT_CONF, MAN_PAGES, PAMPROFD, SERVICE, SOCKET_UNIT, SYSUSERS, check_config, need,
                     parse_seconds, parse_unit, unit_value, unit_words)

# Exposure levels of systemd-analyze security: up to 4.9 is "OK", 1.9 and below "SAFE".
MAX_EXPOSURE = 4.9


def copy_units(dest):
    """The built units with ExecStart= pointing at the built daemon, so verify can check it exists."""
    with open(SERVICE) as f:
        text = f.read()
    text = re.sub(r"(?m)^ExecStart=\S+", "ExecStart=" + os.path.abspath(PAMPROFD), text)
    service = os.path.join(dest, "pamprofd.service")
    with open(service, "w") as f:
        f.write(text)
    socket_unit = os.path.join(dest, "pamprofd.socket")
    shutil.copy(SOCKET_UNIT, socket_unit)
    return service, socket_unit


def man_tree(dest):
    """A MANPATH with our pages, so verify's check of Documentation=man:... finds them."""
    for name, src in MAN_PAGES.items():
        section = name.rsplit(".", 1)[1]
        os.makedirs(os.path.join(dest, "man" + section), exist_ok=True)
        shutil.copy(src, os.path.join(dest, "man" + section, name))
    return dest


def syscall_set(group):
    """The system calls of a systemd syscall group, nested groups expanded."""
    r = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True, timeout=30)
    groups, current = {}, None
    for line in r.stdout.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.split()[0])

    def expand(name, seen):
        out = set()
        for item in groups.get(name, []):
            if item.startswith("@"):
                if item not in seen:
                    out |= expand(item, seen | {item})
            else:
                out.add(item)
        return out
    return expand(group, {group})


UPLOAD_MAX_EXPOSURE = 2.0  # measured 1.2 ("OK") when written


class UploadUnitsTest(unittest.TestCase):
    """pamprofd-upload's service, path and timer: clean, hardened, the network theirs alone."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pamprof-units-")
        built = os.path.dirname(SERVICE)
        upload = os.path.join(os.path.dirname(PAMPROFD), "pamprofd-upload")
        self.units = []
        for name, src in [("pamprofd-upload.service", built), ("pamprofd-upload.path", built),
                          ("pamprofd-upload.timer", os.path.join(os.path.dirname(SYSUSERS)))]:
            with open(os.path.join(src, name)) as f:
                text = re.sub(r"(?m)^ExecStart=\S+", "ExecStart=" + os.path.abspath(upload), f.read())
            self.units.append(os.path.join(self.tmp, name))
            with open(self.units[-1], "w") as f:
                f.write(text)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_verify_is_clean(self):
        need("systemd-analyze")
        env = dict(os.environ)
        man = shutil.which("man") is not None
        if man:
            env["MANPATH"] = man_tree(os.path.join(self.tmp, "man")) + ":"
        r = subprocess.run(["systemd-analyze", "verify"] + ([] if man else ["--man=no"]) + self.units,
                           capture_output=True, text=True, env=env, timeout=60, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "", "verify printed warnings")

    def test_security_and_its_own_user(self):
        need("systemd-analyze")
        r = subprocess.run(["systemd-analyze", "security", "--no-pager", "--offline=true", self.units[0]],
                           capture_output=True, text=True, timeout=60, cwd=self.tmp)
        m = re.search(r"Overall exposure level for pamprofd-upload.service: ([0-9.]+) (\w+)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        print(f"systemd-analyze security (pamprofd-upload): {m.group(1)} {m.group(2)}")
        self.assertLessEqual(float(m.group(1)), UPLOAD_MAX_EXPOSURE, r.stdout)
        unit = parse_unit(self.units[0])
        self.assertEqual(unit_value(unit, "Service", "User"), "pamprofd-upload")
        self.assertEqual(unit_words(unit, "Service", "CapabilityBoundingSet"), [])
        self.assertIn(["u", "pamprofd-upload"], [line.split()[:2] for line in open(SYSUSERS)])
        # The daemon keeps no network: only the uploader has one.
        daemon = parse_unit(SERVICE)
        self.assertEqual(unit_value(daemon, "Service", "PrivateNetwork"), "yes")


class UnitFilesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.service = parse_unit(SERVICE)
        cls.socket = parse_unit(SOCKET_UNIT)
        cls.defaults = check_config()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pamprof-units-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_systemd_analyze_verify_is_clean(self):
        need("systemd-analyze")
        service, socket_unit = copy_units(self.tmp)
        env = dict(os.environ)
        man = shutil.which("man") is not None
        if man:
            env["MANPATH"] = man_tree(os.path.join(self.tmp, "man")) + ":"
        args = ["systemd-analyze", "verify"] + ([] if man else ["--man=no"]) + [service, socket_unit]
        r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "", "verify printed warnings")

    def test_systemd_analyze_security_rates_it_ok(self):
        need("systemd-analyze")
        service, _ = copy_units(self.tmp)
        r = subprocess.run(["systemd-analyze", "security", "--no-pager", "--offline=true",
                            f"--threshold={int(MAX_EXPOSURE * 10)}", service],
                           capture_output=True, text=True, timeout=60, cwd=self.tmp)
        m = re.search(r"Overall exposure level for pamprofd.service: ([0-9.]+) (\w+)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        print(f"systemd-analyze security: {m.group(1)} {m.group(2)}")
        self.assertLessEqual(float(m.group(1)), MAX_EXPOSURE, r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_service_is_notify_with_watchdog_and_restarts(self):
        s = self.service["Service"]
        self.assertEqual(unit_value(self.service, "Service", "Type"), "notify")
        self.assertGreater(parse_seconds(unit_value(self.service, "Service", "WatchdogSec", "0")), 0)
        self.assertEqual(unit_value(self.service, "Service", "Restart"), "on-failure")
        self.assertTrue(s["ExecStart"][-1].endswith("/pamprofd"), s["ExecStart"])
        self.assertIn("multi-user.target", unit_words(self.service, "Install", "WantedBy"))
        self.assertIn("pamprofd.socket", unit_words(self.service, "Install", "Also"))

    def test_stop_leaves_py_spy_its_time(self):
        # py-spy loses its profile on SIGTERM: the daemon alone gets SIGTERM and
        # sends py-spy SIGINT itself, then waits up to stop_timeout for the file.
        self.assertEqual(unit_value(self.service, "Service", "KillMode"), "mixed")
        stop = parse_seconds(unit_value(self.service, "Service", "TimeoutStopSec", "90s"))
        self.assertGreaterEqual(stop, float(self.defaults["stop_timeout"]) + 10,
                                "TimeoutStopSec must leave stop_timeout and a margin for the plot")

    def test_capabilities_are_ambient_and_bounded(self):
        bounding = set(unit_words(self.service, "Service", "CapabilityBoundingSet"))
        ambient = set(unit_words(self.service, "Service", "AmbientCapabilities"))
        self.assertIn("CAP_SYS_PTRACE", ambient, "py-spy needs CAP_SYS_PTRACE as an ambient capability")
        self.assertEqual(bounding, ambient)
        self.assertFalse({"CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"} & bounding)
        self.assertEqual(unit_value(self.service, "Service", "NoNewPrivileges"), "yes")
        user = unit_value(self.service, "Service", "User")
        self.assertNotIn(user, (None, "root", "0"))

    def test_sandbox_keeps_what_the_daemon_and_py_spy_need(self):
        v = lambda key, default=None: unit_value(self.service, "Service", key, default)
        self.assertEqual(v("ProtectSystem"), "strict")
        self.assertEqual(v("PrivateTmp"), "yes")
        self.assertNotEqual(v("ProtectProc", "default"), "invisible", "PAM must stay visible in /proc")
        self.assertNotEqual(v("ProcSubset", "all"), "pid", "the daemon reads /proc/meminfo and /proc/stat")
        self.assertNotEqual(v("PrivateUsers", "no"), "yes", "capabilities must count for PAM's processes")
        self.assertEqual(unit_words(self.service, "Service", "RestrictAddressFamilies"), ["AF_UNIX"])
        filters = unit_words(self.service, "Service", "SystemCallFilter")
        self.assertIn("@system-service", filters)
        self.assertIn("ptrace", filters, "py-spy inherits the filter and stops PAM's threads with ptrace")
        if shutil.which("systemd-analyze"):
            self.assertIn("process_vm_readv", syscall_set("@system-service"), "py-spy reads PAM's memory with it")
        for d in ("StateDirectory", "RuntimeDirectory", "ConfigurationDirectory"):
            self.assertEqual(v(d), "pamprofd", d)
        # The socket unit's socket lives in the runtime directory: it must outlive a stop.
        self.assertEqual(v("RuntimeDirectoryPreserve"), "yes")

    def test_socket_unit_matches_the_daemon(self):
        self.assertEqual(unit_value(self.socket, "Socket", "ListenSequentialPacket"), self.defaults["socket"])
        self.assertEqual(unit_value(self.socket, "Socket", "SocketMode"), "0660")
        self.assertEqual(unit_value(self.socket, "Socket", "SocketGroup"), self.defaults["allowed_group"])
        self.assertIn("sockets.target", unit_words(self.socket, "Install", "WantedBy"))

    def test_state_dir_is_writable_in_the_sandbox(self):
        state = self.defaults["state_dir"]
        writable = ["/var/lib/" + unit_value(self.service, "Service", "StateDirectory")]
        writable += [w.lstrip("-") for w in unit_words(self.service, "Service", "ReadWritePaths")]
        self.assertTrue(any(state == w or state.startswith(w + "/") for w in writable),
                        f"state_dir {state} is read-only under ProtectSystem=strict ({writable})")
        self.assertTrue(self.defaults["output_dir"].startswith(state + "/"))

    def test_metrics_dir_is_writable_but_optional_and_no_network(self):
        # Debian's directory of node_exporter's textfile collector, with "-": a machine without it still
        # starts the unit; the daemon gets no network for it (the collector reads a file).
        self.assertIn("-/var/lib/prometheus/node-exporter", unit_words(self.service, "Service", "ReadWritePaths"))
        self.assertEqual(unit_value(self.service, "Service", "PrivateNetwork"), "yes")
        self.assertEqual(unit_words(self.service, "Service", "RestrictAddressFamilies"), ["AF_UNIX"])
        self.assertEqual(unit_value(self.service, "Service", "IPAddressDeny"), "any")
        # Off unless configured.
        self.assertEqual(self.defaults["metrics_dir"], "")

    def test_sysusers_creates_the_user_and_the_group(self):
        entries = []
        with open(SYSUSERS) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    entries.append(line.split()[:2])
        self.assertIn(["g", self.defaults["allowed_group"]], entries)
        self.assertIn(["u", unit_value(self.service, "Service", "User")], entries)

    def test_default_config_lists_every_key_commented_with_its_default(self):
        with open(DEFAULT_CONF) as f:
            text = f.read()
        for key, value in self.defaults.items():
            self.assertIn(f"\n#{key} = {value}\n" if value else f"\n#{key} =\n", text, key)
        # And the file, as installed, changes nothing.
        r = subprocess.run([PAMPROFD, "--config", DEFAULT_CONF, "--check-config"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        r0 = subprocess.run([PAMPROFD, "--config", "/dev/null", "--check-config"], capture_output=True,
                            text=True, timeout=30)
        self.assertEqual(r.stdout, r0.stdout)


if __name__ == "__main__":
    from unitlib import tap
    tap.main()
