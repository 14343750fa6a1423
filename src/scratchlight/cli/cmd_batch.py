"""scratchlight batch: many parts and settings from one plan file, one comparison page."""
from __future__ import annotations

import sys

NAME = "batch"
HELP = ("run a plan of many optimize/render/relight/evaluate runs (TOML or CSV, with sweeps) "
        "on local worker processes or a Ray cluster, and compare them on one page")


SETTINGS = ("workers", "ray", "device", "gpus_per_row", "seed", "retries", "cache_dir", "fresh",
            "retry_failed", "plot_metric", "plot_x", "wait", "quiet")


def add_arguments(p):
    from ..batch import BatchSettings
    from .flags import add_options

    p.add_argument("plan", help="plan file (.toml or .csv); see docs/batch.md")
    p.add_argument("--out", required=True, help="batch folder: one folder per row, "
                                                "index.html, summary.csv, plot.png, batch.json")
    add_options(p, BatchSettings, SETTINGS)


def _process_age() -> float:
    """Seconds since this process started (Linux: /proc), else 0."""
    import os

    try:
        with open("/proc/self/stat") as f:
            start = int(f.read().rpartition(")")[2].split()[19])  # field 22: clock ticks
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def run(args) -> int:
    import os
    import time

    from ..batch import BatchSettings, load_plan, run_batch
    from .flags import config_from_args

    # the time printed is the command's, from the start of the process (imports, plan, rows,
    # report), so that a rerun that skips every row does not claim to have taken no time
    t0 = time.perf_counter() - _process_age()
    # one line, exit 2, before any file is touched (a misspelt --plot-metric included)
    settings = config_from_args(args, BatchSettings, SETTINGS)
    plan = load_plan(args.plan)
    res = run_batch(plan, args.out, settings)
    ok = sum(r["status"] == "ok" for r in res.records)
    retried = sum(bool(r.get("retried")) for r in res.records)
    print(f"{len(res.records)} rows: {ok} complete ({res.ran} run now, {res.reused} from an "
          f"earlier run), {res.failed} failed" + (f", {retried} retried" if retried else "")
          + f", in {time.perf_counter() - t0:.1f} s")
    for r in res.records:
        if r["status"] != "ok":
            print(f"  failed {r['name']}: {r['error']}", file=sys.stderr)
    if res.report_error:
        print(f"scratchlight: the report is incomplete: {res.report_error}", file=sys.stderr)
    print(f"open {os.path.join(args.out, 'index.html')} (summary.csv, plot.png, batch.json)")
    return 1 if res.failed or res.report_error else 0
