#!/usr/bin/python3
"""--output into a user's directory: files owned by the user, never through a symlink; who may start."""

import grp
import json
import os
import pwd
import signal
import struct
import subprocess
import time

from harness import DaemonTest, PAMPROFCTL, PYTHON, SLOW, main, read_csv, wait_until

USER = "nobody"           # exists on every Debian system
GROUP = "nogroup"         # nobody's primary group: made the allowed group here
OUTSIDER = "daemon"       # uid 1, not in nogroup


ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def set_acl(path, entries):
    """An access ACL as the kernel stores it (linux/posix_acl_xattr.h): (tag, perm, id), sorted by tag."""
    os.setxattr(path, "system.posix_acl_access",
                struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries))


def stamp_names(scenario, suffix, seconds=4):
    now = time.time()
    return [f"pam_{scenario}_{time.strftime('%Y%m%d_%H%M%S', time.localtime(now + k))}_{suffix}"
            for k in range(seconds)]


class OutputTest(DaemonTest):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to act as other users")
        self.userdir = os.path.join(self.workdir, "user-profiles")
        os.mkdir(self.userdir)
        pw = pwd.getpwnam(USER)
        os.chown(self.userdir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.userdir, 0o755)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def start_daemon(self):
        d = self.daemon(config_text=f"allowed_group = {GROUP}\n")
        os.chmod(d.socket, 0o666)  # so outsiders reach the socket and meet the credential check
        return d

    def test_output_to_user_dir_owned_by_user(self):
        self.target(duty=0.1)
        d = self.start_daemon()
        res = d.ctl_json("start", "--scenario", "mine", "--output", self.userdir, user=USER)["result"]
        self.assertEqual(res["status"]["output_dir"], self.userdir)
        time.sleep(1.3)
        stopped = d.ctl_json("stop", user=USER)["result"]
        self.assertEqual(stopped["requested_by"]["uid"], self.uid)
        names = sorted(os.listdir(self.userdir))
        sid = res["id"]
        self.assertEqual(names, sorted(f"{sid}_{s}" for s in ("cpu.csv", "threads.csv", "session.json",
                                                                "cpu.png", "profile.speedscope.json",
                                                                "report.txt", "report.json")))
        for n in names:
            st = os.lstat(os.path.join(self.userdir, n))
            self.assertEqual((st.st_uid, st.st_gid), (self.uid, self.gid), n)
        _, rows = read_csv(os.path.join(self.userdir, sid + "_cpu.csv"))
        self.assertGreaterEqual(len(rows), 1)
        # The daemon keeps its own record too, so list/show find it.
        self.assertEqual(d.ctl_json("show", sid)["result"]["output_dir"], self.userdir)
        # delete: pamprofctl opens the directory as the user and hands it over (a sandboxed daemon
        # cannot reach a user's /tmp or a read-only /home by path); an outsider may not delete.
        self.assertEqual(d.ctl_json("delete", sid, user=OUTSIDER, check=1)["error"]["code"], "permission-denied")
        out = d.ctl("delete", sid, user=USER, check=0).stdout
        self.assertIn(f"Deleted {sid} (7 files)", out)
        self.assertEqual(os.listdir(self.userdir), [])

    def test_planted_symlinks_are_not_followed(self):
        self.target(duty=0.1)
        d = self.start_daemon()
        victim = os.path.join(self.workdir, "victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        for name in stamp_names("sym", "cpu.csv") + stamp_names("sym", "session.json"):
            os.symlink(victim, os.path.join(self.userdir, name))
        res = d.ctl_json("start", "--scenario", "sym", "--output", self.userdir, user=USER)["result"]
        d.ctl("stop", user=USER, check=0)
        self.assertRegex(res["id"], r"-\d+$")  # it picked a free name
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")
        self.assertEqual(os.stat(victim).st_uid, 0)
        for name in stamp_names("sym", "cpu.csv", 1):
            self.assertTrue(os.path.islink(os.path.join(self.userdir, name)))

        # A symlink where a later file of the session would go: refused, nothing followed, nothing left.
        for name in stamp_names("sym2", "threads.csv"):
            os.symlink(victim, os.path.join(self.userdir, name))
        before = set(os.listdir(self.userdir))
        r = d.ctl("start", "--scenario", "sym2", "--output", self.userdir, user=USER, check=1)
        self.assertIn("File exists", r.stderr)
        self.assertEqual(set(os.listdir(self.userdir)), before)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_daemon_checks_the_user_may_write_the_directory(self):
        self.target(duty=0.0)
        d = self.start_daemon()
        rootdir = os.path.join(self.workdir, "root-only")
        os.mkdir(rootdir, 0o755)
        # Bypass pamprofctl's own check: hand the daemon a root-owned directory as nobody.
        script = (
            "import json, os, socket, sys\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])\n"
            "fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY)\n"
            "req = {'version': 1, 'cmd': 'start', 'scenario': 'sneaky', 'output': sys.argv[2]}\n"
            "socket.send_fds(s, [json.dumps(req).encode()], [fd]); print(s.recv(70000).decode())\n")
        reply = self.start_as_nobody_into(d, rootdir, "sneaky")
        self.assertEqual(reply["error"]["code"], "permission-denied")
        self.assertIn("may not write into", reply["error"]["message"])
        self.assertEqual(os.listdir(rootdir), [])

    def start_as_nobody_into(self, d, directory, scenario):
        """A start as nobody with the directory's descriptor, past pamprofctl's own check: the daemon's reply."""
        script = (
            "import json, os, socket, sys\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])\n"
            "fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY)\n"
            "req = {'version': 1, 'cmd': 'start', 'scenario': sys.argv[3], 'output': sys.argv[2], 'profile': False}\n"
            "socket.send_fds(s, [json.dumps(req).encode()], [fd]); print(s.recv(70000).decode())\n")
        r = subprocess.run(["setpriv", f"--reuid={USER}", f"--regid={GROUP}", "--init-groups", "--", PYTHON, "-c",
                            script, d.socket, directory, scenario], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_the_directorys_acl_decides_not_its_group_bits(self):
        self.target(duty=0.0)
        d = self.start_daemon()
        # nogroup's own entry says r-x; the group bits show the mask, rwx, granted to a named user.
        shared = os.path.join(self.workdir, "acl-shared")
        os.mkdir(shared, 0o775)
        os.chown(shared, 0, grp.getgrnam(GROUP).gr_gid)
        try:
            set_acl(shared, [(ACL_USER_OBJ, 7, 0), (ACL_USER, 7, 1), (ACL_GROUP_OBJ, 5, 0), (ACL_MASK, 7, 0),
                             (ACL_OTHER, 5, 0)])
        except OSError as e:
            self.skipTest(f"this filesystem has no ACLs: {e}")
        self.assertEqual(os.stat(shared).st_mode & 0o777, 0o775)
        reply = self.start_as_nobody_into(d, shared, "aclgroup")
        self.assertEqual(reply["error"]["code"], "permission-denied", reply)
        self.assertEqual(os.listdir(shared), [])
        # A directory nobody may write into only through a named entry: accepted.
        named = os.path.join(self.workdir, "acl-named")
        os.mkdir(named, 0o755)
        set_acl(named, [(ACL_USER_OBJ, 7, 0), (ACL_USER, 7, self.uid), (ACL_GROUP_OBJ, 5, 0), (ACL_MASK, 7, 0),
                        (ACL_OTHER, 5, 0)])
        reply = self.start_as_nobody_into(d, named, "aclnamed")
        self.assertTrue(reply["ok"], reply)
        d.ctl("stop", check=0)
        self.assertIn(reply["result"]["id"] + "_cpu.csv", os.listdir(named))

    def test_outsider_may_read_but_not_start(self):
        t = self.target(duty=0.0)
        d = self.start_daemon()
        r = d.ctl("start", "--scenario", "intruder", user=OUTSIDER, check=1)
        self.assertIn(f"members of group \"{GROUP}\"", r.stderr)
        self.assertIn("usermod -aG", r.stderr)
        j = d.ctl_json("start", "--scenario", "intruder", user=OUTSIDER, check=1)
        self.assertEqual(j["error"]["code"], "permission-denied")
        self.assertEqual(d.ctl_json("status", user=OUTSIDER)["result"]["target"]["pid"], t.pid)
        d.ctl("list", user=OUTSIDER, check=0)
        d.ctl("start", "--scenario", "allowed", check=0)
        self.assertEqual(d.ctl_json("stop", user=OUTSIDER, check=1)["error"]["code"], "permission-denied")
        self.assertIn("Refused start for uid", d.log_text())
        d.ctl("stop", check=0)

    def test_group_created_later_counts_after_a_reload(self):
        # The group is looked up at start and on reload (in a child process, never per request).
        name = "pplate%d" % os.getpid()
        self.target(duty=0.0)
        d = self.daemon(config_text=f"allowed_group = {name}\n")
        os.chmod(d.socket, 0o666)
        self.assertIn(f"Group {name} does not exist: only root may start and stop sessions", d.log_text())
        subprocess.run(["groupadd", name], check=True)
        self.addCleanup(subprocess.run, ["groupdel", name])
        gid = grp.getgrnam(name).gr_gid

        def start_as_member():
            return subprocess.run(["setpriv", f"--reuid={USER}", f"--regid={GROUP}", f"--groups={gid}", "--",
                                   PAMPROFCTL, "--socket", d.socket, "start", "--scenario", "late", "--no-profile"],
                                  capture_output=True, text=True, timeout=30)
        r = start_as_member()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"members of group \"{name}\"", r.stderr)
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: f"Group {name} (gid {gid}) may start and stop sessions" in d.log_text(), 10 * SLOW,
                   what="the reload to find the group")
        r = start_as_member()
        self.assertEqual(r.returncode, 0, r.stderr)
        d.ctl("stop", check=0)


if __name__ == "__main__":
    main()
