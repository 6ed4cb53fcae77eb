#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes sessions of known behaviour for `pamprofctl report`'s tests and
benchmark: a speedscope file shaped exactly as py-spy 0.3.14 writes it
(`record --idle --format speedscope`), with the matching _cpu.csv,
_threads.csv and _session.json.

A simulated PAM runs on a timeline: each thread is a loop of segments
(a stack held for a while, on the CPU or waiting). A sampler takes samples
at exponentially spaced times, mean 1/rate, as py-spy's timer does, and
records every thread's stack at each (idle ones too, as with --idle). As in
py-spy, only Python frames appear: a thread in time.sleep() or in a socket
read shows the Python line that made the call (--native adds the C frames).
The CSVs are what /proc would have shown: each thread's CPU is its time on
the CPU in each second, and its wake-ups (wakeups_per_second, pamprofd's
schedstat count) the times it went from waiting to running in it.

  make-profiles.py --out DIR                  every fixture of tests/unit/test-report.c
  make-profiles.py --out DIR --bench-mb 100   one large, varied profile for the benchmark

Deterministic: the same arguments write the same bytes.
"""
import argparse
import json
import math
import os
import random
import sys

PY = "/usr/lib/python3.11/"
SITE = "/opt/pam/.venv/lib/python3.11/site-packages/"
PAM = SITE + "petal_app_manager/"
THREADING = PY + "threading.py"
ASYNCIO = PY + "asyncio/"
START_UNIX = 1767268800.0  # 2026-01-01T12:00:00Z
NCPU = 4
MEM_TOTAL_MB = 7820.0
PID = 4242

# --- stacks (root first; each frame is (name, file, line)) -------------------

MAIN_ROOT = [("<module>", "/opt/pam/.venv/bin/uvicorn", 8),
             ("main", SITE + "click/core.py", 1157),
             ("main", SITE + "uvicorn/main.py", 416),
             ("run", SITE + "uvicorn/main.py", 587),
             ("run", SITE + "uvicorn/server.py", 61),
             ("run", ASYNCIO + "runners.py", 190),
             ("run", ASYNCIO + "runners.py", 118),
             ("run_until_complete", ASYNCIO + "base_events.py", 640),
             ("run_forever", ASYNCIO + "base_events.py", 607),
             ("_run_once", ASYNCIO + "base_events.py", 1922)]
LOOP_IDLE = MAIN_ROOT + [("select", PY + "selectors.py", 468)]
LOOP_RUN = MAIN_ROOT + [("_run", ASYNCIO + "events.py", 80)]
THREAD_ROOT = [("_bootstrap", THREADING, 995),
               ("_bootstrap_inner", THREADING, 1038),
               ("run", THREADING, 975)]
JSON_DUMPS = [("dumps", PY + "json/__init__.py", 231),
              ("encode", PY + "json/encoder.py", 200),
              ("iterencode", PY + "json/encoder.py", 258)]
JSON_LOADS = [("loads", PY + "json/__init__.py", 346),
              ("decode", PY + "json/decoder.py", 337),
              ("raw_decode", PY + "json/decoder.py", 353)]
QUEUE_WAIT = [("get", PY + "queue.py", 180), ("wait", THREADING, 324)]

NATIVE_WAIT = {
    "sleep": [("pysleep", "Modules/timemodule.c", 2123), ("clock_nanosleep", "libc.so.6", 0)],
    "lock": [("PyThread_acquire_lock_timed", "Python/thread_pthread.h", 503),
             ("__futex_abstimed_wait_common", "libc.so.6", 0)],
    "select": [("select_epoll_poll_impl", "Modules/selectmodule.c", 1606), ("epoll_wait", "libc.so.6", 0)],
    "recv": [("sock_recv_into", "Modules/socketmodule.c", 3765), ("__libc_recv", "libc.so.6", 0)],
}


class Seg:
    """A stack held for dur seconds; active: on the CPU; wait: what it waits in (for --native)."""
    __slots__ = ("dur", "stack", "active", "wait")

    def __init__(self, dur, stack, active, wait=None):
        self.dur, self.stack, self.active, self.wait = dur, tuple(stack), active, wait


def jitter(rnd, x, frac=0.05):
    return x * (1.0 + rnd.uniform(-frac, frac))


# --- thread behaviours: generators of segments, forever ----------------------

def event_loop(rnd, coroutines):
    """MainThread: the asyncio loop. coroutines: [(period, phase, fn(rnd) -> [Seg])]."""
    due = [(phase, i) for i, (period, phase, _) in enumerate(coroutines)]
    t = 0.0
    while True:
        due.sort()
        nxt, i = due[0]
        if nxt > t:
            yield Seg(nxt - t, LOOP_IDLE, False, "select")
            t = nxt
        for seg in coroutines[i][2](rnd):
            yield seg
            t += seg.dur
        period = coroutines[i][0]
        due[0] = (nxt + jitter(rnd, period, 0.01), i)


def coro(name, file, line):
    return LOOP_RUN + [(name, file, line)]


def health_publisher(rnd):
    base = coro("publish_health_status", PAM + "main.py", 78)
    return [Seg(jitter(rnd, 0.0015), base + [("get_health_data", PAM + "health.py", 41)], True),
            Seg(jitter(rnd, 0.0006), coro("publish_health_status", PAM + "main.py", 80) + JSON_DUMPS, True),
            Seg(jitter(rnd, 0.0009), coro("publish_health_status", PAM + "main.py", 81)
                + [("publish", SITE + "redis/client.py", 4821)], True)]


def petal_watchdog(rnd):
    return [Seg(jitter(rnd, 0.001), coro("check_petals", PAM + "petals.py", 120)
                + [("is_alive", PAM + "petals.py", 131)], True)]


def sleepy_coroutine(rnd):
    """time.sleep(0.05) inside a coroutine: py-spy shows the coroutine at the sleep line."""
    return [Seg(jitter(rnd, 0.001), coro("refresh_petal_status", PAM + "petals.py", 55)
                + [("collect_status", PAM + "petals.py", 70)], True),
            Seg(0.05, coro("refresh_petal_status", PAM + "petals.py", 57), False, "sleep")]


def event_checking_coroutine(rnd):
    """Every 20 ms: packs a telemetry frame (6 ms), checking a threading.Event with wait(0) as it goes
    (2 ms in all, on the CPU: wait(0) returns at once). The sampler sees threading's Event.wait, a
    name that can wait; the thread's measured CPU says it did not."""
    return [Seg(jitter(rnd, 0.006), coro("stream_telemetry", PAM + "telemetry.py", 40)
                + [("pack_frame", PAM + "telemetry.py", 61)], True),
            Seg(jitter(rnd, 0.002), coro("stream_telemetry", PAM + "telemetry.py", 44)
                + [("wait", THREADING, 622)], True)]


def worker(rnd, loop, idle_stack, wait, period, work):
    """A thread that waits (idle_stack) for period, then runs work(rnd) -> [Seg]."""
    while True:
        yield Seg(jitter(rnd, period, 0.02), THREAD_ROOT + loop + idle_stack, False, wait)
        for seg in work(rnd):
            yield seg


def mavlink_work(rnd):
    loop = THREAD_ROOT + [("_worker_loop", PAM + "proxies/external.py", 318)]
    return [Seg(jitter(rnd, 0.0012), loop + [("_handle_message", PAM + "proxies/external.py", 352),
                                            ("decode", SITE + "pymavlink/mavutil.py", 1370)], True)]


def redis_work(rnd):
    loop = THREAD_ROOT + [("_listen_loop", PAM + "proxies/redis.py", 133)]
    return [Seg(jitter(rnd, 0.0008), loop + [("_dispatch", PAM + "proxies/redis.py", 150)], True)]


def mqtt_work(rnd):
    loop = THREAD_ROOT + [("loop_forever", SITE + "paho/mqtt/client.py", 1756),
                          ("_loop", SITE + "paho/mqtt/client.py", 1187)]
    return [Seg(jitter(rnd, 0.0007), loop + [("loop_misc", SITE + "paho/mqtt/client.py", 1990)], True)]


def monitor_work(rnd):
    loop = THREAD_ROOT + [("_monitor_loop", PAM + "monitor.py", 60)]
    return [Seg(jitter(rnd, 0.002), loop + [("_sample_files", PAM + "monitor.py", 72),
                                           ("stat", PY + "pathlib.py", 1013)], True)]


def clean_threads():
    """PAM at rest: each worker waits, does a little work once a second or so."""
    return {
        "MainThread": lambda rnd: event_loop(rnd, [(1.0, 0.31, health_publisher),
                                                   (5.0, 2.2, petal_watchdog)]),
        "MAVLinkWorker-1": lambda rnd: worker(
            rnd, [("_worker_loop", PAM + "proxies/external.py", 312)], QUEUE_WAIT, "lock", 1.0, mavlink_work),
        "RedisWorker-1": lambda rnd: worker(
            rnd, [("_listen_loop", PAM + "proxies/redis.py", 128),
                  ("get_message", SITE + "redis/client.py", 1050),
                  ("_read_from_socket", SITE + "redis/_parsers/socket.py", 65)], [], "recv", 2.0, redis_work),
        "MQTTWorker-1": lambda rnd: worker(
            rnd, [("loop_forever", SITE + "paho/mqtt/client.py", 1756),
                  ("_loop", SITE + "paho/mqtt/client.py", 1164)], [], "select", 1.0, mqtt_work),
        "HealthMonitor": lambda rnd: worker(
            rnd, [("_monitor_loop", PAM + "monitor.py", 66)], [], "sleep", 5.0, monitor_work),
        "ThreadPoolExecutor-0_0": lambda rnd: worker(
            rnd, [("_worker", PY + "concurrent/futures/thread.py", 81)], [], "queue", 3600.0, lambda r: []),
    }


def busy_wait_thread(rnd):
    """while not self._ready: self._check_ready() -- never sleeps."""
    loop = THREAD_ROOT + [("_wait_for_link", PAM + "proxies/external.py", 402)]
    while True:
        yield Seg(jitter(rnd, 0.00004), loop, True)
        yield Seg(jitter(rnd, 0.0009), loop + [("_check_ready", PAM + "proxies/external.py", 415)], True)


def fast_periodic_thread(rnd):
    """Every 2 ms: poll_status() for 0.4 ms, then time.sleep(0.0016)."""
    loop = THREAD_ROOT + [("_poll_loop", PAM + "proxies/telemetry.py", 88)]
    while True:
        yield Seg(jitter(rnd, 0.0004, 0.1), THREAD_ROOT + [("_poll_loop", PAM + "proxies/telemetry.py", 90),
                                                           ("poll_status", PAM + "proxies/telemetry.py", 104)], True)
        yield Seg(jitter(rnd, 0.0016, 0.1), loop, False, "sleep")


def serializing_thread(rnd):
    """Every 100 ms: send_message() dumps an object, loads it back, and sends it (5 ms)."""
    base = THREAD_ROOT + [("_bus_loop", PAM + "bus.py", 40)]
    while True:
        yield Seg(jitter(rnd, 0.095, 0.02), base + QUEUE_WAIT, False, "lock")
        call = THREAD_ROOT + [("_bus_loop", PAM + "bus.py", 44)]
        yield Seg(jitter(rnd, 0.002), call + [("send_message", PAM + "bus.py", 61)] + JSON_DUMPS, True)
        yield Seg(jitter(rnd, 0.002), call + [("send_message", PAM + "bus.py", 62)] + JSON_LOADS, True)
        yield Seg(jitter(rnd, 0.001), call + [("send_message", PAM + "bus.py", 63),
                                              ("_route", PAM + "bus.py", 90)], True)


def outbox_poller(rnd):
    """Every millisecond: looks at its outbox (15 us), finds it empty, time.sleep(0.001) (mqtt.py:212).
    py-spy shows the line that calls time.sleep: asleep in nearly every sample."""
    look = THREAD_ROOT + [("_drain_outbox", PAM + "proxies/mqtt.py", 209)]
    wait = THREAD_ROOT + [("_drain_outbox", PAM + "proxies/mqtt.py", 212)]
    while True:
        yield Seg(jitter(rnd, 0.000015, 0.2), look, True)
        yield Seg(jitter(rnd, 0.00108, 0.05), wait, False, "sleep")


def dispatch_work(rnd):
    """One item handed over a queue: 20 us of routing."""
    return [Seg(jitter(rnd, 0.00002, 0.2), THREAD_ROOT + [("_dispatch_loop", PAM + "dispatch.py", 27),
                                                          ("_route", PAM + "dispatch.py", 41)], True)]


def rc_override(rnd):
    """A coroutine every 4 ms: packs the RC channels (30 us), too short for 100 Hz samples to time."""
    return [Seg(jitter(rnd, 0.00003, 0.2), coro("stream_rc_override", PAM + "rc.py", 44)
                + [("pack_channels", PAM + "rc.py", 60)], True)]


def status_bridge(rnd):
    """Every 0.5 s: json.loads(json.dumps(status)) on one line (bridge.py:48), 0.4 ms: a cheap round trip."""
    wait = THREAD_ROOT + [("_bridge_loop", PAM + "bridge.py", 30)] + QUEUE_WAIT
    call = THREAD_ROOT + [("_bridge_loop", PAM + "bridge.py", 33), ("_publish_status", PAM + "bridge.py", 48)]
    while True:
        yield Seg(jitter(rnd, 0.4996, 0.01), wait, False, "lock")
        yield Seg(jitter(rnd, 0.0002), call + JSON_DUMPS, True)
        yield Seg(jitter(rnd, 0.0002), call + JSON_LOADS, True)


def burst_thread(start, end):
    """Waits on a queue, works flat out (encoding RC channels) from start to end, waits again."""
    def behaviour(rnd):
        wait = THREAD_ROOT + [("_stream_loop", PAM + "proxies/rc.py", 51)] + QUEUE_WAIT
        work = THREAD_ROOT + [("_stream_loop", PAM + "proxies/rc.py", 55),
                              ("encode_rc_channels", PAM + "proxies/rc.py", 80)]
        yield Seg(start, wait, False, "lock")
        t = start
        while t < end:
            yield Seg(0.01, work, True)
            t += 0.01
        while True:
            yield Seg(3600.0, wait, False, "lock")
    return behaviour


# --- the sampler and the files ------------------------------------------------

# Austin names a function by its qualified name (co_qualname), py-spy by its bare one.
QUALNAMES = {
    (THREADING, "_bootstrap"): "Thread._bootstrap", (THREADING, "_bootstrap_inner"): "Thread._bootstrap_inner",
    (THREADING, "run"): "Thread.run", (THREADING, "wait"): "Condition.wait", (THREADING, "join"): "Thread.join",
    (PY + "queue.py", "get"): "Queue.get", (PY + "selectors.py", "select"): "EpollSelector.select",
    (ASYNCIO + "runners.py", "run", 118): "Runner.run",
    (ASYNCIO + "base_events.py", "run_until_complete"): "BaseEventLoop.run_until_complete",
    (ASYNCIO + "base_events.py", "run_forever"): "BaseEventLoop.run_forever",
    (ASYNCIO + "base_events.py", "_run_once"): "BaseEventLoop._run_once",
    (ASYNCIO + "events.py", "_run"): "Handle._run", (ASYNCIO + "tasks.py", "__step"): "Task.__step",
    (PY + "json/encoder.py", "encode"): "JSONEncoder.encode",
    (PY + "json/encoder.py", "iterencode"): "JSONEncoder.iterencode",
    (PY + "json/decoder.py", "decode"): "JSONDecoder.decode",
    (PY + "json/decoder.py", "raw_decode"): "JSONDecoder.raw_decode",
    (PY + "pathlib.py", "stat"): "Path.stat",
    (PY + "concurrent/futures/thread.py", "_worker"): "_worker",
    (SITE + "paho/mqtt/client.py", "loop_forever"): "Client.loop_forever",
    (SITE + "paho/mqtt/client.py", "_loop"): "Client._loop",
    (SITE + "paho/mqtt/client.py", "loop_misc"): "Client.loop_misc",
    (SITE + "redis/client.py", "get_message"): "PubSub.get_message",
}


class Frames:
    def __init__(self, lineno=True, qualnames=False):
        self.index, self.frames, self.lineno, self.qualnames = {}, [], lineno, qualnames

    def get(self, frame):
        i = self.index.get(frame)
        if i is None:
            i = self.index[frame] = len(self.frames)
            name, file, line = frame
            if self.qualnames:
                name = QUALNAMES.get((file, name, line)) or QUALNAMES.get((file, name)) or name
            self.frames.append({"name": name, "file": file, "line": line if self.lineno else None,
                                "col": None})
        return i


def sample_times(rnd, rate, duration):
    times, t = [], 0.0
    while True:
        t += rnd.expovariate(rate)
        if t >= duration:
            return times
        times.append(t)


def simulate(behaviour, seed, times, duration, cpu_secs, wake_secs, shift=0.0):
    """Yields (stack, active, wait) at each sample time; adds its CPU time to cpu_secs[second of the
    session] and its wake-ups (a wait followed by work) to wake_secs (shift: when this run started in
    the session)."""
    rnd = random.Random(seed)
    segs = behaviour(rnd)
    t0, seg = 0.0, next(segs)
    i = 0
    waiting = False
    while True:
        t1 = t0 + seg.dur
        if seg.active and waiting and t0 < duration:
            wake_secs[int(t0 + shift)] += 1
        waiting = not seg.active
        if seg.active:
            a = t0 + shift
            while a < min(t1, duration) + shift:
                sec = int(a)
                b = min(t1 + shift, sec + 1.0, duration + shift)
                cpu_secs[sec] += b - a
                a = b
        while i < len(times) and times[i] < t1:
            yield seg.stack, seg.active, seg.wait
            i += 1
        if t1 >= duration and i >= len(times):
            return
        t0, seg = t1, next(segs)


def tid_of(threads, tname, pid=PID):
    return pid if tname == "MainThread" else pid + 1 + list(threads).index(tname)


def write_profiles(f, pam, k, seed, rate, idle, native, frames, nsec, first, lead=0.0):
    """One PAM's threads as py-spy profiles, in the order pamprofd's merge writes them; with a lead,
    each begins with an empty sample that long (the merge puts a later run's threads at its start)."""
    pid, start, end, threads, prefix = pam
    times = sample_times(random.Random(seed * 7 + k), rate, end - start)
    cpu = {}
    for tname in sorted(threads, key=lambda n: 'Thread %d "%s"' % (tid_of(threads, n, pid), n)):
        j = list(threads).index(tname)
        tid = tid_of(threads, tname, pid)
        cpu[tid] = (tname, [0.0] * (nsec + 2), [0] * (nsec + 2))
        cache, parts = {}, []
        for stack, active, wait in simulate(threads[tname], seed * 1000 + j + 100 * k, times, end - start,
                                            cpu[tid][1], cpu[tid][2], start):
            if not (idle or active):
                continue
            key = (stack, wait if native and not active else None)
            text = cache.get(key)
            if text is None:
                st = list(stack)
                if key[1] in NATIVE_WAIT:
                    st += NATIVE_WAIT[key[1]]
                text = cache[key] = "[" + ",".join(str(frames.get(fr)) for fr in st) + "]"
            parts.append(text)
        if not parts:
            continue
        w = [json.dumps(1.0 / rate)] * len(parts)
        if lead > 0:
            parts, w = ["[]"] + parts, [json.dumps(lead)] + w
        f.write("%s{\"type\":\"sampled\",\"name\":%s,\"unit\":\"seconds\",\"startValue\":0.0,"
                "\"endValue\":%s,\"samples\":[%s],\"weights\":[%s]}" % (
                    "" if first else ",", json.dumps(prefix + 'Thread %d "%s"' % (tid, tname)),
                    json.dumps(lead + (len(parts) - (lead > 0)) / rate), ",".join(parts), ",".join(w)))
        first = False
    return cpu, first


def write_session(out, name, scenario, threads, duration=60.0, rate=100, seed=1, idle=True, native=False,
                  leak_mb_per_s=0.0, base_mem=212.0, with_profile=True, restart=None, qualnames=False,
                  one_clock=False, garbage=0):
    """threads: {thread name: behaviour}. Writes name_{profile.speedscope.json,cpu.csv,threads.csv,session.json}.
    restart: (at, gap, pid, threads): PAM exits at `at` s and a new one is back `gap` s later; the profile
    is then what pamprofd's merge of the two py-spy runs looks like: with one_clock as it merges now
    (the later run's threads begin at its start), else as it merged before (they begin at 0)."""
    pams = [(PID, 0.05, duration if not restart else restart[0], threads, "")]
    if restart:
        at, gap, pid2, threads2 = restart
        pams.append((pid2, at + gap, duration, threads2, "pid %d: " % pid2))
    frames = Frames(qualnames=qualnames)
    nsec = int(math.ceil(duration))
    cpus = []
    path = os.path.join(out, name + "_profile.speedscope.json")
    # Written as it goes, in py-spy's key order (profiles before shared), so a
    # large benchmark profile never sits in memory as one document.
    with open(path if with_profile else os.devnull, "w") as f:
        f.write('{"$schema":"https://www.speedscope.app/file-format-schema.json","profiles":[')
        first = True
        for k, pam in enumerate(pams):
            lead = pam[1] - pams[0][1] if one_clock else 0.0
            cpu, first = write_profiles(f, pam, k, seed, rate, idle, native, frames, nsec, first, lead)
            cpus.append((pam[0], pam[1], pam[2], cpu))
        f.write('],"shared":{"frames":%s},"activeProfileIndex":null,"exporter":"py-spy@0.3.14",'
                '"name":"py-spy profile"}\n' % json.dumps(frames.frames, separators=(",", ":")))
    write_csvs(out, name, cpus, nsec, leak_mb_per_s, base_mem, seed)
    runs = [{"target_pid": pid, "pid": 9000 + k, "started_at_unix": START_UNIX + start,
             "started_elapsed_seconds": start, "rate": rate, "idle": idle, "native": native}
            for k, (pid, start, end, _, _) in enumerate(pams)]
    session = {"format": 1, "id": name, "scenario": scenario, "state": "stopped",
               "started_at": "2026-01-01T12:00:00.000+00:00", "started_at_unix": START_UNIX,
               "duration_seconds": duration,
               "options": {"interval": 1, "rate": rate, "profile": with_profile, "monitor": True},
               "target": {"pid": pams[-1][0]}, "events": [],
               "profile": {"profiler": "py-spy", "runs": runs}}
    if one_clock:
        session["profile"]["threads_on_one_clock"] = True
    if garbage:  # samples Austin's converter left out (a garbage thread id), as the record counts them
        for run in runs:
            run["conversion"] = {"garbage_samples": garbage}
    with open(os.path.join(out, name + "_session.json"), "w") as f:
        json.dump(session, f, indent=2)


def iso(t):
    s = int(t)
    ms = int(round((t - s) * 1000))
    if ms == 1000:
        s, ms = s + 1, 0
    hh, mm, ss = (s // 3600) % 24, (s // 60) % 60, s % 60
    return "2026-01-01T%02d:%02d:%02d.%03d+00:00" % (12 + hh, mm, ss, ms)


def write_csvs(out, name, cpus, nsec, leak, base_mem, seed):
    """One row a second while a PAM runs (none while it is away), as the sampler writes them."""
    rnd = random.Random(seed + 7)
    with open(os.path.join(out, name + "_cpu.csv"), "w") as f, \
            open(os.path.join(out, name + "_threads.csv"), "w") as g:
        f.write("elapsed_seconds,cpu_percent,memory_mb,memory_percent,timestamp,cpu_core_percent,"
                "user_core_percent,system_core_percent,pss_mb,threads,processes,pid,"
                "profiler_cpu_percent,profiler_rss_mb,wakeups_per_second\n")
        g.write("elapsed_seconds,tid,thread_name,cpu_core_percent,wakeups_per_second\n")
        for sec in range(nsec):
            t = sec + 1.0
            alive = [c for c in cpus if c[1] <= t - 0.5 and t <= c[2] + 0.5]
            if not alive:
                continue
            pid, start, _, cpu = alive[-1]
            core, woke = 0.0, 0
            for tid, (tname, secs, wakes) in sorted(cpu.items()):
                c = 100.0 * secs[sec]
                core += c
                woke += wakes[sec]
                g.write("%.3f,%d,%s,%.2f,%.1f\n" % (t, tid, tname[:15] if tid != pid else "uvicorn", c, wakes[sec]))
            mem = base_mem + leak * (t - start) + rnd.gauss(0, 0.05)
            f.write("%.3f,%.3f,%.2f,%.3f,%s,%.2f,%.2f,%.2f,,%d,1,%d,%.3f,%.1f,%.1f\n" % (
                t, core / NCPU, mem, 100 * mem / MEM_TOTAL_MB, iso(t), core, core * 0.8, core * 0.2,
                len(cpu), pid, 0.25 + rnd.uniform(0, 0.05), 38.5, woke))


def with_thread(base, name, behaviour):
    threads = dict(base)
    threads[name] = behaviour
    return threads


def fixtures(out):
    clean = clean_threads()
    write_session(out, "pam_idle-no-leaffc_20260101_120000", "idle-no-leaffc", clean, seed=1)
    # The same, with 600 samples its converter left out (their thread id was garbage).
    write_session(out, "pam_idle-no-leaffc_20260101_150000", "idle-no-leaffc", clean, seed=1, garbage=600)
    write_session(out, "pam_idle-busywait_20260101_120000", "idle-busywait",
                  with_thread(clean, "LinkWaiter", busy_wait_thread), seed=2)
    # The same two as Austin names the functions ("Condition.wait", "Queue.get").
    write_session(out, "pam_idle-qualnames_20260101_120000", "idle-no-leaffc", clean, seed=1, qualnames=True)
    write_session(out, "pam_idle-busywait-qualnames_20260101_120000", "idle-busywait",
                  with_thread(clean, "LinkWaiter", busy_wait_thread), seed=2, qualnames=True)
    write_session(out, "pam_idle-fastpoll_20260101_120000", "idle-fastpoll",
                  with_thread(clean, "TelemetryPoller", fast_periodic_thread), seed=3)
    threads = dict(clean)
    threads["MainThread"] = lambda rnd: event_loop(rnd, [(1.0, 0.31, health_publisher),
                                                         (5.0, 2.2, petal_watchdog),
                                                         (0.5, 0.13, sleepy_coroutine)])
    write_session(out, "pam_idle-asyncsleep_20260101_120000", "idle-asyncsleep", threads, seed=4)
    write_session(out, "pam_idle-asyncsleep-native_20260101_120000", "idle-asyncsleep", threads, seed=4,
                  native=True)
    write_session(out, "pam_mission-execution_20260101_120000", "mission-execution",
                  with_thread(clean, "MessageBus", serializing_thread), seed=5)
    threads = dict(clean)
    threads["MainThread"] = lambda rnd: event_loop(rnd, [(1.0, 0.31, health_publisher),
                                                         (0.02, 0.005, event_checking_coroutine)])
    write_session(out, "pam_mission-execution_20260101_140000", "mission-execution", threads, seed=11)
    write_session(out, "pam_idle-leak_20260101_120000", "idle-leak", clean, duration=120.0, seed=6,
                  leak_mb_per_s=1.0)
    write_session(out, "pam_idle-noidle_20260101_120000", "idle-no-leaffc",
                  with_thread(clean, "LinkWaiter", busy_wait_thread), seed=7, idle=False)
    # Issue 13: what only the wake-ups show, as py-spy profiles.
    # Beside the poller, a worker handed 300 items a second over a queue: as many wake-ups, none polling.
    threads = with_thread(clean, "OutboxSender", outbox_poller)
    threads["DispatchWorker"] = lambda rnd: worker(
        rnd, [("_dispatch_loop", PAM + "dispatch.py", 24)], QUEUE_WAIT, "lock", 0.0033, dispatch_work)
    write_session(out, "pam_idle-poller_20260101_120000", "idle-poller", threads, seed=12)
    threads = dict(clean)
    threads["MainThread"] = lambda rnd: event_loop(rnd, [(1.0, 0.31, health_publisher),
                                                         (5.0, 2.2, petal_watchdog),
                                                         (0.004, 0.001, rc_override)])
    write_session(out, "pam_idle-fastloop_20260101_120000", "idle-fastloop", threads, seed=13)
    write_session(out, "pam_idle-roundtrip_20260101_120000", "idle-roundtrip",
                  with_thread(clean, "StatusBridge", status_bridge), seed=14)
    write_session(out, "pam_rc-stream_20260101_120000", "rc-stream",
                  with_thread(clean, "RCStreamer", burst_thread(20.0, 23.0)), seed=8)
    # PAM restarts at 30 s, back at 32 s as pid 5000; its RCStreamer bursts 10 s later (42-45 s of the session).
    write_session(out, "pam_rc-stream_20260101_130000", "rc-stream", clean, seed=10,
                  restart=(30.0, 2.0, 5000, with_thread(clean, "RCStreamer", burst_thread(10.0, 13.0))))
    # The same, merged as pamprofd merges now: pid 5000's threads begin at 32 s of the profile's clock.
    write_session(out, "pam_rc-stream_20260101_140000", "rc-stream", clean, seed=10, one_clock=True,
                  restart=(30.0, 2.0, 5000, with_thread(clean, "RCStreamer", burst_thread(10.0, 13.0))))


# --- the benchmark's profile -----------------------------------------------------

def varied_work(name, file, base_line, pool):
    """Work with many distinct stacks, as real code has: lines and callees vary, drawn
    from a pool of pool stacks (0: a new random stack every time, a stress test)."""
    def make(rnd):
        stack = [(name, file, base_line + rnd.randint(0, 30))]
        for _ in range(rnd.randint(1, 6)):
            stack.append(("helper_%d" % rnd.randint(0, 40), file, 200 + rnd.randint(0, 120)))
        return THREAD_ROOT + stack
    stacks = [make(random.Random("%s-%d" % (name, i))) for i in range(pool)]

    def work(rnd):
        return [Seg(rnd.uniform(0.002, 0.03), rnd.choice(stacks) if pool else make(rnd), True)
                for _ in range(rnd.randint(1, 4))]
    return work


def bench(out, mb, pool, rate=100):
    """A PAM under load, 16 threads, long enough for about mb megabytes."""
    threads = dict(clean_threads())
    for i in range(10):
        file = PAM + "proxies/worker_%d.py" % i
        threads["Worker-%d" % i] = (lambda f, j: lambda rnd: worker(
            rnd, [("_loop", f, 30)], QUEUE_WAIT, "lock", 0.05 + 0.02 * j,
            varied_work("process_%d" % j, f, 60, pool)))(file, i)
    # About 30 bytes per sample at this mix.
    duration = mb * 1e6 / (30.5 * rate * len(threads))
    write_session(out, "pam_bench_20260101_120000", "bench", threads, duration=duration, rate=rate, seed=9)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench-mb", type=float, default=0)
    ap.add_argument("--bench-stacks", type=int, default=2000,
                    help="distinct work stacks per worker thread (0: all random, a stress test)")
    ap.add_argument("--stamp", help="touch this file when done (for build systems)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.bench_mb > 0:
        bench(a.out, a.bench_mb, a.bench_stacks)
    else:
        fixtures(a.out)
    if a.stamp:
        with open(a.stamp, "w") as f:
            f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
