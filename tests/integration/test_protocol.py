#!/usr/bin/python3
"""The control protocol under bad input, and pamprofctl's usage errors and exit codes."""

import json
import os
import socket
import subprocess

from harness import DaemonTest, PAMPROFCTL, main


class ProtocolTest(DaemonTest):
    def assert_error(self, d, payload, code, text=None):
        reply = d.request(payload)
        self.assertFalse(reply["ok"], reply)
        self.assertEqual(reply["error"]["code"], code, reply)
        self.assertTrue(reply["error"]["message"].endswith("."), reply)
        if text:
            self.assertIn(text, reply["error"]["message"])
        return reply

    def test_malformed_requests_get_error_replies(self):
        d = self.daemon()
        self.assert_error(d, b"not json", "malformed", "not valid JSON")
        self.assert_error(d, b'{"version": 1, "cmd": "sta', "malformed")
        self.assert_error(d, b"[1, 2]", "malformed", "JSON object")
        self.assert_error(d, b'{"version":1,"cmd":"status"}\0junk', "malformed", "NUL")
        self.assert_error(d, b"[" * 100 + b"]" * 100, "malformed", "nests deeper")
        self.assert_error(d, {"cmd": "status"}, "version")
        self.assert_error(d, {"version": 2, "cmd": "status"}, "version", "protocol version 1")
        self.assert_error(d, {"version": 1}, "malformed", "cmd")
        self.assert_error(d, {"version": 1, "cmd": "reboot"}, "unknown-command", "reboot")
        self.assert_error(d, {"version": 1, "cmd": "start", "scenario": 5}, "bad-field", "must be a string")
        self.assert_error(d, {"version": 1, "cmd": "start"}, "bad-field", "needs \"scenario\"")
        self.assert_error(d, {"version": 1, "cmd": "start", "scenario": "x", "colour": "red"}, "bad-field",
                          "no field \"colour\"")
        self.assert_error(d, {"version": 1, "cmd": "start", "scenario": "x", "interval": 0}, "bad-field",
                          "between 0.1 and 3600")
        self.assert_error(d, {"version": 1, "cmd": "start", "scenario": "x", "pid": 1.5}, "bad-field")
        self.assert_error(d, {"version": 1, "cmd": "start", "scenario": "x", "include_children": "yes"},
                          "bad-field", "true or false")
        self.assert_error(d, {"version": 1, "cmd": "start", "scenario": "a b"}, "bad-field", "(the scenario label) is not valid")
        self.assert_error(d, {"version": 1, "cmd": "start", "scenario": "x" * 65}, "bad-field", "longer than 64")
        self.assert_error(d, {"version": 1, "cmd": "start", "scenario": "x", "output": "/etc"}, "bad-field",
                          "descriptor")
        self.assert_error(d, b'{"version":1,"cmd":"status","pad":"' + b"x" * 70000 + b'"}', "too-large")
        # A descriptor where none belongs.
        r = os.open(self.workdir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            reply = d.request({"version": 1, "cmd": "status"}, fds=[r])
        finally:
            os.close(r)
        self.assertEqual(reply["error"]["code"], "bad-field")
        # Still alive and counting.
        st = d.request({"version": 1, "cmd": "status"})
        self.assertTrue(st["ok"])
        self.assertGreaterEqual(st["result"]["daemon"]["errors"], 19)

    def test_client_takes_start_ranges_from_the_protocol_table(self):
        # The client's ranges are the daemon's: what one takes, the other takes (they differed:
        # the client refused --duration 0, which the protocol takes as "until stopped").
        d = self.daemon()
        for opt, bad, lo, hi in (("--duration", "2678401", "0", "2678400"), ("--interval", "0.05", "0.1", "3600"),
                                 ("--rate", "1001", "1", "1000"), ("--wait", "3601", "0", "3600")):
            r = d.ctl("start", "--scenario", "x", opt, bad, check=2)
            self.assertIn(f"{opt} needs a number from {lo} to {hi}, not \"{bad}\".", r.stderr)
        # --duration 0 passes the client; the daemon answers (no PAM here), not a usage error
        r = d.ctl("start", "--scenario", "x", "--duration", "0", check=1)
        self.assertIn("PAM is not running", r.stderr)

    def test_one_connection_many_requests_and_a_silent_client_blocks_no_one(self):
        d = self.daemon()
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        silent.connect(d.socket)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(5)
        s.connect(d.socket)
        for _ in range(3):
            s.send(json.dumps({"version": 1, "cmd": "version"}).encode())
            reply = json.loads(s.recv(70000))
            self.assertTrue(reply["ok"])
            self.assertEqual(reply["result"]["protocol"], 1)
        s.close()
        silent.close()

    def test_client_usage_errors_exit_2(self):
        d = self.daemon()
        r = subprocess.run([PAMPROFCTL], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("Usage", r.stderr)
        r = d.ctl("frobnicate", check=2)
        self.assertIn("unknown command \"frobnicate\"", r.stderr)
        r = d.ctl("start", check=2)
        self.assertIn("--scenario NAME is required", r.stderr)
        r = d.ctl("start", "--scenario", "has space", check=2)
        self.assertIn("not a valid label", r.stderr)
        r = d.ctl("start", "--scenario", "x", "--interval", "fast", check=2)
        self.assertIn("--interval needs a number", r.stderr)
        r = d.ctl("start", "--scenario", "x", "--interval", "0", check=2)
        d.ctl("start", "--scenario", "x", "--bogus", check=2)
        r = d.ctl("start", "--scenario", "x", "--no-profile", "--no-monitor", check=2)
        self.assertIn("nothing to record", r.stderr)
        d.ctl("show", check=2)
        d.ctl("status", "extra", check=2)
        r = d.ctl("start", "--scenario", "x", "--output", os.path.join(self.workdir, "missing"), check=1)
        self.assertIn("cannot open output directory", r.stderr)

    def test_help_for_every_verb(self):
        d = self.daemon()
        for verb in ("status", "start", "stop", "record", "list", "show", "version", "plot"):
            r = d.ctl(verb, "--help", check=0)
            self.assertIn("Usage: pamprofctl " + verb, r.stdout)
        top = subprocess.run([PAMPROFCTL, "--help"], capture_output=True, text=True)
        self.assertEqual(top.returncode, 0)
        for verb in ("status", "start", "stop", "record", "list", "show", "plot"):
            self.assertIn(verb, top.stdout)
        self.assertIn("0.1", d.ctl("version", check=0).stdout)

    def test_unreachable_daemon_exit_3(self):
        sock = os.path.join(self.workdir, "nobody-home.sock")
        r = subprocess.run([PAMPROFCTL, "--socket", sock, "status"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 3)
        self.assertIn("cannot reach pamprofd at " + sock, r.stderr)
        self.assertIn("systemctl start pamprofd", r.stderr)
        r = subprocess.run([PAMPROFCTL, "--socket", sock, "--json", "stop"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 3)


if __name__ == "__main__":
    main()
