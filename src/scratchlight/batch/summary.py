"""What a batch found: one record per row (options, metrics, images), ``summary.csv`` and
the plot of a metric against a swept option.

Metrics are read back from the rows' folders (the commands' own JSON files), so rows done
by an earlier run of the plan count the same as new ones.

| command | metrics |
|---|---|
| optimize | ``loss_before``, ``loss_after`` (the objective on the high-spp renders), ``loss_ratio`` (after / before), ``l_grad_*``, ``mean_gradient_*``, ``iterations_done``, ``time_s``, ``total_time_s``, ``exaggeration``; with ``twin``, d' of the optimized light (``dprime``, ``dprime_cho``, each with ``_se``); on a generated surface (``synth.*``, ``mill.*``), ``scratch_gradient`` and ``feed_mark_gradient`` (``batch.surfaces.write_feed_marks``) |
| evaluate | every visibility metric's mean (``auc``, ``cnr``, ``detected_fraction``, ...) and its standard error (``auc_se``, ...); with ``twin``, d' of the display observers (``dprime`` NPW, ``dprime_cho``, each with ``_se``); ``seconds`` |
| render | ``seconds`` |
| relight | ``ready_s``, ``relight_ms`` |
| pod | the first light's ``pod_a50_um``, ``pod_a90_um``, ``pod_a90_95_um`` (micrometres, empty where no POD curve fits), ``pod_hits`` of ``pod_defects``, ``seconds`` |
"""
from __future__ import annotations

import csv
import json
import math
import os
from typing import Any

from ..errors import InputError
from ..io.atomic import atomic_path
from .rows import CONFIG_FILES, Row
from .surfaces import FEED_MARK_METRICS, FEED_MARKS_FILE

__all__ = ["row_record", "write_summary_csv", "write_plot", "default_plot", "option_columns",
           "metric_columns", "command_metric_columns", "metric_names", "check_plot",
           "retried_text", "VISIBILITY", "MARKS_PLOT"]

def _evaluate_metrics() -> tuple[str, ...]:
    from ..report.metrics import METRIC_NAMES

    return (*METRIC_NAMES, *(f"{m}_se" for m in METRIC_NAMES), *_DPRIME, "seconds")


# evaluate --twin, optimize --twin: the display observers' d' (NPW first: the visibility measure the plot
# prefers) and their jackknife standard errors over the seeds
_DPRIME = ("dprime", "dprime_se", "dprime_cho", "dprime_cho_se")


_OPTIMIZE_METRICS = ("loss_before", "loss_after", "loss_ratio", "l_grad_before", "l_grad_after",
                     "mean_gradient_before", "mean_gradient_after", "iterations_done", "time_s",
                     "total_time_s", "exaggeration", *_DPRIME, *FEED_MARK_METRICS)


def metric_names() -> set[str]:
    """Every metric a batch row may have (the columns ``_metrics`` reads back)."""
    return {*_OPTIMIZE_METRICS, *_evaluate_metrics(), *_POD_METRICS, "seconds", "ready_s",
            "relight_ms"}


def check_plot(metric: str | None, x: str | None, metric_name: str = "--plot-metric",
               x_name: str = "--plot-x") -> None:
    """Raise InputError naming an unknown plot metric or x option (and the closest valid
    name); None means the default."""
    from ..options import unknown_name
    from .options import plan_options
    from .surfaces import check_generator_name, generator_options, is_generator_option

    if metric is not None and metric not in metric_names():
        e = unknown_name(metric, metric_names(), "metric")
        raise InputError(metric_name, f"{metric!r}: {e.problem}")
    valid_x = plan_options() - {"command", "name"}
    if x is not None and is_generator_option(x):  # synth.feed, mill.tool, gcode.NAME
        try:
            check_generator_name(x)
        except InputError as e:
            raise InputError(x_name, f"{x!r}: {e.problem}") from None
    elif x is not None and x not in valid_x:
        e = unknown_name(x, valid_x | generator_options())
        raise InputError(x_name, f"{x!r}: {e.problem}")


IMAGES = {"optimize": (("before", "before.png"), ("after", "after.png"), ("light", "envmap.png")),
          "evaluate": (("image", "image.png"),), "render": (("image", "render.png"),),
          "relight": (("image", "relight.png"),), "pod": (("pod", "pod.png"),)}

# pod rows: the verdict of the row's first light (pod.json), sizes in micrometres
_POD_METRICS = ("pod_a50_um", "pod_a90_um", "pod_a90_95_um", "pod_hits", "pod_defects")


def _read_json(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _dprime_of(doc: dict) -> dict[str, Any]:
    """d' of the observers and their standard errors from a run's ``detectability``."""
    out, detect = {}, doc.get("detectability") or {}
    for key, name in (("npw", "dprime"), ("cho", "dprime_cho")):
        if isinstance(detect.get(key), dict) and detect[key].get("overall") is not None:
            out[name], out[f"{name}_se"] = detect[key]["overall"], detect[key].get("stderr")
    return out


def _metrics(command: str, doc: dict) -> dict[str, Any]:
    if command == "optimize":
        b, a = doc.get("objective_before") or {}, doc.get("objective_after") or {}
        out = {"loss_before": b.get("loss"), "loss_after": a.get("loss"),
               # the judge's standard errors (report.judge); None from one render
               "loss_before_se": b.get("loss_std_err"), "loss_after_se": a.get("loss_std_err")}
        if b.get("loss") and a.get("loss") is not None:
            out["loss_ratio"] = a["loss"] / b["loss"]
        for term in ("l_grad", "mean_gradient"):
            out[f"{term}_before"], out[f"{term}_after"] = b.get(term), a.get(term)
        out.update(iterations_done=doc.get("iterations_done"), time_s=doc.get("time_s"),
                   total_time_s=doc.get("total_time_s"), exaggeration=doc.get("exaggeration_used"))
        out.update(_dprime_of(doc))  # with a twin
        return out
    if command == "evaluate":
        out = {}
        for name, m in (doc.get("metrics") or {}).items():
            out[name], out[f"{name}_se"] = m.get("mean"), m.get("stderr")
        out.update(_dprime_of(doc))
        out["seconds"] = doc.get("seconds")
        return out
    if command == "pod":
        verdict = next(iter((doc.get("lights") or {}).values()), {})
        fit = verdict.get("hit_miss") or {}
        return {"pod_a50_um": fit.get("a50"), "pod_a90_um": fit.get("a90"),
                "pod_a90_95_um": fit.get("a90_95"), "pod_hits": verdict.get("hits"),
                "pod_defects": verdict.get("defects"), "seconds": doc.get("seconds")}
    if command == "render":
        return {"seconds": doc.get("seconds")}
    times = sorted(doc.get("relight_s") or [])
    return {"ready_s": doc.get("ready_s"),
            "relight_ms": 1e3 * times[len(times) // 2] if times else None}


def row_record(out_dir: str, row: Row, status: str, **extra) -> dict[str, Any]:
    """The row as the summary and the page show it: name, command, status ('ok', 'failed'),
    error, options, metrics (read from its folder when ok) and image paths relative to DIR."""
    rec = {"name": row.name, "command": row.command, "status": status,
           "error": extra.pop("error", None) or row.error, "options": row.options,
           "metrics": {}, "images": {}, **extra}
    if status == "ok":
        doc = _read_json(os.path.join(out_dir, row.name, "pod.json" if row.command == "pod"
                                      else CONFIG_FILES[row.command]))
        rec["metrics"] = {k: v for k, v in _metrics(row.command, doc).items()}
        # a generated surface's optimize row: defects and machining marks (batch.surfaces)
        marks = _read_json(os.path.join(out_dir, row.name, FEED_MARKS_FILE))
        rec["metrics"].update({k: marks[k] for k in FEED_MARK_METRICS if k in marks})
        for label, file in IMAGES[row.command]:
            if os.path.isfile(os.path.join(out_dir, row.name, file)):
                rec["images"][label] = f"{row.name}/{file}"
    return rec


def option_columns(records: list[dict]) -> list[str]:
    names = {k for r in records for k in r["options"]} - {"name", "command"}
    return ["heightmap"] * ("heightmap" in names) + sorted(names - {"heightmap"})


def metric_columns(records: list[dict]) -> list[str]:
    cols: list[str] = []
    for r in records:
        cols += [k for k in r["metrics"] if k not in cols]
    return cols


def command_metric_columns(records: list[dict]) -> list[tuple[str, list[str]]]:
    """The metric columns grouped by command, commands in order of appearance:
    ``[("optimize", ["loss_before", ...]), ("evaluate", ["auc", ...])]``."""
    groups: dict[str, list[str]] = {}
    for r in records:
        cols = groups.setdefault(r["command"], [])
        cols += [k for k in r["metrics"] if k not in cols]
    return [(c, cols) for c, cols in groups.items() if cols]


def retried_text(rec: dict) -> str:
    """The causes of a row's earlier attempts, one line ('' when it ran once)."""
    return "; ".join(rec.get("retried") or [])


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value))
    return str(value)


def write_summary_csv(path: str, records: list[dict]) -> None:
    """``summary.csv``: name, command, status, error, attempts (None: reused or not run),
    retried (why earlier attempts ended), every option, every metric."""
    opts, mets = option_columns(records), metric_columns(records)
    with atomic_path(path, suffix=".csv") as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["name", "command", "status", "error", "attempts", "retried", *opts,
                        *mets])
            for r in records:
                w.writerow([r["name"], r["command"], r["status"], r["error"] or "",
                            _cell(r.get("attempts")), retried_text(r),
                            *(_cell(r["options"].get(k)) for k in opts),
                            *(_cell(r["metrics"].get(k)) for k in mets)])


def _number(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


# The default plot metric: a visibility measure, never ``loss_after`` (it holds lam times
# the L2 term, so it rises with lam by construction). ``dprime`` where rows record it, then
# evaluate's ``auc`` (needs the truth mask), then the optimize rows' ``mean_gradient_after``
# (the mean gradient over the scratches in the final render: the objective's visibility
# term alone), then the image measures of evaluate rows without a truth; pod rows: a90/95.
VISIBILITY = ("dprime", "auc", "mean_gradient_after", "cnr", "mean_gradient", "rms_contrast",
              "pod_a90_95_um")


# the second plot of a study of machining parameters: defects and machining marks alike
MARKS_PLOT = FEED_MARK_METRICS


def default_plot(records: list[dict], swept: list[str], metric: str | None = None,
                 x: str | None = None) -> tuple[str | None, str | None]:
    """(metric, option) of the plot: the given ones, else the first of ``VISIBILITY``
    (then relight_ms, seconds) that some row has together with the option, against the
    first swept option other than the height map (or the height map); without sweeps (a
    CSV plan), the first option that differs between rows."""
    if x is None:
        varying = [k for k in option_columns(records)
                   if len({_label(r["options"].get(k)) for r in records}) > 1]
        x = next((s for s in swept if s != "heightmap"), "heightmap" if swept else None) or \
            next((k for k in varying if k != "heightmap"), "heightmap" if varying else None)
    if metric is None:
        def plotted(m: str, need_x: bool) -> bool:
            return any(_number(r["metrics"].get(m)) is not None
                       and (not need_x or x in r["options"]) for r in records)

        names = (*VISIBILITY, "relight_ms", "seconds")
        metric = next((m for m in names if plotted(m, True)), None) or \
            next((m for m in names if plotted(m, False)), None)
    return metric, x


def _label(value) -> str:
    if isinstance(value, str) and os.path.isabs(value):
        return os.path.splitext(os.path.basename(value))[0]
    return _cell(value)


def write_plot(path: str, records: list[dict], metric: str | tuple[str, ...], x: str) -> bool:
    """Plot ``metric`` (or several metrics, one line each, on the same axes) against the
    option ``x`` for the rows that have both, one line per height map (or per value of the
    other options); returns False when nothing to plot."""
    from ..report.figures import pyplot

    metrics = (metric,) if isinstance(metric, str) else tuple(metric)
    pts = [(r["options"].get(x), _number(r["metrics"].get(m)), r, m) for r in records
           for m in metrics if r["status"] == "ok" and x in r["options"]]
    pts = [p for p in pts if p[1] is not None]
    if not pts:
        return False
    numeric = all(_number(p[0]) is not None for p in pts)
    cats = sorted({_label(p[0]) for p in pts}) if not numeric else []
    others = [k for k in option_columns(records) if k != x
              and len({_label(p[2]["options"].get(k)) for p in pts}) > 1]
    series: dict[str, list] = {}
    for xv, yv, r, m in pts:
        key = ", ".join([m] * (len(metrics) > 1) + [f"{k}={_label(r['options'].get(k))}"
                                                     for k in others]) or m
        series.setdefault(key, []).append((float(xv) if numeric else cats.index(_label(xv)), yv))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    for key, xy in list(series.items())[:12]:
        xy.sort()
        ax.plot([p[0] for p in xy], [p[1] for p in xy], "o-", label=key)
    if not numeric:
        ax.set_xticks(range(len(cats)), cats, rotation=30, ha="right")
    ax.set_xlabel(x)
    ax.set_ylabel(metrics[0] if len(metrics) == 1 else "mean gradient of the render")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return True
