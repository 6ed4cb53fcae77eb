"""FastAPI app of the PAM stand-in: run it as

    python3 -m uvicorn petal_app_manager.main:app --host 127.0.0.1 --port 9000

(tests/pam-standin/run-pam-standin does exactly that). On startup it starts
PAM's worker threads and an asyncio health publisher; GET /health answers
{"status": "ok", ...}.

Environment knobs:
  PAM_STANDIN_LOAD     extra busy fraction of one core, 0..1 (LoadWorker-1)
  PAM_STANDIN_THREADS  number of extra idle threads (IdleWorker-N)

Pathology switches, each off by default (../README.md says what each does):
  PAM_STANDIN_BUSY_THREAD=1         ArmingMonitor-1 spins on a flag
  PAM_STANDIN_BLOCKING_COROUTINE=1  refresh_cloud_settings time.sleep()s on the loop
  PAM_STANDIN_POLLING_THREAD=1      MQTTOutbox-1 looks at its queue every 1 ms
  PAM_STANDIN_LEAK_MB_S=R           MAVLinkWorker-1 keeps R MiB/s of frames forever
  PAM_STANDIN_FAST_PERIODIC=1       stream_rc_override runs every 4 ms on the loop
  PAM_STANDIN_JSON_ROUNDTRIP=1      MissionWorker-1 copies its plan by dumps+loads
"""

import asyncio
import collections
import inspect
import json
import os
import sys
import threading
import time
import warnings

from fastapi import FastAPI

from . import __version__
from .workers import build_mavlink_frame, set_os_thread_name, start_standard_workers


def _env_float(name, default, lo, hi):
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        sys.exit("%s=%r is not a number" % (name, raw))
    if not lo <= value <= hi:
        sys.exit("%s=%s is outside %g..%g" % (name, raw, lo, hi))
    return value


def _env_switch(name):
    raw = os.environ.get(name, "")
    if raw not in ("", "0", "1"):
        sys.exit("%s=%r: want 1 (on) or 0 (off)" % (name, raw))
    return raw == "1"


LOAD = _env_float("PAM_STANDIN_LOAD", 0.0, 0.0, 1.0)
EXTRA_THREADS = int(_env_float("PAM_STANDIN_THREADS", 0, 0, 4096))


class Switches:
    """The pathologies to switch on (all off by default)."""

    def __init__(self):
        self.busy_thread = _env_switch("PAM_STANDIN_BUSY_THREAD")
        self.blocking_coroutine = _env_switch("PAM_STANDIN_BLOCKING_COROUTINE")
        self.polling_thread = _env_switch("PAM_STANDIN_POLLING_THREAD")
        self.leak_mb_per_s = _env_float("PAM_STANDIN_LEAK_MB_S", 0.0, 0.0, 64.0)
        self.fast_periodic = _env_switch("PAM_STANDIN_FAST_PERIODIC")
        self.json_roundtrip = _env_switch("PAM_STANDIN_JSON_ROUNDTRIP")

    def on(self):
        return sorted(k for k, v in vars(self).items() if v)


SWITCHES = Switches()


class State:
    def __init__(self):
        self.started_monotonic = time.monotonic()
        self.stop = threading.Event()
        self.workers = []
        self.publisher = None
        self.tasks = []
        self.rc_frames_sent = 0
        self.settings_attempts = 0
        self.health_published = 0
        # stands in for the Redis channel PAM publishes its health on
        self.channel = collections.deque(maxlen=60)


state = State()


def get_health_data():
    return {
        "status": "ok",
        "service": "petal-app-manager",
        "standin": True,
        "version": __version__,
        "pid": os.getpid(),
        "uptime_s": round(time.monotonic() - state.started_monotonic, 3),
        "threads": sorted(t.name for t in threading.enumerate()),
        "health_published": state.health_published,
        "load": LOAD,
        "switches": SWITCHES.on(),
    }


async def publish_health_status():
    """Every second: gather health data and 'publish' it, as PAM does."""
    while True:
        await asyncio.sleep(1.0)
        state.channel.append(json.dumps(get_health_data()))
        state.health_published += 1


def cloud_settings_answer(attempt):
    """The cloud's settings endpoint, faked: it answers one try in three."""
    if attempt % 3:
        return None
    return {"telemetry_rate_hz": 10, "geofence_m": 150}


async def refresh_cloud_settings(period=1.0, retry_delay=0.2):
    """Every second: fetch the settings from the cloud; when it does not
    answer, wait a little and try again (with a blocking time.sleep)."""
    while True:
        await asyncio.sleep(period)
        while True:
            state.settings_attempts += 1
            if cloud_settings_answer(state.settings_attempts) is not None:
                break
            time.sleep(retry_delay)


# where the RC override goes: the flight controller, the GCS, the logger...
RC_ROUTES = 7


async def stream_rc_override(period=0.004):
    """Every 4 ms: the pilot's RC channels, packed into a MAVLink
    RC_CHANNELS_OVERRIDE frame for each route (about 50 us of work)."""
    seq = 0
    while True:
        await asyncio.sleep(period)
        t = time.monotonic()
        channels = [1500 + int(100 * ((t * (i + 1)) % 1.0)) for i in range(8)]
        state.rc_frames = [build_mavlink_frame(seq, 70, *channels, 1, route)
                           for route in range(1, RC_ROUTES + 1)]
        seq += 1
        state.rc_frames_sent += 1


async def startup():
    state.workers = start_standard_workers(state.stop, LOAD, EXTRA_THREADS, SWITCHES)
    loop = asyncio.get_running_loop()
    state.publisher = loop.create_task(
        publish_health_status(), name="publish_health_status")
    if SWITCHES.blocking_coroutine:
        state.tasks.append(loop.create_task(
            refresh_cloud_settings(), name="refresh_cloud_settings"))
    if SWITCHES.fast_periodic:
        state.tasks.append(loop.create_task(
            stream_rc_override(), name="stream_rc_override"))


async def shutdown():
    state.stop.set()
    if state.publisher is not None:
        state.publisher.cancel()
    for task in state.tasks:
        task.cancel()
    for w in state.workers:
        w.join(timeout=2.0)


def _make_app():
    description = "Stand-in for the Petal App Manager (test fixture)"
    if "lifespan" in inspect.signature(FastAPI.__init__).parameters:
        import contextlib

        @contextlib.asynccontextmanager
        async def lifespan(_app):
            await startup()
            yield
            await shutdown()

        return FastAPI(title="petal-app-manager", description=description,
                       lifespan=lifespan)
    application = FastAPI(title="petal-app-manager", description=description)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        application.on_event("startup")(startup)
        application.on_event("shutdown")(shutdown)
    return application


app = _make_app()


@app.get("/health")
async def health():
    return get_health_data()


# PAM_STANDIN_ON_DEMAND=1 (--on-demand): trouble made on request, for the flight recorder's
# tests. SIGUSR1: geofence_recompute_spike burns one core for PAM_STANDIN_SPIKE_S seconds (6) in
# a thread of its own, named in the OS as the workers are; SIGUSR2: telemetry_cache_grow keeps
# PAM_STANDIN_JUMP_MB MiB (150) more; GET /debug/threads: PAM_STANDIN_THREADS_JUMP (20) more
# threads that wait for ever (LinkRetry-N, as a reconnect storm would leave them);
# GET /debug/exit: the process exits at once (os._exit, the way a crash leaves).
def geofence_recompute_spike(seconds):
    set_os_thread_name("GeofenceSpike")  # as the workers do: the name Austin's profiles get, from comm
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x += sum(i * i for i in range(1000))
    return x


def telemetry_cache_grow(mb):
    state.jump = getattr(state, "jump", [])
    state.jump.append(bytearray(os.urandom(1024)) * (mb * 1024))


if _env_switch("PAM_STANDIN_ON_DEMAND"):
    import signal

    def _spike(signum, frame):
        seconds = _env_float("PAM_STANDIN_SPIKE_S", 6.0, 0.1, 3600)
        threading.Thread(target=geofence_recompute_spike, args=(seconds,), name="GeofenceSpike",
                         daemon=True).start()

    def _grow(signum, frame):
        telemetry_cache_grow(int(_env_float("PAM_STANDIN_JUMP_MB", 150, 1, 4096)))

    signal.signal(signal.SIGUSR1, _spike)
    signal.signal(signal.SIGUSR2, _grow)

    def link_retry_wait(name, forever):
        set_os_thread_name(name)
        forever.wait()

    @app.get("/debug/threads")
    async def debug_threads():
        n = int(_env_float("PAM_STANDIN_THREADS_JUMP", 20, 1, 1000))
        state.retry_forever = getattr(state, "retry_forever", threading.Event())
        first = len(getattr(state, "retry_threads", []))
        state.retry_threads = getattr(state, "retry_threads", [])
        for i in range(first, first + n):
            t = threading.Thread(target=link_retry_wait, args=(f"LinkRetry-{i + 1}", state.retry_forever),
                                 name=f"LinkRetry-{i + 1}", daemon=True)
            t.start()
            state.retry_threads.append(t)
        return {"threads": threading.active_count()}

    @app.get("/debug/exit")
    async def debug_exit():
        os._exit(3)
