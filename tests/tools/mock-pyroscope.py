#!/usr/bin/python3
"""A mock Grafana Pyroscope /ingest for pamprofd-upload's tests (no real server can run here).

It keeps the server's documented rules for format=folded, and records what it took:

- name: APP{k=v,...}; APP's type is the suffix after its last dot (pam.wall: app "pam", type
  "wall"; none: 400); label names [a-zA-Z_][a-zA-Z0-9_]*, values non-empty without ,{}= (else 400);
- from, until: unix seconds, integers, from <= until; until older than --reject-older-than
  (3600 s, Pyroscope's default) or from more than --reject-newer-than (600 s) ahead: 400, "too old"
  / "too far in the future", as the server answers profiles out of its window;
- a body over 4 MiB: 413, unread;
- each line is split at its last space: the stack and an integer count (not an integer: 400);
  stacks that come twice are summed;
- the 64 KiB trap: the server reads lines with a 64 KiB buffer, and a longer line silently ends
  the upload: that line and everything after it are dropped, the answer is still 200 (recorded
  as "dropped_after_long_line" so a test can see it happened).

--status CODE answers every request with CODE (after the checks pass), --delay S waits S seconds
before answering. Each request taken (2xx) or refused is one JSON line in --record. The first
line on stdout is the port.

  tests/tools/mock-pyroscope.py --record FILE [--port N] [--status 200] [--delay 0]
"""

import argparse
import http.server
import json
import re
import sys
import time
import urllib.parse

BODY_MAX = 4 * 1024 * 1024
LINE_MAX = 64 * 1024  # bufio.Scanner's default: a line and its newline must fit
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
NAME = re.compile(r"^([^{}]+)\{(.*)\}$")


def parse_name(name):
    m = NAME.match(name)
    app, body = (m.group(1), m.group(2)) if m else (name, "")
    if "{" in app or "}" in app or not app:
        raise ValueError(f"invalid name {name!r}")
    if "." not in app or not app.rsplit(".", 1)[1]:
        raise ValueError(f"no profile type after the last dot of {app!r}")
    labels = {}
    for pair in filter(None, body.split(",")):
        if "=" not in pair:
            raise ValueError(f"invalid label {pair!r}")
        k, v = pair.split("=", 1)
        if not LABEL_NAME.match(k) or not v or any(c in v for c in ",{}="):
            raise ValueError(f"invalid label {pair!r}")
        labels[k] = v
    return app, labels


def parse_folded(body):
    stacks, lines, trap = {}, 0, False
    for raw in body.split(b"\n"):
        if len(raw) + 1 > LINE_MAX:
            trap = True
            break
        if not raw:
            continue
        line = raw.decode("utf-8", "replace")
        stack, _, count = line.rpartition(" ")
        if not stack or not re.fullmatch(r"[0-9]+", count):
            raise ValueError(f"line {lines + 1}: not 'stack count': {line[:80]!r}")
        stacks[stack] = stacks.get(stack, 0) + int(count)
        lines += 1
    return stacks, lines, trap


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("mock-pyroscope: " + fmt % args + "\n")

    def answer(self, code, text, record=None):
        if record is not None:
            record.update(status=code, answer=text)
            with open(self.server.opts.record, "a") as f:
                f.write(json.dumps(record) + "\n")
        if self.server.opts.delay:
            time.sleep(self.server.opts.delay)
        data = (text + "\n").encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (its time-out)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        rec = {"path": url.path, "query": q, "authorization": self.headers.get("Authorization"),
               "tenant": self.headers.get("X-Scope-OrgID"), "at": time.time()}
        length = int(self.headers.get("Content-Length", "0"))
        if url.path != "/ingest":
            self.rfile.read(length)
            return self.answer(404, "404 page not found", rec)
        if length > BODY_MAX:
            self.close_connection = True
            return self.answer(413, f"request body too large: {length} > {BODY_MAX}", rec)
        body = self.rfile.read(length)
        rec["bytes"] = len(body)
        try:
            app, labels = parse_name(q.get("name", ""))
            if q.get("format", "folded") != "folded":
                raise ValueError("this mock takes format=folded only")
            frm, until = int(q["from"]), int(q["until"])
            if frm > until:
                raise ValueError("from is after until")
            now = time.time()
            if until < now - self.server.opts.reject_older_than:
                raise ValueError(f"profile too old: its end {until} is older than "
                                 f"{self.server.opts.reject_older_than} s (out of bounds)")
            if frm > now + self.server.opts.reject_newer_than:
                raise ValueError(f"profile too far in the future: {frm}")
            stacks, lines, trap = parse_folded(body)
        except (ValueError, KeyError) as e:
            return self.answer(400, str(e), rec)
        rec.update(app=app, type=app.rsplit(".", 1)[1], labels=labels, stacks=stacks, lines=lines,
                   dropped_after_long_line=trap)
        code = self.server.opts.status
        return self.answer(code, "ok" if code < 300 else f"mock says {code}", rec)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--record", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--reject-older-than", type=float, default=3600)
    p.add_argument("--reject-newer-than", type=float, default=600)
    opts = p.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", opts.port), Handler)
    srv.daemon_threads = True
    srv.opts = opts
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
