"""Running a plan: rows to configs, skip what is done, run the rest, write the report.

``run_batch(plan, out_dir, BatchSettings(...))`` is the ``batch`` command. Rows run on a
local process pool (default), on Ray started in this process (``ray="local"``) or on an
existing Ray cluster (``ray=ADDRESS``). In shared-light mode the reference part (if any) is
optimized first, as a row of its own (``DIR/reference``), and its ``envmap.exr`` becomes the
light of every other row.

The batch folder holds one folder per completed row (the command's own output plus
``row.json``), ``batch.json`` (every row's status, error, timing, the settings),
``summary.csv``, ``index.html`` and ``plot.png``. Ctrl-C stops the workers; the folder then
holds only complete rows and the report of those.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

from ..errors import InputError
from ..options import check_declared, option
from .folders import clean_work, commit_row, completed, output_error, prepare_out
from .lock import folder_lock
from .plan import Plan
from .rows import Row, make_rows, row_names

__all__ = ["BatchSettings", "BatchResult", "run_batch"]


@dataclasses.dataclass
class BatchSettings:
    """How a batch runs (not what it runs: that is the plan)."""

    workers: int | None = option(None, "worker processes (default: one per CPU core; 1 with "
                                       "--device cuda); with --ray local, the CPUs Ray is given",
                                 lo=1, hi=4096)
    """Worker processes (local pool) or CPUs of a Ray started here; default: the machine's."""
    ray: str | None = option(None, "run the rows as Ray tasks: 'local' starts Ray in this "
                                   "process, any other value (auto, ray://HOST:10001, "
                                   "HOST:6379) joins that cluster", metavar="ADDRESS")
    """None: local process pool; 'local': Ray in this process; else a Ray cluster address."""
    retries: int = option(2, "extra attempts for a row whose worker process dies", lo=0,
                          hi=100)
    """Extra attempts for a row whose worker process dies."""
    seed: int | None = option(None, "seed of every row that sets none (default 0)", lo=0,
                              hi=2 ** 31 - 1)
    """Seed of every row that sets none (None: the commands' default, 0)."""
    device: str | None = option(None, "device of every row that sets none; on Ray a cuda row "
                                      "asks for a GPU", choices=("auto", "cpu", "cuda"))
    """Device of every row that sets none (auto, cpu, cuda)."""
    gpus_per_row: float = option(1.0, "GPUs a Ray task of a cuda row asks for (0.5 puts two "
                                      "rows on one GPU)", lo=0.0, lo_open=True, hi=1024.0)
    """GPUs a Ray task asks for when its row runs on cuda."""
    cache_dir: str | None = option(None, "transport-matrix cache root of the workers (sets "
                                         "SCRATCHLIGHT_CACHE for them)", path=True)
    """Transport-matrix cache root for the workers ($SCRATCHLIGHT_CACHE); None: theirs."""
    fresh: bool = option(False, "rerun rows that are already complete")
    """Rerun every row, even those already complete."""
    retry_failed: bool = option(False, "rerun rows that failed on the same input before "
                                       "(default: reported failed again without running)")
    """Rerun rows that failed on their input in an earlier run although nothing changed
    (by default they are reported failed again without running)."""
    progress: bool = option(True, "no progress bar", negate="quiet")
    """Show a progress bar."""
    plot_metric: str | None = option(None, "metric of plot.png (default: loss_after, else auc, "
                                           "...)")
    """The metric plot.png shows (None: the first of loss_after, auc, ... that rows have)."""
    plot_x: str | None = option(None, "option on the x axis of plot.png (default: the first "
                                      "swept one)")
    """The option on plot.png's x axis (None: the first swept one)."""
    wait: bool = option(False, "wait for another batch running in the same --out folder "
                               "to finish (default: exit 2 naming it)")
    """Wait for the batch that holds the folder's lock instead of failing."""

    def validate(self) -> None:
        """Raise InputError naming the first setting outside its declared bounds, or an
        unknown plot metric or option (with the closest valid name)."""
        from .summary import check_plot

        check_declared(self)
        check_plot(self.plot_metric, self.plot_x)


@dataclasses.dataclass
class BatchResult:
    records: list[dict[str, Any]]
    ran: int
    reused: int
    failed: int
    seconds: float
    interrupted: bool = False
    report_error: str | None = None  # why (part of) the report could not be written
    # height maps made from rows' synth.* / mill.* parameters: generated now, from the cache
    surfaces: dict[str, int] = dataclasses.field(default_factory=lambda: {"generated": 0,
                                                                           "reused": 0})


def _executor(settings: BatchSettings):
    if settings.ray:
        from .ray_executor import RayExecutor

        return RayExecutor(settings.ray, settings.workers, settings.retries, settings.gpus_per_row)
    from .local import LocalExecutor, default_workers

    workers = settings.workers or default_workers(settings.device or "cpu")
    env = {"SCRATCHLIGHT_CACHE": settings.cache_dir} if settings.cache_dir else {}
    return LocalExecutor(workers, settings.retries, env)


class _Batch:
    def __init__(self, plan: Plan, out_dir: str, settings: BatchSettings):
        self.plan, self.out, self.settings = plan, out_dir, settings
        self.defaults = {k: v for k, v in (("seed", settings.seed), ("device", settings.device))
                         if v is not None}
        self.records: dict[str, dict] = {}
        self.ran = self.reused = self.failed = 0
        self.token = ""
        self.executor = None
        self.names: list[str] = []
        self.failed_before: dict[str, dict] = {}  # read once the folder is locked
        self.surfaces = {"generated": 0, "reused": 0}  # height maps made from parameters

    def record(self, row: Row, status: str, **extra) -> None:
        from .summary import row_record

        self.records[row.name] = row_record(self.out, row, status, key=row.key, **extra)
        self.failed += status != "ok"

    def execute(self, rows: list[Row], label: str = "batch") -> None:
        """Run the rows that are neither bad nor already complete."""
        from .progress import BatchProgress

        tasks, by_name = [], {r.name: r for r in rows}
        for row in rows:
            if row.error:
                self.record(row, "failed", cause="input")
            elif not self.settings.fresh and completed(self.out, row):
                self.reused += 1
                self.record(row, "ok", reused=True)
            elif row.key and self.failed_before.get(row.name, {}).get("key") == row.key:
                self.record(row, "failed", error=self.failed_before[row.name]["error"],
                            cause="input", reused=True)  # the same input fails the same way
            else:
                env = {"SCRATCHLIGHT_CACHE": self.settings.cache_dir} if self.settings.cache_dir else {}
                from .surfaces import is_generator_option

                # an optimize row on a generated surface also measures its machining marks
                marks = row.command == "optimize" and any(map(is_generator_option, row.options))
                tasks.append({"name": row.name, "command": row.command, "config": row.config,
                              "key": row.key, "device": row.device, "out_dir": self.out,
                              "token": self.token, "env": env, "feed_marks": marks})
        if not tasks:
            return
        if self.executor is None:  # started only when there is work (Ray takes seconds)
            self.executor = _executor(self.settings)
        bar = BatchProgress(len(tasks), self.settings.progress, label)
        try:
            for task, result in self.executor.run(tasks):
                row = by_name[task["name"]]
                # attempts made and why the earlier ones ended (a worker that died, ...)
                tries = {"attempts": result.get("attempts"), "retried": result.get("retried") or []}
                if result.get("status") == "ok":
                    meta = {"name": row.name, "key": row.key, "command": row.command,
                            "options": row.options, "seconds": result.get("seconds"),
                            "host": result.get("host"), "pid": result.get("pid"),
                            "device": result.get("device"), "plan": self.plan.path,
                            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), **tries}
                    try:
                        commit_row(self.out, row, result, meta)
                    except OSError as e:  # the folder turned unwritable: this row is lost
                        self.record(row, "failed", cause="output", **tries,
                                    error=f"cannot write its folder: {output_error(e)}")
                    else:
                        self.ran += 1
                        self.record(row, "ok", seconds=result.get("seconds"), **tries)
                else:
                    # a result without a cause but with attempts: its worker died (Ray)
                    cause = result.get("cause") or ("worker" if result.get("attempts") else "input")
                    self.record(row, "failed", error=result.get("error"), cause=cause, **tries)
                rec = self.records[row.name]
                bar.row_finished(row.name, rec["status"] == "ok", rec["error"])
        finally:
            bar.close()

    def make_rows(self, options: list[dict], names: list[str]) -> list[Row]:
        """Rows of ``options``, their surfaces generated first where they give synth.* or
        mill.* parameters (``batch.surfaces``): the generated files go into the configs,
        the parameters stay the rows' options."""
        from .surfaces import prepare_surfaces

        prepared = prepare_surfaces(options, self.plan.base_dir, self.settings.cache_dir,
                                    self.settings.progress)
        self.surfaces = {"generated": self.surfaces["generated"] + prepared.generated,
                         "reused": self.surfaces["reused"] + prepared.reused}
        rows = make_rows(prepared.options, self.plan.base_dir, self.defaults, names,
                         self.plan.defaults)
        for row, injected, error in zip(rows, prepared.injected, prepared.errors):
            for key in injected:
                row.options.pop(key, None)
            if error:
                row.error, row.config, row.key = error, None, ""
        return rows

    def rows(self) -> list[Row]:
        """The plan's rows; in shared-light mode after the reference row has run."""
        plan, options = self.plan, [dict(o) for o in self.plan.rows]
        light, problem = plan.light, None
        if plan.reference is not None:
            ref = self.make_rows([plan.reference], ["reference"])[0]
            self.execute([ref], label="reference")
            rec = self.records["reference"]
            light = os.path.join(self.out, "reference", "envmap.exr") if rec["status"] == "ok" else None
            problem = None if light else f"the reference row failed: {rec['error']}"
        if plan.mode == "shared-light":
            for opts in options:
                opts.setdefault("command", "evaluate")
                if light:
                    opts["envmap"] = light
        rows = self.make_rows(options, self.names)
        for row in rows:
            if plan.mode == "shared-light" and row.command == "optimize":
                row.error = "command: a shared-light plan runs render, relight or evaluate"
            elif problem and not row.error:
                row.error = problem
            if row.error:
                row.config, row.key = None, ""
        return rows


def _earlier_failures(out_dir: str) -> dict[str, dict]:
    """Rows of an earlier run of this folder that failed on their input (not because their
    worker died or the folder could not be written), by name: ``{"key", "error"}``."""
    import json

    try:
        with open(os.path.join(out_dir, "batch.json")) as f:
            rows = json.load(f).get("rows", [])
    except (OSError, ValueError, AttributeError):
        return {}
    return {r["name"]: r for r in rows if isinstance(r, dict) and r.get("status") == "failed"
            and r.get("key") and r.get("name")
            and (r.get("cause") or ("worker" if r.get("attempts") else "input")) == "input"}


def run_batch(plan: Plan, out_dir: str | os.PathLike, settings: BatchSettings | None = None) -> BatchResult:
    """Run ``plan`` into ``out_dir`` (see the module docstring). A problem with the plan as
    a whole raises ``InputError(plan file, problem)`` before anything is written, and so
    does a folder another batch is running in (unless ``settings.wait``); a row's own
    problem fails only that row, and so does a folder that cannot be written to any more
    (its rows fail, the report is written where it can be). Ctrl-C (KeyboardInterrupt)
    stops the workers, writes the report of the complete rows and is raised again."""
    settings = settings or BatchSettings()
    settings.validate()  # before any file is touched
    out_dir = os.path.abspath(os.fspath(out_dir))
    t0 = time.perf_counter()
    batch = _Batch(plan, out_dir, settings)
    try:
        batch.names = row_names(plan.rows)
    except InputError as e:
        raise InputError(plan.path, f"{e.path}: {e.problem}") from None
    if plan.reference is not None and "reference" in batch.names:
        raise InputError(plan.path, "a row may not be named 'reference' with a [reference] part")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InputError(out_dir, "exists and is not a folder")
    with folder_lock(out_dir, settings.wait):
        batch.failed_before = _earlier_failures(out_dir) if not (settings.fresh or
                                                                 settings.retry_failed) else {}
        return _run_locked(batch, t0)


def _run_locked(batch: _Batch, t0: float) -> BatchResult:
    plan, out_dir, settings = batch.plan, batch.out, batch.settings
    interrupted = False
    try:
        batch.token = prepare_out(out_dir)
        rows = batch.rows()
        batch.execute(rows)
    except KeyboardInterrupt:
        interrupted = True
        if batch.executor is not None:
            batch.executor.abort()
    finally:
        if batch.executor is not None:
            batch.executor.close()
        clean_work(out_dir)
    order = ["reference", *batch.names]
    records = [batch.records[n] for n in order if n in batch.records]
    result = BatchResult(records=records, ran=batch.ran,
                         reused=batch.reused, failed=batch.failed,
                         seconds=time.perf_counter() - t0, interrupted=interrupted,
                         surfaces=batch.surfaces)
    from .report import write_report

    where = batch.executor.name if batch.executor is not None else "no worker (nothing to run)"
    result.report_error = write_report(out_dir, plan, settings, result, where)
    if interrupted:
        raise KeyboardInterrupt
    return result
