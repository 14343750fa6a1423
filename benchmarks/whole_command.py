"""Where the whole `scratchlight optimize` command spends its time, phase by phase (issue 26).

Each case is one fresh process of the real command line (`python -m scratchlight.cli
optimize`), the default engine (`auto`) and `--engine ad` side by side in one run, with an
empty transport and judging-render cache (a new `SCRATCHLIGHT_CACHE` per run) and the
compiled kernels where `make setup` put them (`NUMBA_CACHE_DIR`). Paper settings: gray
25 x 50 map from constant 0.5, lambda 30, 100 iterations, 16 spp; the default judge
(`report.judge`: 64-spp low-discrepancy renders, at least two per light).

The phases come from the run's own `run.json` (`phases_s`, see `scratchlight/phases.py`):
process start (Python and imports before the first step), reading, scene, engine choice
(the pilot, when one runs), engine build, iterations, the two judging renders, writing the
results folder; "exit" is the rest of the process's wall time (run.json, the closing lines,
the interpreter's exit). Peak memory is the
process's maximum resident set and "CPU s" its user and system CPU time over all its
threads (`/usr/bin/time -f "%M %U %S"`): on 2 cores a wall time below half the CPU time is
out of reach.

Cases: milled-face.sur (563 x 484 points) at 256^2, 512^2 and 1024^2 pixels, and a synthetic
face-milled 5000 x 5000 grid (the paper's) at 512^2, whole (`--max-size 0`: not resampled)
and as the default `--max-size 1024` reads it.

    .venv/bin/python benchmarks/whole_command.py                 # every case (long: AD runs)
    .venv/bin/python benchmarks/whole_command.py --quick         # 256^2 and 512^2, no grid
    .venv/bin/python benchmarks/whole_command.py --engines auto  # the default engine only
    .venv/bin/python benchmarks/whole_command.py --grid-only     # the 5000^2 grid only
    .venv/bin/python benchmarks/whole_command.py --quick --resolutions 512 --engines auto --before-cached
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

from engine_runs import CLI, DATA, peak_rss_of

PHASES = ("start", "read", "scene", "engine_choice", "engine_build", "iterations",
          "judge_before", "judge_after", "write")


def run_case(surface: str, resolution: int, engine: str, grid: bool, tmp: str,
             iterations: int, before_cached: bool = False, max_size: int = 0,
             device: str | None = None) -> dict:
    """One fresh `optimize` process: wall time, peak RSS and its phases. ``before_cached``:
    an earlier run on the surface left the initial light's judging renders in the cache
    (and nothing else: the transport matrices are built again). ``grid``: the surface is
    the 5000^2 grid, kept whole (``max_size`` 0) or resampled to ``max_size``. ``device``:
    the command's ``--device`` (None: its default, a GPU when one is usable)."""
    import shutil

    from scratchlight.user_cache import cache_root

    out = tempfile.mkdtemp(dir=tmp)
    env = dict(os.environ, SCRATCHLIGHT_CACHE=os.path.join(out, "cache"),
               NUMBA_CACHE_DIR=os.environ.get("NUMBA_CACHE_DIR",
                                              os.path.join(cache_root(), "numba")))
    cmd = [*CLI, "optimize", surface, "--resolution", str(resolution), "--iterations",
           str(iterations), "--spp", "16", "--engine", engine, "--seed", "0", "--quiet"]
    if grid:
        cmd += ["--max-size", str(max_size)]
    if device:
        cmd += ["--device", device]
    if before_cached:
        peak_rss_of([*cmd, "--out", os.path.join(out, "primer")], env)
        for name in os.listdir(env["SCRATCHLIGHT_CACHE"]):
            if name != "renders":
                shutil.rmtree(os.path.join(env["SCRATCHLIGHT_CACHE"], name))
    res = peak_rss_of([*cmd, "--out", os.path.join(out, "run")], env)
    with open(os.path.join(out, "run", "run.json")) as f:
        doc = json.load(f)
    phases = {k: float(doc["phases_s"].get(k) or 0.0) for k in PHASES}
    phases["exit"] = max(0.0, res["wall_s"] - sum(phases.values()))
    name = os.path.basename(surface)
    if grid:
        name += " (whole)" if max_size == 0 else f" (--max-size {max_size})"
    return {"surface": name, "resolution": resolution, "engine": engine,
            "ran": doc["engine"] + (", before cached" if before_cached else "")
            + (f", {doc['device']}" if str(doc.get("device", "")).startswith("cuda") else ""),
            "device": doc.get("device"),
            "wall_s": res["wall_s"], "cpu_s": res["cpu_s"], "peak_rss_mib": res["peak_rss_mib"],
            "phases_s": phases, "objective_after": doc["objective_after"]["loss"],
            "objective_before": doc["objective_before"]["loss"]}


def table(rows: list[dict]) -> str:
    """The README table: one row per case, one column per phase (seconds)."""
    cols = [*PHASES, "exit"]
    head = ("| case | engine | wall s | CPU s | peak MiB | " + " | ".join(cols)
            + " | objective after |\n|" + "---|" * (len(cols) + 6) + "\n")
    lines = []
    for r in rows:
        p = r["phases_s"]
        lines.append(f"| {r['surface']} at {r['resolution']}^2 | {r['ran']} | {r['wall_s']:.1f} | "
                     f"{r['cpu_s']:.1f} | {r['peak_rss_mib']:.0f} | " + " | ".join(f"{p[c]:.1f}" for c in cols)
                     + f" | {r['objective_after']:.3f} |")
    return head + "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="256^2 and 512^2 only, no 5000^2 grid")
    ap.add_argument("--engines", nargs="+", default=["auto", "ad"], choices=["auto", "ad", "transport"])
    ap.add_argument("--resolutions", type=int, nargs="+", default=None)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--grid-engines", nargs="+", default=["auto"], choices=["auto", "ad", "transport"],
                    help="engines of the 5000^2 grid case (AD takes many minutes there)")
    ap.add_argument("--before-cached", action="store_true",
                    help="also run each milled-face case of the default engine with the initial "
                         "light's judging renders cached by an earlier run")
    ap.add_argument("--grid-only", action="store_true", help="only the 5000^2 grid cases")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None,
                    help="the command's --device (default: its own, a GPU when one is usable)")
    args = ap.parse_args(argv)
    resolutions = args.resolutions or ([256, 512] if args.quick else [256, 512, 1024])
    surface = os.path.join(DATA, "milled-face.sur")
    rows = []
    with tempfile.TemporaryDirectory(prefix="whole-command-") as tmp:
        for res in ([] if args.grid_only else resolutions):
            for engine in args.engines:
                rows.append(run_case(surface, res, engine, False, tmp, args.iterations,
                                     device=args.device))
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
                if args.before_cached and engine == "auto":
                    rows.append(run_case(surface, res, engine, False, tmp, args.iterations, True,
                                         device=args.device))
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        if not args.quick:
            import subprocess

            grid = os.path.join(tmp, "face-mill-5000.npz")
            subprocess.run([*CLI, "synth", "--kind", "face-mill", "--size", "5000",
                            "--scratches", "3", "--out", grid], check=True, capture_output=True)
            for engine in args.grid_engines:
                for max_size in (0, 1024):  # whole, and as the default --max-size reads it
                    rows.append(run_case(grid, 512, engine, True, tmp, args.iterations,
                                         max_size=max_size, device=args.device))
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(table(rows))
    by = {(r["surface"], r["resolution"], r["engine"]): r for r in rows}
    for res in resolutions:
        a, d = by.get(("milled-face.sur", res, "auto")), by.get(("milled-face.sur", res, "ad"))
        if a and d:
            print(f"{res}^2: the whole command with --engine ad takes {d['wall_s'] / a['wall_s']:.1f}x "
                  f"the default's wall time; iterations alone {d['phases_s']['iterations'] / max(a['phases_s']['iterations'], 1e-9):.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
