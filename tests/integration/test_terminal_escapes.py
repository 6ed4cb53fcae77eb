#!/usr/bin/python3
"""Security repro: pamprofctl must not print control characters it got from elsewhere to a terminal.

`pamprofctl status` and `show` print PAM's command line (whatever the
process that matched target_match put in its argv: any local user can start
one) and the session's output_dir (the "output" string the starting client
sent, unchecked), as they are. An escape sequence there reaches the terminal
of whoever runs status or show: retitling it, clearing it, on some terminals
writing the clipboard (OSC 52). The daemon's log takes the output string as
is too, so a newline in it forges a log line in stderr mode.

Not registered in meson yet: it fails until pamprofctl escapes C0/C1 control
characters and DEL in the strings it prints in text form (--json is escaped
by cJSON already) and the daemon refuses control characters in "output" (or
records the real path of the descriptor instead). Register it with the fix.
"""

import json
import os
import socket

from harness import DaemonTest, main

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


if __name__ == "__main__":
    main()
