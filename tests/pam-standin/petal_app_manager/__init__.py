"""PAM stand-in: a small FastAPI app shaped like the Petal App Manager.

This is NOT the real Petal App Manager. It is a test fixture for pamprofd:
a real `uvicorn petal_app_manager.main:app` process with PAM's worker thread
names, an asyncio health publisher and a /health endpoint, so that the
daemon's target watcher, sampler and profiler can be exercised on a machine
that has no PAM. See ../README.md.
"""

__version__ = "0.0.0+standin"
