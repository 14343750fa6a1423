"""scratchlight batch: many parts and settings from one plan file, one comparison page."""
from __future__ import annotations

import sys

NAME = "batch"
HELP = ("run a plan of many optimize/render/relight/evaluate runs (TOML or CSV, with sweeps) "
        "on local worker processes or a Ray cluster, and compare them on one page")


SETTINGS = ("workers", "ray", "device", "gpus_per_row", "seed", "retries", "cache_dir", "fresh",
            "retry_failed", "plot_metric", "plot_x", "quiet")


def add_arguments(p):
    from ..batch import BatchSettings
    from .flags import add_options

    p.add_argument("plan", help="plan file (.toml or .csv); see docs/batch.md")
    p.add_argument("--out", required=True, help="batch folder: one folder per row, "
                                                "index.html, summary.csv, plot.png, batch.json")
    add_options(p, BatchSettings, SETTINGS)


def run(args) -> int:
    import os

    from ..batch import BatchSettings, load_plan, run_batch
    from .flags import config_from_args

    # one line, exit 2, before any file is touched (a misspelt --plot-metric included)
    settings = config_from_args(args, BatchSettings, SETTINGS)
    plan = load_plan(args.plan)
    res = run_batch(plan, args.out, settings)
    ok = sum(r["status"] == "ok" for r in res.records)
    print(f"{len(res.records)} rows: {ok} complete ({res.ran} run now, {res.reused} from an "
          f"earlier run), {res.failed} failed, in {res.seconds:.1f} s")
    for r in res.records:
        if r["status"] != "ok":
            print(f"  failed {r['name']}: {r['error']}", file=sys.stderr)
    print(f"open {os.path.join(args.out, 'index.html')} (summary.csv, plot.png, batch.json)")
    return 1 if res.failed else 0
