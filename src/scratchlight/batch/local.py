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

from ..backend import THREADS_ENV
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
    # tqdm's default lock is a multiprocessing semaphore registered with the driver's
    # resource tracker; a worker killed mid-row never unregisters it, and the tracker then
    # warns about a "leaked semaphore" at exit. A thread lock is enough in a worker.
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


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
        if not os.environ.get(THREADS_ENV):
            # rows side by side share the cores rather than each spreading over all of them
            self.env.setdefault(THREADS_ENV, str(max(1, default_workers() // self.workers)))
        self._pool: cf.ProcessPoolExecutor | None = None
        self._procs: dict = {}  # pid -> multiprocessing.Process of the current pool

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.workers,
                                      mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_init_worker, initargs=(self.env,))

    def run(self, tasks: list[dict]) -> Iterator[tuple[dict, dict]]:
        pending = collections.deque(tasks)
        attempts: collections.Counter = collections.Counter()  # attempts whose worker died
        causes: dict[str, list[str]] = collections.defaultdict(list)
        running: dict[cf.Future, dict] = {}
        broken = False
        victims: list[dict] = []  # rows of a broken pool, retried once it is shut down
        while pending or running:
            if self._pool is None:
                self._pool = self._new_pool()
            while pending and len(running) < self.workers and not broken:
                task = pending.popleft()
                running[self._pool.submit(self.target, task)] = task
                # the pool's processes, kept to tell how one ended when the pool breaks
                self._procs.update(getattr(self._pool, "_processes", None) or {})
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                task = running.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    broken = True
                    victims.append(task)
                    continue
                yield task, {**result, "attempts": attempts[task["name"]] + 1,
                             "retried": causes[task["name"]]}
            if broken and not running:  # every row of the broken pool is accounted for
                self._pool.shutdown(wait=True)  # joined: how its workers ended is known now
                why = self._death()
                self._pool, self._procs, broken = None, {}, False
                for task in reversed(victims):
                    n = attempts[task["name"]] = attempts[task["name"]] + 1
                    causes[task["name"]].append(f"attempt {n}: {why}")
                    if n <= self.retries:
                        pending.appendleft(task)
                    else:
                        yield task, {"status": "failed", "cause": "worker", "attempts": n,
                                     "retried": causes[task["name"]],
                                     "error": f"the worker process died {n} times running "
                                              f"this row ({why})"}
                victims = []

    def _death(self) -> str:
        """Why the pool broke: how its dead worker ended (a signal's name), if known. The
        pool terminates its other workers (SIGTERM) once one died, so SIGTERM comes last."""
        ends = [p.exitcode for p in self._procs.values() if p.exitcode not in (None, 0)]
        ends.sort(key=lambda code: code == -signal.SIGTERM)
        for code in ends:
            if code < 0:
                try:
                    return f"a worker process was killed by {signal.Signals(-code).name}"
                except ValueError:
                    pass
            return f"a worker process exited with code {code}"
        return "a worker process died"

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
