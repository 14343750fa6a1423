"""scratchlight batch: many parts and settings from one plan file, one comparison page."""
from __future__ import annotations

import sys

NAME = "batch"
HELP = ("run a plan of many optimize/render/relight/evaluate runs (TOML or CSV, with sweeps) "
        "on local worker processes or a Ray cluster, and compare them on one page")


def add_arguments(p):
    p.add_argument("plan", help="plan file (.toml or .csv); see the README, Batch studies")
    p.add_argument("--out", required=True, help="batch folder: one folder per row, "
                                                "index.html, summary.csv, plot.png, batch.json")
    p.add_argument("--workers", type=int, help="worker processes (default: one per CPU core; "
                                                "1 with --device cuda); with --ray local, "
                                                "the CPUs Ray is given")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="run the rows as Ray tasks: 'local' starts Ray in this process, any "
                        "other value (auto, ray://HOST:10001, HOST:6379) joins that cluster")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"),
                   help="device of every row that sets none; on Ray a cuda row asks for a GPU")
    p.add_argument("--gpus-per-row", type=float, default=1.0,
                   help="GPUs a Ray task of a cuda row asks for (default 1; 0.5 puts two rows "
                        "on one GPU)")
    p.add_argument("--seed", type=int, help="seed of every row that sets none (default 0)")
    p.add_argument("--retries", type=int, default=2,
                   help="extra attempts for a row whose worker process dies (default 2)")
    p.add_argument("--cache-dir", help="transport-matrix cache root of the workers "
                                       "(sets SCRATCHLIGHT_CACHE for them)")
    p.add_argument("--fresh", action="store_true", help="rerun rows that are already complete")
    p.add_argument("--retry-failed", action="store_true",
                   help="rerun rows that failed on the same input before (default: reported "
                        "failed again without running)")
    p.add_argument("--plot-metric", help="metric of plot.png (default: loss_after, else auc, ...)")
    p.add_argument("--plot-x", help="option on the x axis of plot.png (default: the first swept one)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    import os

    from ..batch import BatchSettings, load_plan, run_batch
    from ..batch.summary import check_plot
    from ..errors import InputError

    check_plot(args.plot_metric, args.plot_x)  # one line, exit 2, before any file is touched

    for flag, value, low in (("--workers", args.workers, 1), ("--retries", args.retries, 0)):
        if value is not None and value < low:
            raise InputError(flag, f"must be at least {low}, got {value}")
    if args.gpus_per_row <= 0:
        raise InputError("--gpus-per-row", f"must be positive, got {args.gpus_per_row}")
    plan = load_plan(args.plan)
    settings = BatchSettings(
        workers=args.workers, ray=args.ray, retries=args.retries, seed=args.seed,
        device=args.device, gpus_per_row=args.gpus_per_row,
        cache_dir=os.path.abspath(args.cache_dir) if args.cache_dir else None,
        fresh=args.fresh, retry_failed=args.retry_failed, progress=not args.quiet, plot_metric=args.plot_metric,
        plot_x=args.plot_x)
    res = run_batch(plan, args.out, settings)
    ok = sum(r["status"] == "ok" for r in res.records)
    print(f"{len(res.records)} rows: {ok} complete ({res.ran} run now, {res.reused} from an "
          f"earlier run), {res.failed} failed, in {res.seconds:.1f} s")
    for r in res.records:
        if r["status"] != "ok":
            print(f"  failed {r['name']}: {r['error']}", file=sys.stderr)
    print(f"open {os.path.join(args.out, 'index.html')} (summary.csv, plot.png, batch.json)")
    return 1 if res.failed else 0
