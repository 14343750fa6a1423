"""The batch's own files: ``batch.json``, ``summary.csv``, ``plot.png`` (and
``plot_marks.png`` for rows on generated surfaces), ``index.html``,
and ``lights/`` (previews of the given lights of render, relight and evaluate rows)."""
from __future__ import annotations

import dataclasses
import hashlib
import os

from ..io import write_json
from .folders import output_error
from .page import write_index
from .summary import MARKS_PLOT, default_plot, write_plot, write_summary_csv

__all__ = ["write_report"]


def _light_previews(out_dir: str, records: list[dict], base_dir: str) -> None:
    """Give each ok row that rendered a given envmap file a thumbnail of it."""
    from ..io import read_envmap
    from ..report.figures import write_envmap_preview

    made: dict[str, str | None] = {}
    for rec in records:
        path = rec["options"].get("envmap") if rec["status"] == "ok" else None
        if rec["command"] == "optimize" or not isinstance(path, str):
            continue
        path = os.path.normpath(os.path.join(base_dir, path))
        if path not in made:
            made[path] = None
            try:
                digest = hashlib.sha256(path.encode()).hexdigest()[:8]
                rel = f"lights/{os.path.splitext(os.path.basename(path))[0]}-{digest}.png"
                write_envmap_preview(os.path.join(out_dir, rel), read_envmap(path))
                made[path] = rel
            except Exception:  # a light that cannot be previewed only loses its thumbnail
                pass
        if made[path]:
            rec["images"]["light"] = made[path]


def write_report(out_dir: str, plan, settings, result, executor: str) -> str | None:
    """Write the batch's summary files for ``result`` (a ``run.BatchResult``); a file that
    cannot be written (the folder turned unwritable) is skipped and the others are still
    tried. Returns the first such problem as one line, or None."""
    problems: list[str] = []

    def attempt(write, *args) -> bool:
        try:
            write(*args)
            return True
        except OSError as e:
            problems.append(output_error(e))
            return False

    records = result.records
    _light_previews(out_dir, records, plan.base_dir)
    attempt(write_summary_csv, os.path.join(out_dir, "summary.csv"), records)
    # the reference row of a shared-light plan only made the light: not a point of the study
    studied = [r for r in records if plan.reference is None or r["name"] != "reference"]
    metric, x = default_plot(studied, plan.swept, settings.plot_metric or plan.report.get("metric"),
                             settings.plot_x or plan.report.get("x"))
    links = {"summary.csv": "summary.csv", "batch.json": "batch.json"}
    plotted = False
    if metric and x:
        done: list[bool] = []
        attempt(lambda: done.append(write_plot(os.path.join(out_dir, "plot.png"), studied,
                                               metric, x)))
        plotted = bool(done and done[0])
    if plotted:
        links["plot"] = "plot.png"
    elif os.path.exists(os.path.join(out_dir, "plot.png")):
        attempt(os.remove, os.path.join(out_dir, "plot.png"))
    # rows on generated surfaces: the planted defects' and the machining marks' visibility
    marks = os.path.join(out_dir, "plot_marks.png")
    done = []
    if x and any(m in r["metrics"] for r in studied for m in MARKS_PLOT):
        attempt(lambda: done.append(write_plot(marks, studied, MARKS_PLOT, x)))
    if done and done[0]:
        links["marks plot"] = "plot_marks.png"
    elif os.path.exists(marks):
        attempt(os.remove, marks)
    ok = sum(r["status"] == "ok" for r in records)
    retried = sum(bool(r.get("retried")) for r in records)
    notes = [f"plan {plan.path} ({plan.mode}); {len(records)} rows: {ok} complete "
             f"({result.reused} from an earlier run), {result.failed} failed"
             + (f", {retried} retried" if retried else "")
             + f"; {result.seconds:.1f} s on {executor}"]
    if plotted:
        notes.append(f"plot: {metric} against {x}")
    made = getattr(result, "surfaces", None) or {}
    if made.get("generated") or made.get("reused"):
        notes.append(f"height maps from the rows' parameters: {made['generated']} generated, "
                     f"{made['reused']} from the cache")
    if "marks plot" in links:
        notes.append(f"marks plot: {' and '.join(MARKS_PLOT)} (the optimized render's mean "
                     f"gradient on the defects and on the machining marks) against {x}")
    if result.interrupted:
        notes.append("interrupted: rows that had not finished are absent")
    if problems:
        notes.append(f"the folder could not be written: {problems[0]}")
    attempt(write_index, os.path.join(out_dir, "index.html"), records,
            f"batch {os.path.basename(out_dir)}", notes, links)
    attempt(write_json, os.path.join(out_dir, "batch.json"), {
        "plan": plan.path, "mode": plan.mode, "light": plan.light, "reference": plan.reference,
        "swept": plan.swept, "settings": dataclasses.asdict(settings), "executor": executor,
        "seconds": result.seconds, "interrupted": result.interrupted,
        "surfaces": getattr(result, "surfaces", None),
        "counts": {"rows": len(records), "ok": ok, "ran": result.ran, "reused": result.reused,
                   "failed": result.failed, "retried": retried},
        "plot": {"metric": metric, "x": x} if plotted else None,
        "marks_plot": {"metrics": list(MARKS_PLOT), "x": x} if "marks plot" in links else None,
        "rows": [{k: r.get(k) for k in ("name", "command", "status", "error", "cause", "key",
                                         "options", "metrics", "seconds", "attempts",
                                         "retried", "reused")}
                 for r in records],
    })
    return problems[0] if problems else None
