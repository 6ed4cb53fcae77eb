#!/usr/bin/python3
"""Security repro: recovery must act on the directory the client passed, not on the path it claimed.

`start` carries the --output directory as a descriptor (SCM_RIGHTS) and its
path as a string, "output", which the daemon records as the session's
output_dir without checking it names the same directory. When the daemon is
killed mid-session (crash, OOM, power loss: common on a drone), the next start
reopens output_dir BY THAT PATH, as root, and writes there: the recovered
profile (a new root-owned file), the PNG, the rewritten _session.json. A
member of the allowed group can so make root create files in a directory
they may not write (and `list`/`show` show everyone the claimed path).

Needs root (it acts as nobody). Not registered in meson yet: it fails until
the daemon records where the descriptor really is (its st_dev/st_ino, and
the path from /proc/self/fd, not the client's word) and recovery refuses a
directory whose st_dev/st_ino differ. Register it with the fix.
"""

import json
import os
import pwd
import signal
import subprocess

from harness import PYTHON, DaemonTest, main, wait_until

USER, GROUP = "nobody", "nogroup"

SEND = (
    "import json, os, socket, sys\n"
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])\n"
    "fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY)\n"
    "req = {'version': 1, 'cmd': 'start', 'scenario': 'claim', 'interval': 0.5, 'output': sys.argv[3]}\n"
    "socket.send_fds(s, [json.dumps(req).encode()], [fd]); print(s.recv(70000).decode())\n")


class OutputClaimTest(DaemonTest):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to act as another user")
        pw = pwd.getpwnam(USER)
        self.userdir = os.path.join(self.workdir, "mine")
        os.mkdir(self.userdir, 0o755)
        os.chown(self.userdir, pw.pw_uid, pw.pw_gid)
        self.victim = os.path.join(self.workdir, "root-only")
        os.mkdir(self.victim, 0o755)

    def test_recovery_writes_only_where_the_descriptor_was(self):
        self.target(duty=0.1)
        d = self.daemon(config_text=f"allowed_group = {GROUP}\n")
        os.chmod(d.socket, 0o666)
        # nobody passes its own directory, and says it is root-only.
        r = subprocess.run(["setpriv", f"--reuid={USER}", f"--regid={GROUP}", "--init-groups", "--", PYTHON, "-c",
                            SEND, d.socket, self.userdir, self.victim], capture_output=True, text=True, check=True)
        reply = json.loads(r.stdout)
        self.assertTrue(reply["ok"], reply)
        sid = reply["result"]["id"]
        wait_until(lambda: d.request({"version": 1, "cmd": "status"})["result"]["session"]["rows"] >= 3, 15,
                   what="3 rows")
        recorded = reply["result"]["status"]["output_dir"]
        d.stop(signal.SIGKILL)

        d2 = self.daemon(config_text=f"allowed_group = {GROUP}\n")
        wait_until(lambda: d2.request({"version": 1, "cmd": "show", "id": sid})["result"]
                   .get("profile", {}).get("state") in ("recovered", "lost"), 15, what="recovery to finish")
        planted = sorted(os.listdir(self.victim))
        self.assertEqual(planted, [], f"recovery wrote into {self.victim} (root-only, only named by the client; "
                                      f"recorded output_dir {recorded!r}): {planted}")
        self.assertEqual(recorded, self.userdir)


if __name__ == "__main__":
    main()
