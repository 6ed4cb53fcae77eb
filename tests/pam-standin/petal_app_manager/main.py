"""FastAPI app of the PAM stand-in: run it as

    python3 -m uvicorn petal_app_manager.main:app --host 127.0.0.1 --port 9000

(tests/pam-standin/run-pam-standin does exactly that). On startup it starts
PAM's worker threads and an asyncio health publisher; GET /health answers
{"status": "ok", ...}.

Environment knobs:
  PAM_STANDIN_LOAD     extra busy fraction of one core, 0..1 (LoadWorker-1)
  PAM_STANDIN_THREADS  number of extra idle threads (IdleWorker-N)
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
from .workers import start_standard_workers


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


LOAD = _env_float("PAM_STANDIN_LOAD", 0.0, 0.0, 1.0)
EXTRA_THREADS = int(_env_float("PAM_STANDIN_THREADS", 0, 0, 4096))


class State:
    def __init__(self):
        self.started_monotonic = time.monotonic()
        self.stop = threading.Event()
        self.workers = []
        self.publisher = None
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
    }


async def publish_health_status():
    """Every second: gather health data and 'publish' it, as PAM does."""
    while True:
        await asyncio.sleep(1.0)
        state.channel.append(json.dumps(get_health_data()))
        state.health_published += 1


async def startup():
    state.workers = start_standard_workers(state.stop, LOAD, EXTRA_THREADS)
    state.publisher = asyncio.get_running_loop().create_task(
        publish_health_status(), name="publish_health_status")


async def shutdown():
    state.stop.set()
    if state.publisher is not None:
        state.publisher.cancel()
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
