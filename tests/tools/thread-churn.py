#!/usr/bin/python3
"""thread-churn: a Python process that keeps starting threads that live a few milliseconds.

    thread-churn.py [--lifetime MS] [--parallel N] [--cmdline-tag TEXT] [--exit-after S]

What a thread-per-request server does under load, without a network: N
spawner threads each start a worker thread, the worker does LIFETIME ms of
work (half hashing, half sleeping) and ends, and the spawner joins it and
starts the next, for ever. Austin 3.7 stops by itself against such a process
after a few seconds (it exits 0 with a complete file while the target still
runs): this is the target of pamprofd's test for a sampler that stops early.

stdout: the first line is the pid, once the spawners run. Then nothing more.
SIGTERM or SIGINT (or the end of --exit-after S): the spawners stop, exit 0.
--cmdline-tag TEXT is ignored; it is there so a test can find this process
by a regex over its command line.
"""

import argparse
import hashlib
import os
import signal
import sys
import threading
import time


def work(seconds):
    end = time.monotonic() + seconds / 2
    h = hashlib.sha256()
    while time.monotonic() < end:
        h.update(b"\x5a" * 4096)
    time.sleep(seconds / 2)


def spawner(stop, lifetime, n):
    i = 0
    while not stop.is_set():
        i += 1
        t = threading.Thread(target=work, args=(lifetime,), name="Churn-%d-%d" % (n, i))
        t.start()
        t.join()


def main(argv):
    p = argparse.ArgumentParser(prog="thread-churn.py", description=__doc__.split("\n")[0])
    p.add_argument("--lifetime", type=float, default=5.0, help="each worker thread's life in ms (default 5)")
    p.add_argument("--parallel", type=int, default=2, help="spawner threads (default 2)")
    p.add_argument("--cmdline-tag", metavar="TEXT", default=None, help="ignored; only for matching")
    p.add_argument("--exit-after", metavar="S", type=float, default=None, help="exit 0 after S seconds")
    args = p.parse_args(argv)
    if not 0 < args.lifetime <= 10000:
        p.error("--lifetime must be more than 0 and at most 10000 ms")
    if not 1 <= args.parallel <= 64:
        p.error("--parallel must be 1..64")
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    stop = threading.Event()
    spawners = [threading.Thread(target=spawner, args=(stop, args.lifetime / 1000, n + 1),
                                 name="Spawner-%d" % (n + 1), daemon=True)
                for n in range(args.parallel)]
    for t in spawners:
        t.start()
    print(os.getpid(), flush=True)
    timeout = 3600.0 if args.exit_after is None else args.exit_after
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if signal.sigtimedwait(signals, deadline - time.monotonic()) is not None:
            break
    stop.set()
    for t in spawners:
        t.join(timeout=1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
