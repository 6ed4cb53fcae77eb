#!/usr/bin/python3
"""64 clients at once: every one answered, the 65th turned away politely, nothing left behind."""

import json
import os
import select
import socket
import subprocess
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from harness import DaemonTest, PAMPROFCTL, SLOW, main, wait_until

STATUS = json.dumps({"version": 1, "cmd": "status"}).encode()
MAX_CONNECTIONS = 64  # the daemon's default max_connections


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(20 * SLOW)
    s.connect(path)
    return s


class LoadTest(DaemonTest):
    def idle_fds(self, d):
        """The daemon's descriptors once the start-up probe's connection is gone: steady for 0.5 s."""
        last, since = fd_count(d.proc.pid), time.monotonic()
        while time.monotonic() - since < 0.5 * SLOW:
            time.sleep(0.05)
            n = fd_count(d.proc.pid)
            if n != last:
                last, since = n, time.monotonic()
        return last

    def settle(self, d, fds):
        """Waits for the daemon to have closed every client: its fd count back to fds."""
        wait_until(lambda: fd_count(d.proc.pid) == fds, 10, what=f"pamprofd back to {fds} descriptors")

    def test_64_clients_connected_at_once_all_answered(self):
        t = self.target(duty=0.05)
        d = self.daemon()
        fds = self.idle_fds(d)
        sid = d.request({"version": 1, "cmd": "start", "scenario": "load-64", "interval": 0.2})["result"]["id"]

        # All 64 connected before any speaks, then all speak, then all listen.
        clients = [connect(d.socket) for _ in range(MAX_CONNECTIONS)]
        try:
            for s in clients:
                s.send(STATUS)
            replies = [json.loads(s.recv(70000)) for s in clients]
            # A second round on the same connections: one connection, many requests.
            for s in reversed(clients):
                s.send(STATUS)
            replies += [json.loads(s.recv(70000)) for s in reversed(clients)]
            # The first stays and asks until the daemon has seen the others go (a new client
            # before that would be the 65th, turned away), then stops the session.
            for s in clients[1:]:
                s.close()

            def alone():
                clients[0].send(STATUS)
                return json.loads(clients[0].recv(70000))["result"]["daemon"]["connections"] == 1
            wait_until(alone, 30, interval=0.1, what="the daemon to see 63 clients go")
            clients[0].send(json.dumps({"version": 1, "cmd": "stop"}).encode())
            self.assertTrue(json.loads(clients[0].recv(70000))["ok"])
        finally:
            for s in clients:
                s.close()
        self.assertEqual(len(replies), 2 * MAX_CONNECTIONS)
        for r in replies:
            self.assertTrue(r["ok"], r)
            self.assertEqual(r["result"]["session"]["id"], sid)
            self.assertEqual(r["result"]["target"]["pid"], t.pid)
        self.assertEqual(max(r["result"]["daemon"]["connections"] for r in replies), MAX_CONNECTIONS)

        self.settle(d, fds)
        st = d.request({"version": 1, "cmd": "status"})["result"]["daemon"]
        self.assertEqual(st["refused_connections"], 0)
        self.assertEqual(st["connections"], 1)  # this one

    def test_65th_client_is_turned_away_and_the_others_carry_on(self):
        self.target(duty=0.0)
        d = self.daemon()
        fds = self.idle_fds(d)
        clients = [connect(d.socket) for _ in range(MAX_CONNECTIONS)]
        try:
            # The daemon counts a client when it accepts it; make sure all 64 are in.
            clients[-1].send(STATUS)
            self.assertEqual(json.loads(clients[-1].recv(70000))["result"]["daemon"]["connections"],
                             MAX_CONNECTIONS)
            extra = connect(d.socket)
            try:
                reply = json.loads(extra.recv(70000))
                self.assertFalse(reply["ok"], reply)
                self.assertEqual(reply["error"]["code"], "busy")
                self.assertIn("Too many clients", reply["error"]["message"])
                self.assertEqual(extra.recv(70000), b"")  # and closed
            finally:
                extra.close()
            # A client that speaks first (as pamprofctl does) finds the door shut,
            # but the daemon's sentence is still there to be read.
            late = connect(d.socket)
            try:
                # The daemon answers and closes at accept(): wait for the hang-up, not a guess.
                poller = select.poll()
                poller.register(late, select.POLLHUP | select.POLLRDHUP)
                self.assertTrue(poller.poll(10000 * SLOW), "the daemon did not close the turned-away connection")
                with self.assertRaises((BrokenPipeError, ConnectionResetError)):
                    late.send(STATUS)
                reply = json.loads(late.recv(70000))
                self.assertEqual(reply["error"]["code"], "busy")
            finally:
                late.close()
            # The 64 still work.
            for s in clients:
                s.send(STATUS)
            for s in clients:
                self.assertTrue(json.loads(s.recv(70000))["ok"])
        finally:
            for s in clients:
                s.close()
        self.settle(d, fds)
        st = d.request({"version": 1, "cmd": "status"})["result"]["daemon"]
        self.assertEqual(st["refused_connections"], 2)  # extra and late
        self.assertEqual(st["connections"], 1)

    def test_pamprofctl_turned_away_says_why(self):
        """With max_connections clients connected, pamprofctl's send() meets the socket the daemon already
        closed (EPIPE); it reads the daemon's "Too many clients" reply waiting for it and says that."""
        self.target(duty=0.0)
        d = self.daemon()
        clients = [connect(d.socket) for _ in range(MAX_CONNECTIONS)]
        try:
            clients[-1].send(STATUS)
            clients[-1].recv(70000)
            r = d.ctl("status")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("Too many clients", r.stderr)
        finally:
            for s in clients:
                s.close()

    def test_64_pamprofctl_at_once(self):
        t = self.target(duty=0.0)
        d = self.daemon()
        fds = self.idle_fds(d)

        def one(_):
            return subprocess.run([PAMPROFCTL, "--socket", d.socket, "--json", "status"], capture_output=True,
                                  text=True, timeout=60 * SLOW)

        start = time.monotonic()
        with ThreadPoolExecutor(MAX_CONNECTIONS) as pool:
            results = list(pool.map(one, range(MAX_CONNECTIONS)))
        took = time.monotonic() - start
        for r in results:
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout.splitlines()[-1])["result"]["target"]["pid"], t.pid)
        print(f"64 pamprofctl status in {took:.2f}s", flush=True)
        self.settle(d, fds)

    def test_64_clients_that_misbehave_at_once(self):
        """Half-open, garbage, oversize, vanishing: each gets its answer or is dropped, no one waits."""
        self.target(duty=0.0)
        d = self.daemon()
        fds = self.idle_fds(d)
        payloads = [b"not json", b"{" * 50, b'{"version":1,"cmd":"status","x":"' + b"y" * 70000 + b'"}',
                    json.dumps({"version": 1, "cmd": "start", "scenario": "a b"}).encode(), b"\0", STATUS]
        clients = [connect(d.socket) for _ in range(MAX_CONNECTIONS - 2)]
        silent = connect(d.socket)  # says nothing at all
        try:
            for i, s in enumerate(clients):
                s.send(payloads[i % len(payloads)])
            gone = clients[::7]  # leave without reading the answer
            for s in gone:
                s.close()
            for i, s in enumerate(clients):
                if s in gone:
                    continue
                reply = json.loads(s.recv(70000))
                self.assertEqual(reply["ok"], payloads[i % len(payloads)] == STATUS, reply)
            # A well-behaved client is answered at once despite the silent one.
            begin = time.monotonic()
            self.assertTrue(d.request({"version": 1, "cmd": "status"})["ok"])
            self.assertLess(time.monotonic() - begin, 2 * SLOW)
        finally:
            for s in clients:
                s.close()
            silent.close()
        self.settle(d, fds)
        self.assertTrue(d.request({"version": 1, "cmd": "status"})["ok"])


if __name__ == "__main__":
    main()
