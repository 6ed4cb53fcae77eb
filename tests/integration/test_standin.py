#!/usr/bin/python3
"""Against the bundled PAM stand-in (a real uvicorn petal_app_manager.main:app), found by the default regex."""

import os
import socket
import subprocess
import time
import urllib.request

from harness import DaemonTest, STANDIN, main, read_csv, wait_until


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class StandinTest(DaemonTest):
    def test_session_against_the_standin(self):
        port = free_port()
        pam = subprocess.Popen([STANDIN, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (pam.kill(), pam.wait()))

        def healthy():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_until(healthy, 30, interval=0.2, what="the stand-in's /health")
        # The default regex, as a real installation has it; only this test's port tells it apart.
        d = self.daemon(match=f"uvicorn( .*)? petal_app_manager\\.main:app .*--port {port}")
        st = d.ctl_json("status")["result"]["target"]
        self.assertEqual(st["pid"], pam.pid)
        r = d.ctl("record", "--scenario", "idle-no-leaffc", "--duration", "3", check=0, timeout=30)
        sid = next(w for w in r.stdout.split() if w.startswith("pam_idle-no-leaffc_"))
        _, threads = read_csv(os.path.join(d.output, sid + "_threads.csv"))
        names = {t["thread_name"] for t in threads}
        for n in ("MAVLinkWorker-1", "RedisWorker-1", "MQTTWorker-1"):
            self.assertIn(n, names)
        _, rows = read_csv(os.path.join(d.output, sid + "_cpu.csv"))
        self.assertGreaterEqual(len(rows), 2)
        mem = float(rows[-1]["memory_mb"])
        self.assertGreater(mem, 20)  # a real uvicorn + FastAPI process
        self.assertTrue(os.path.getsize(os.path.join(d.output, sid + "_cpu.png")) > 10000)


if __name__ == "__main__":
    main()
