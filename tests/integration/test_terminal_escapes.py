#!/usr/bin/python3
"""Security repro: pamprofctl must not print control characters it got from elsewhere to a terminal.

`pamprofctl status` and `show` print PAM's command line (whatever the
process that matched target_match put in its argv: any local user can start
one) and the session's output_dir (the "output" string the starting client
sent, unchecked), as they are. An escape sequence there reaches the terminal
of whoever runs status or show: retitling it, clearing it, on some terminals
writing the clipboard (OSC 52). The daemon's log takes the output string as
is too, so a newline in it forges a log line in stderr mode.

`pamprofctl report` prints what PAM's profile names: its functions, files and
threads (a Python function's co_name can be any string, a thread's comm any 15
bytes). pamprofctl turns every control character but the newline in its text
output into "?", and --json is escaped by cJSON.
"""

import json
import os
import socket

import subprocess

from harness import PAMPROFCTL, DaemonTest, main

ESC = "\x1b]0;PWNED\x07\x1b[2J"


class TerminalEscapesTest(DaemonTest):
    def test_pams_command_line_is_printed_escaped(self):
        self.target(duty=0.0, extra=("--cmdline-tag", ESC))
        d = self.daemon()
        out = d.ctl("status", check=0).stdout
        self.assertIn(self.tag, out)
        self.assertNotIn("\x1b", out, "status printed PAM's command line with its escape sequences")

    def test_claimed_output_path_is_printed_escaped_and_logged_on_one_line(self):
        self.target(duty=0.0)
        d = self.daemon()
        out = os.path.join(self.workdir, "out")
        os.mkdir(out)
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(d.socket)
            req = {"version": 1, "cmd": "start", "scenario": "esc", "profile": False,
                   "output": out + ESC + "\n<0>forged log line"}
            socket.send_fds(s, [json.dumps(req).encode()], [fd])
            reply = json.loads(s.recv(70000))
        finally:
            s.close()
            os.close(fd)
        if not reply["ok"]:
            self.assertEqual(reply["error"]["code"], "bad-field", reply)  # refusing it is a fix too
            return
        sid = reply["result"]["id"]
        d.ctl("stop", check=0)
        shown = d.ctl("show", sid, check=0).stdout
        self.assertNotIn("\x1b", shown, "show printed the client's output string with its escape sequences")
        self.assertNotIn("\n<0>forged", d.log_text(), "the client's output string forged a log line")

    def test_report_prints_pams_names_escaped(self):
        path = os.path.join(self.workdir, "pam_esc_20261207_120000_profile.speedscope.json")
        frames = [{"name": "run", "file": "pam/main.py", "line": 1},
                  {"name": "spin" + ESC, "file": "pam/" + ESC + "burn.py", "line": 7}]
        profile = {"type": "sampled", "name": 'Thread 42 "Worker' + ESC + '"', "unit": "seconds",
                   "startValue": 0, "endValue": 2, "samples": [[0, 1]] * 200, "weights": [0.01] * 200}
        with open(path, "w") as f:
            json.dump({"$schema": "https://www.speedscope.app/file-format-schema.json", "profiles": [profile],
                       "shared": {"frames": frames}, "activeProfileIndex": 0, "exporter": "py-spy@0.3.14",
                       "name": "esc"}, f)
        r = subprocess.run([PAMPROFCTL, "report", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("spin?]0;PWNED??[2J", r.stdout)  # the name is there, defanged
        self.assertNotIn("\x1b", r.stdout, "report printed PAM's function name with its escape sequences")
        self.assertNotIn("\x07", r.stdout)
        r = subprocess.run([PAMPROFCTL, "report", "--json", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("\x1b", r.stdout)
        self.assertEqual(json.loads(r.stdout)["hot"]["self"][0]["function"]["name"], "spin" + ESC)  # kept, escaped


if __name__ == "__main__":
    main()
