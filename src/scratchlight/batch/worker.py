"""One row, run in a worker process (a local pool's or a Ray worker's).

The row goes through the very library call its command makes (``run_optimization``,
``save_render``, ``save_relight``, ``save_evaluation``), writing the command's output into a
fresh work folder. Where the batch folder is visible to the worker (this machine, or a
shared file system) the work folder is ``DIR/.work/<name>.<pid>.<random>`` and the driver
renames it into place; otherwise the files travel back to the driver in the result. The
driver alone makes a row's folder appear, so a killed worker leaves nothing in ``DIR`` but
a work folder the driver removes.

A row that fails on bad input returns ``{"status": "failed", "error": one line}``; only the
death of the process itself is left to the executor (retried up to a limit).
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from typing import Any

__all__ = ["run_row", "WORK", "run_command", "work_folder"]

WORK = ".work"


def work_folder(task: dict) -> tuple[str, bool]:
    """(folder, shared): a new work folder for the row, inside DIR/.work when the driver's
    token file is visible from here."""
    work_root = os.path.join(task["out_dir"], WORK)
    if task.get("token") and os.path.isfile(os.path.join(work_root, task["token"])):
        return tempfile.mkdtemp(prefix=f"{task['name']}.{os.getpid()}.", dir=work_root), True
    return tempfile.mkdtemp(prefix="scratchlight-row-"), False


def run_command(command: str, config: dict, folder: str) -> dict:
    """Run ``command`` with ``config`` (a config dictionary), writing its outputs into
    ``folder`` as the command line does; returns the JSON document it saved."""
    from ..config import config_from_dict
    from ..optimize.config import OptimizeConfig
    from ..renders import (EvaluateConfig, RelightConfig, RenderConfig, save_evaluation,
                           save_relight, save_render)
    from ..session import run_optimization

    if command == "optimize":
        summary = run_optimization(OptimizeConfig.from_dict(config), folder, progress=False)
        if summary.get("interrupted"):
            raise KeyboardInterrupt  # a cancelled task: the row is not complete
        return summary
    if command == "render":
        doc, _ = save_render(config_from_dict(RenderConfig, config),
                             os.path.join(folder, "render.png"),
                             os.path.join(folder, "render.exr"), progress=False)
        return doc
    if command == "relight":
        doc, _ = save_relight(config_from_dict(RelightConfig, config),
                              os.path.join(folder, "relight.png"),
                              os.path.join(folder, "relight.exr"), progress=False)
        return doc
    if command == "pod":
        from ..pod import PodConfig, run_pod

        run_pod(config_from_dict(PodConfig, config), folder, progress=False)
        with open(os.path.join(folder, "run.json")) as f:
            import json

            return json.load(f)
    if command == "evaluate":
        return save_evaluation(config_from_dict(EvaluateConfig, config),
                               os.path.join(folder, "metrics.json"),
                               os.path.join(folder, "image.png"), progress=False)
    raise ValueError(f"unknown command {command!r}")


def _read_files(folder: str) -> dict[str, bytes]:
    files = {}
    for root, _, names in os.walk(folder):
        for n in names:
            full = os.path.join(root, n)
            files[os.path.relpath(full, folder)] = open(full, "rb").read()
    return files


def _feed_marks(config: dict, folder: str) -> None:
    """Measure the machining marks of an optimize row's result (``feed_marks.json``); a
    failure of the measurement is written there instead and leaves the row complete."""
    from ..io import write_json
    from .rows import error_line
    from .surfaces import FEED_MARKS_FILE, write_feed_marks

    try:
        write_feed_marks(config, folder)
    except Exception as e:  # the optimization itself succeeded: keep it, say why
        write_json(os.path.join(folder, FEED_MARKS_FILE), {"error": error_line(e)})


def run_row(task: dict[str, Any]) -> dict[str, Any]:
    """Run one row (``task``: name, command, config, out_dir, token, env); never raises for
    a failure of the row itself."""
    from .rows import error_line

    os.environ.update(task.get("env") or {})
    t0 = time.perf_counter()
    info = {"host": socket.gethostname(), "pid": os.getpid()}
    folder = None
    try:
        folder, shared = work_folder(task)
        doc = run_command(task["command"], task["config"], folder)
        if task.get("feed_marks"):  # a generated surface: its machining marks' visibility
            _feed_marks(task["config"], folder)
    except KeyboardInterrupt:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    except Exception as e:  # the row's own failure (bad file, bad value, ...): recorded
        # a file of the work folder that cannot be written is the folder's fault, not the
        # input's (such a row is rerun by the next run of the plan)
        where = getattr(e, "filename", None) if isinstance(e, OSError) else None
        output = folder is None or (isinstance(where, str) and
                                    os.path.abspath(where).startswith(folder + os.sep))
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
        return {"status": "failed", "error": error_line(e), **info,
                "cause": "output" if output else "input", "seconds": time.perf_counter() - t0}
    result = {"status": "ok", "seconds": time.perf_counter() - t0,
              "device": doc.get("device"), **info}
    if shared:
        result["path"] = folder
    else:
        result["files"] = _read_files(folder)
        shutil.rmtree(folder, ignore_errors=True)
    return result
