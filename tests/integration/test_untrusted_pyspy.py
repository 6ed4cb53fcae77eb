#!/usr/bin/python3
"""Security repro: the daemon must not run a py-spy that the watched process's user could have put there.

With no pyspy_path configured and no py-spy on PATH, pamprofd looks for py-spy
next to PAM's interpreter (the directory of PAM's argv[0] or argv[1], its
virtualenv). That directory belongs to whoever runs PAM (a network-facing
app's account), or to anyone at all: any local user can start a process whose
command line matches target_match from a directory of their own. The daemon
runs what it finds there as root (or, under the unit, with its ambient
capabilities): `py-spy --version` at every profiled start, then `py-spy
record` with CAP_SYS_PTRACE. A planted py-spy is then code run with root's
uid, or with CAP_SYS_PTRACE over every process: a privilege escalation.

Needs root (it gives the planted directory to nobody). Not registered in
meson yet: it fails until the daemon refuses executables it does not trust
(owned by root or the daemon's user, in directories only they can write, up
to /), or drops the virtualenv search and asks for pyspy_path. Register it
with the fix.
"""

import os
import pwd
import shutil
import stat
import subprocess
import unittest

from harness import BURNER, PYTHON, PYSPY, DaemonTest, main
from harness import optional


class UntrustedPyspyTest(DaemonTest):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to give the planted directory to another user")
        if shutil.which("py-spy", path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"):
            self.skipTest(optional("a real py-spy on PATH is found before PAM's virtualenv, so the planted one "
                                   "is never a candidate here"))
        self.nobody = pwd.getpwnam("nobody")

    def plant(self):
        """A 'virtualenv' owned by nobody with a python3 and a py-spy that records who ran it."""
        venv = os.path.join(self.workdir, "venv", "bin")
        os.makedirs(venv)
        self.marker_dir = os.path.join(self.workdir, "marker")
        os.makedirs(self.marker_dir)
        os.chmod(self.marker_dir, 0o1777)  # whoever runs the planted py-spy may leave its note
        self.marker = os.path.join(self.marker_dir, "ran")
        os.symlink(os.path.realpath(PYTHON), os.path.join(venv, "python3"))
        pyspy = os.path.join(venv, "py-spy")
        with open(pyspy, "w") as f:
            f.write("#!/bin/sh\n"
                    f"{{ echo \"$*\"; id; grep -E '^Cap(Eff|Amb)' /proc/self/status; "
                    "[ -w /etc/passwd ] && echo 'may write /etc/passwd'; } >> "
                    f"{self.marker}\n"
                    "echo 'py-spy 0.3.14'\n")
        os.chmod(pyspy, 0o755)
        for p in (os.path.join(self.workdir, "venv"), venv, pyspy):
            os.lchown(p, self.nobody.pw_uid, self.nobody.pw_gid)
        return venv

    def test_py_spy_from_a_directory_of_another_user_is_not_run(self):
        venv = self.plant()
        # PAM as launched from that virtualenv (any local user can start such a process).
        proc = subprocess.Popen([os.path.join(venv, "python3"), BURNER, "--duty", "0", "--cmdline-tag", self.tag],
                                stdout=subprocess.PIPE, text=True,
                                preexec_fn=lambda: (os.setgid(self.nobody.pw_gid), os.setuid(self.nobody.pw_uid)))
        try:
            pid = int(proc.stdout.readline())
            d = self.daemon(start=False, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
            i = d.argv.index("--pyspy-path")
            del d.argv[i:i + 2]  # the default: no pyspy_path, so PATH and then PAM's virtualenv
            d.start()
            reply = d.request({"version": 1, "cmd": "start", "scenario": "untrusted"})
            if reply.get("ok"):
                d.request({"version": 1, "cmd": "stop"})
            ran = open(self.marker).read() if os.path.exists(self.marker) else ""
            self.assertEqual(ran, "", f"pamprofd ran {venv}/py-spy (owned by nobody, PAM pid {pid}):\n{ran}"
                                      f"start reply: {reply}")
            # And says why it will not profile.
            self.assertFalse(reply.get("ok"), reply)
            self.assertEqual(reply["error"]["code"], "no-profiler", reply)
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()


if __name__ == "__main__":
    main()
