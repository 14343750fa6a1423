"""Where heavy work runs, so the event loop keeps answering while a matrix is built.

Mitsuba is driven from one thread of its own (``MitsubaWorker``): every scene build,
transport-matrix build, Mitsuba render and AD optimization of every session queues there
(Mitsuba's variant is per thread, and its Python API is not meant for concurrent
threads). NumPy-only work, relighting by a built matrix and the transport engine's
optimization loop, runs on other threads, so it goes on while a build is queued.

A ``Job`` is one long step of a session (load a surface, change the camera, evaluate,
export) that the page follows by polling: its state, progress in [0, 1], a message, and
its result or one-line error.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import itertools
import logging
import os
import re
import threading
import time
from typing import Any, Callable

from ..errors import InputError

__all__ = ["MitsubaWorker", "Job", "run_job", "Busy", "public_error", "hide_paths"]

log = logging.getLogger("scratchlight.studio")
_job_ids = itertools.count(1)


class Busy(Exception):
    """The session is already doing something that excludes this request."""


# An absolute server path inside a message (a library's own text may quote one).
_ABS_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s'\"/]+/)+([^\s'\"/]+)")


def hide_paths(text: str) -> str:
    """``text`` with every absolute path replaced by its file name."""
    return _ABS_PATH.sub(lambda m: m.group(1), text)


def public_error(e: InputError) -> str:
    """One line for the page: a file named by an absolute server path is named by its
    file name only, also inside the problem (the browser never sees server paths)."""
    where = e.path
    if where and os.path.isabs(where):
        where = os.path.basename(where)
    return hide_paths(f"{where}: {e.problem}" if where else e.problem).splitlines()[0]


class MitsubaWorker:
    """One thread for everything that calls Mitsuba, with the device chosen in it."""

    def __init__(self, device: str = "auto"):
        self.device = device
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="scratchlight-mitsuba", initializer=self._init)

    def _init(self):
        from ..backend import use_device

        try:
            use_device(self.device)
        except Exception as e:  # reported again by the first Session built
            log.warning("device %s: %s", self.device, e)

    async def run(self, fn: Callable, *args, **kwargs):
        """``fn(*args, **kwargs)`` on the Mitsuba thread, awaited without blocking the loop."""
        return await asyncio.wrap_future(self._pool.submit(fn, *args, **kwargs))

    def shutdown(self):
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclasses.dataclass
class Job:
    """A long step of one session, followed by the page (``to_json``)."""

    kind: str
    id: int = dataclasses.field(default_factory=lambda: next(_job_ids))
    state: str = "queued"  # queued, running, done, error
    progress: float = 0.0
    message: str = ""
    result: Any = None
    error: str | None = None
    started: float = dataclasses.field(default_factory=time.perf_counter)
    seconds: float | None = None
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def report(self, progress: float | None = None, message: str | None = None) -> None:
        """Called from the working thread."""
        with self._lock:
            if progress is not None:
                self.progress = max(0.0, min(1.0, float(progress)))
            if message is not None:
                self.message = message
            if self.state == "queued":
                self.state = "running"

    @property
    def finished(self) -> bool:
        return self.state in ("done", "error")

    def to_json(self) -> dict:
        with self._lock:
            return {"id": self.id, "kind": self.kind, "state": self.state,
                    "progress": round(self.progress, 4), "message": self.message,
                    "result": self.result if self.state == "done" else None,
                    "error": self.error, "seconds": self.seconds}


async def run_job(job: Job, call) -> None:
    """Await ``call()`` (an awaitable factory), recording its result or error in ``job``."""
    try:
        result = await call()
    except InputError as e:
        job.state, job.error = "error", public_error(e)
    except Exception as e:  # keep the server and the session usable; say what went wrong
        log.exception("job %s failed", job.kind)
        text = hide_paths(str(e).splitlines()[0]) if str(e) else type(e).__name__
        job.state, job.error = "error", f"{job.kind} failed: {text}"
    else:
        job.result, job.progress, job.state = result, 1.0, "done"
    job.seconds = round(time.perf_counter() - job.started, 3)
