#!/usr/bin/python3
"""cpu-burner: a process of known CPU load, for pamprofd's accuracy tests.

    cpu-burner.py --duty 0.5 --threads 2 --name Burner [--cmdline-tag TEXT]
                  [--fork-child DUTY] [--exit-after S]

Each of the N threads (named NAME-1 .. NAME-N, in Python and in the kernel's
/proc/PID/task/TID/comm) burns DUTY of one core with a 10 ms busy/sleep
cycle, so a 1 s sample sees a steady load. The busy part is hashlib work,
which releases the GIL, so N threads really load N cores' worth
(N * DUTY of one core in total; 100 = one core, as top shows it).

The thread's own CPU clock is the feedback: over whole periods each thread
uses exactly DUTY * wall time of CPU whenever a core is free for it. The
main thread only waits for a signal. Interpreter start-up (some tens of ms
of CPU) happens before the pid is printed; take your baseline after that.

stdout: the first line is the burner's pid; with --fork-child a second line
"child PID" gives the child's. Then nothing more.

SIGTERM or SIGINT: threads stop, a child gets SIGTERM and is reaped, exit 0.
--exit-after S: the same after S seconds.
--fork-child DUTY: also start a child process (a copy of this script with
one thread named NAME-child-1) burning DUTY, for --include-children tests.
The child gets SIGTERM if this process dies (PR_SET_PDEATHSIG).
--cmdline-tag TEXT: ignored; it is only there to appear in the command line
so a test can find this process by a regex.
--duty 0 makes idle threads (they wake once a second): a target with many
threads and no load, e.g. --threads 200 --duty 0.
"""

import argparse
import ctypes
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1
PERIOD = 0.010

_libc = ctypes.CDLL(None, use_errno=True)


def set_os_thread_name(name):
    """Name the calling thread in the kernel (comm keeps 15 bytes)."""
    raw = name.encode("utf-8", "replace")[:15]
    return _libc.prctl(PR_SET_NAME, ctypes.c_char_p(raw), 0, 0, 0) == 0


def burn(stop, duty, period=PERIOD):
    """Use `duty` of one core, in `period`-second busy/sleep cycles."""
    if duty <= 0.0:
        while not stop.wait(1.0):
            pass
        return
    chunk = b"\xa5" * 16384
    wall0 = time.monotonic()
    cpu0 = time.thread_time()
    deadline = wall0
    while not stop.is_set():
        deadline += period
        now = time.monotonic()
        if now - deadline > 1.0:
            # suspended or starved for a long time: start afresh
            wall0, cpu0, deadline = now, time.thread_time(), now + period
        target = duty * (deadline - wall0)
        if target - (time.thread_time() - cpu0) > period:
            # behind by more than a period: catch up one period at most
            cpu0 = time.thread_time() - (target - period)
        h = hashlib.sha256()
        while time.thread_time() - cpu0 < target and time.monotonic() < deadline:
            h.update(chunk)
        delay = deadline - time.monotonic()
        if delay > 0:
            stop.wait(delay)


class Burner(threading.Thread):
    def __init__(self, name, duty, stop):
        super().__init__(name=name, daemon=True)
        self.duty = duty
        self.stop_event = stop

    def run(self):
        set_os_thread_name(self.name)
        burn(self.stop_event, self.duty)


def fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("%s is outside 0..1" % text)
    return value


def positive(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text)
    if value <= 0:
        raise argparse.ArgumentTypeError("%s is not > 0" % text)
    return value


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="cpu-burner.py",
        description="Burn a known fraction of a core per thread.")
    p.add_argument("--duty", type=fraction, default=0.5,
                   help="fraction of one core each thread burns (0..1, default 0.5)")
    p.add_argument("--threads", type=int, default=1,
                   help="number of burning threads (default 1)")
    p.add_argument("--name", default="Burner",
                   help="thread name prefix; threads are NAME-1..NAME-N")
    p.add_argument("--cmdline-tag", metavar="TEXT", default=None,
                   help="ignored; only for matching the command line")
    p.add_argument("--fork-child", metavar="DUTY", type=fraction, default=None,
                   help="also start a child process burning DUTY of a core")
    p.add_argument("--exit-after", metavar="S", type=positive, default=None,
                   help="exit 0 after S seconds")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads < 0 or args.threads > 4096:
        p.error("--threads must be 0..4096")
    return args


def start_child(args):
    cmd = [sys.executable, os.path.abspath(__file__),
           "--duty", repr(args.fork_child), "--threads", "1",
           "--name", args.name + "-child", "--child"]
    if args.cmdline_tag is not None:
        cmd += ["--cmdline-tag", args.cmdline_tag]

    def die_with_parent():
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            preexec_fn=die_with_parent)


def main(argv):
    args = parse_args(argv)
    stop = threading.Event()
    # Block the stop signals before starting threads so that only the main
    # thread's sigtimedwait() takes them.
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)

    child = start_child(args) if args.fork_child is not None else None
    threads = [Burner("%s-%d" % (args.name, i + 1), args.duty, stop)
               for i in range(args.threads)]
    for t in threads:
        t.start()

    if not args.child:
        print(os.getpid(), flush=True)
        if child is not None:
            print("child %d" % child.pid, flush=True)

    deadline = None if args.exit_after is None else time.monotonic() + args.exit_after
    while True:
        timeout = 3600.0 if deadline is None else deadline - time.monotonic()
        if timeout <= 0:
            break
        if signal.sigtimedwait(signals, timeout) is not None:
            break

    stop.set()
    for t in threads:
        t.join(timeout=1.0)
    if child is not None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
