#!/usr/bin/python3
"""Security repro: py-spy gets CAP_SYS_PTRACE and nothing else, however the daemon runs.

The shipped unit runs pamprofd as its own user with ambient capabilities
(CAP_SYS_PTRACE for py-spy, CAP_DAC_OVERRIDE, CAP_CHOWN and CAP_FOWNER for
the files it writes for clients). Ambient capabilities survive execve(), and
spawn.c trims the child's capabilities only when the daemon's euid is 0
(PR_CAPBSET_DROP), so under the unit py-spy, and the `py-spy --version`
probe, run with all four: CAP_DAC_OVERRIDE alone writes any file.

This runs the daemon as nobody with those four as ambient capabilities
(setpriv, as systemd's AmbientCapabilities= does), starts a profiled
session with the py-spy test double and reads the child's /proc status.

Needs root (setpriv). spawn.c clears the child's ambient set, lowers its
inheritable set to keep_caps and raises CAP_SYS_PTRACE again (no privilege
needed); this test checks the exec'd child.
"""

import os
import time

from harness import DaemonTest, main, wait_until

CAPS = "+sys_ptrace,+dac_override,+chown,+fowner"
CAP_SYS_PTRACE = 1 << 19


def caps(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Cap"):
                key, value = line.split(":")
                out[key] = int(value, 16)
    return out


class ProfilerCapsTest(DaemonTest):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to run the daemon as another user with capabilities")
        os.chmod(self.workdir, 0o777)  # the daemon, as nobody, makes its directories here

    def test_py_spy_runs_with_cap_sys_ptrace_only(self):
        self.target(duty=0.0)
        d = self.daemon(start=False, config_text="allowed_group = nogroup\n")
        d.argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--init-groups", f"--inh-caps={CAPS}",
                  f"--ambient-caps={CAPS}", "--"] + d.argv
        d.start()
        self.assertNotEqual(caps(d.proc.pid)["CapAmb"], 0)  # the daemon has them, as under the unit
        reply = d.request({"version": 1, "cmd": "start", "scenario": "caps"})
        self.assertTrue(reply["ok"], reply)
        pid = reply["result"]["status"]["profile"]["pid"]

        def execed():
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return b"record" in f.read()
        wait_until(execed, 5, what="py-spy's exec (before it, the child is still the daemon's fork)")
        got = caps(pid)
        d.request({"version": 1, "cmd": "stop"})
        for key in ("CapEff", "CapPrm", "CapAmb"):
            self.assertEqual(got[key] & ~CAP_SYS_PTRACE, 0,
                             f"py-spy (pid {pid}) has {key} {got[key]:#x}, more than CAP_SYS_PTRACE: {got}")


if __name__ == "__main__":
    main()
