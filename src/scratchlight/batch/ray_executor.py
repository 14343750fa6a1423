"""Rows on a Ray cluster: one Ray task per row.

``address`` None or 'local' starts Ray inside this process with ``workers`` CPUs (and any
GPUs it finds), on 127.0.0.1; any other address (``auto``, ``ray://head:10001``,
``10.0.0.5:6379``) connects to an existing cluster, with Ray's token authentication when a
token is at hand (``_prepare_environment``); a cluster that cannot be reached is one line
saying what to set. When Ray is already initialised (a test's cluster, a
notebook) that connection is used and left open.

Each task asks for one CPU, and for ``gpus_per_row`` GPUs when its row runs with
``device = "cuda"`` (Ray then sets CUDA_VISIBLE_DEVICES for it). Ray reruns a task whose
worker process dies up to ``max_retries`` times (its own fault tolerance); a row's own
errors come back as a failed result and are not retried. Workers need scratchlight
importable and the height maps at the same paths; results travel back to the driver when
the batch folder is not visible to them (see ``batch.worker``).
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Iterator

from ..backend import THREADS_ENV
from .worker import run_row

__all__ = ["RayExecutor", "worker_env"]


def worker_env() -> dict[str, str]:
    """Environment for Ray's worker processes: this process's PYTHONPATH (absolute), so
    workers import the same scratchlight, and SCRATCHLIGHT_CACHE / DRJIT_LIBLLVM_PATH when
    set."""
    env = {}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in
                                            os.environ["PYTHONPATH"].split(os.pathsep) if p)
    for name in ("SCRATCHLIGHT_CACHE", "DRJIT_LIBLLVM_PATH"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def _is_loopback(address: str | None) -> bool:
    if address in (None, "local"):
        return True
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _default_token_file() -> str:
    return os.path.join(os.path.expanduser("~"), ".ray", "auth_token")


def _prepare_environment(address: str | None) -> None:
    """Settings Ray reads from the environment, set before it starts or connects.

    - A local cluster, or one on this machine's loopback address, stays on 127.0.0.1: Ray
      otherwise replaces a loopback address by the machine's network address
      (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` keeps it, on Linux too).
    - Clusters started with ``ray start`` use token authentication from Ray 2.59 on; a
      driver sends the token only with ``RAY_AUTH_MODE=token``. It is set here when the
      user gave a token (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``) or Ray's default token
      file exists (``~/.ray/auth_token``, written by ``ray start`` and ``ray
      get-auth-token``) and the user did not choose a mode.
    """
    if _is_loopback(address):
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if address in (None, "local") or "RAY_AUTH_MODE" in os.environ:
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or \
            os.path.isfile(_default_token_file()):
        os.environ["RAY_AUTH_MODE"] = "token"


def _connect(ray, address: str, kwargs: dict) -> None:
    """``ray.init(address=...)``; a failure is one line saying what to set. Ray's own
    retry messages (one a second while it tries) are kept off the terminal."""
    import tempfile

    from ..errors import InputError

    with tempfile.TemporaryFile(mode="w+b") as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            ray.init(address=address, **kwargs)
            return
        except Exception as e:  # noqa: BLE001  (Ray raises ConnectionError, RuntimeError, ...)
            error = e
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if "InvalidAuthToken" in text or "Unauthenticated" in text or "auth" in first.lower():
        mode = os.environ.get("RAY_AUTH_MODE", "unset")
        raise InputError("--ray", f"the Ray cluster at {address} refused this driver's "
                                  f"authentication (RAY_AUTH_MODE {mode}): set "
                                  "RAY_AUTH_MODE=token and the cluster's token in "
                                  "RAY_AUTH_TOKEN (ray get-auth-token on its head node)")
    raise InputError("--ray", f"cannot connect to a Ray cluster at {address} ({first[:200]})")


class RayExecutor:
    """``run(tasks)`` yields ``(task, result)`` as rows finish; ``abort()`` cancels what is
    still running; ``close()`` shuts down a Ray instance this executor started."""

    def __init__(self, address: str | None = None, workers: int | None = None,
                 retries: int = 2, gpus_per_row: float = 1.0, target=run_row):
        # Ray reads these settings when it is imported: set them first
        if "ray" not in sys.modules:
            _prepare_environment(address)
        try:
            import ray
        except ImportError:
            from ..errors import InputError

            raise InputError("--ray", "Ray is not installed (pip install ray)") from None
        self.ray = ray
        self.retries = int(retries)
        self.gpus_per_row = float(gpus_per_row)
        self.started = False
        if not ray.is_initialized():
            _prepare_environment(address)
            kwargs = dict(include_dashboard=False, logging_level=logging.WARNING,
                          log_to_driver=False, runtime_env={"env_vars": worker_env()})
            if address in (None, "local"):
                # address 'local': a new instance, never a cluster already running here
                ray.init(address="local", num_cpus=workers, **kwargs)
            else:
                _connect(ray, address, kwargs)
            self.started = True
        self.name = "ray " + (address or "local")
        self._remote = ray.remote(target)  # the function run on each task (``worker.run_row``)
        self._refs: dict = {}

    def run(self, tasks: list[dict]) -> Iterator[tuple[dict, dict]]:
        ray = self.ray
        # a row reserves one CPU: its renders and kernels use one thread (as Ray's own
        # OMP_NUM_THREADS), not every core of a node that runs a row per core; a task's
        # runtime_env adds to the job's (a cluster joined by ray.init elsewhere too)
        threads = {"env_vars": {THREADS_ENV: os.environ.get(THREADS_ENV) or "1"}}
        for task in tasks:
            opts = {"num_cpus": 1, "max_retries": self.retries, "runtime_env": threads}
            if task.get("device") == "cuda":
                opts["num_gpus"] = self.gpus_per_row
            self._refs[self._remote.options(**opts).remote(task)] = task
        while self._refs:
            done, _ = ray.wait(list(self._refs), num_returns=1, timeout=0.5)
            for ref in done:
                task = self._refs.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.TaskCancelledError:
                    continue
                except ray.exceptions.RayError as e:  # the worker died retries + 1 times
                    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    result = {"status": "failed", "attempts": self.retries + 1,
                              "error": f"the worker process died {self.retries + 1} times "
                                       f"running this row ({type(e).__name__}: {first[:200]})"}
                yield task, result

    def abort(self) -> None:
        """Cancel every row still queued or running (force: their workers are killed)."""
        for ref in list(self._refs):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # already finished or lost
                pass
        self._refs.clear()

    def close(self) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
            self.started = False
