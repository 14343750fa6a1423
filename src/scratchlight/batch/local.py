"""Rows on this machine: a pool of worker processes (``concurrent.futures``).

Workers are started with ``spawn`` (a fresh interpreter: no forked Dr.Jit state), ignore
Ctrl-C (the driver stops them) and are reused from row to row. A worker that dies mid-row
(killed, out of memory) breaks the pool: every row it was running at that moment is charged
one attempt and resubmitted to a fresh pool, up to ``retries`` extra attempts; only as many
rows as there are workers are handed to the pool at once, so queued rows are never charged.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import multiprocessing
import os
import signal
from concurrent.futures.process import BrokenProcessPool
from typing import Iterator

from .worker import run_row

__all__ = ["LocalExecutor", "default_workers"]


def default_workers(device: str = "cpu") -> int:
    """Workers for this machine: one per CPU core (one for a GPU: rows share the device)."""
    if device == "cuda":
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def _init_worker(env: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(env)


class LocalExecutor:
    """``run(tasks)`` yields ``(task, result)`` as rows finish; ``abort()`` stops the
    workers at once (Ctrl-C); ``close()`` lets them exit."""

    name = "process pool"

    def __init__(self, workers: int | None = None, retries: int = 2, env: dict | None = None,
                 target=run_row):
        self.target = target  # the function run on each task (``worker.run_row``)
        self.workers = int(workers or default_workers())
        self.retries = int(retries)
        self.env = dict(env or {})
        self._pool: cf.ProcessPoolExecutor | None = None

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.workers,
                                      mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_init_worker, initargs=(self.env,))

    def run(self, tasks: list[dict]) -> Iterator[tuple[dict, dict]]:
        pending = collections.deque(tasks)
        attempts: collections.Counter = collections.Counter()
        running: dict[cf.Future, dict] = {}
        broken = False
        while pending or running:
            if self._pool is None:
                self._pool = self._new_pool()
            while pending and len(running) < self.workers and not broken:
                task = pending.popleft()
                running[self._pool.submit(self.target, task)] = task
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                task = running.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    broken = True
                    n = attempts[task["name"]] = attempts[task["name"]] + 1
                    if n <= self.retries:
                        pending.appendleft(task)
                        continue
                    result = {"status": "failed", "attempts": n,
                              "error": f"the worker process died {n} times running this row"}
                yield task, result
            if broken and not running:  # every row of the broken pool is accounted for
                self._pool.shutdown(wait=True)
                self._pool, broken = None, False

    def abort(self) -> None:
        """Terminate the workers now (their rows stay absent) and drop the pool."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
        if terminate is not None:
            terminate()
        else:
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                if proc.is_alive():
                    proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
