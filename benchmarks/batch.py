"""Batch throughput on this machine, and what Ray costs per row against a process pool
(issue 14).

Measured:
- throughput: one plan of ``--rows`` small optimize rows (synthetic face-milled parts,
  64-point grids, ``--resolution`` px, ``--iterations`` AD iterations at 4 spp, 16-spp
  before/after renders) run from scratch by ``run_batch`` with 1 and 2 workers, on the
  local process pool and on Ray started in-process (``ray.init`` timed apart): wall time,
  rows per minute, and the mean of the rows' own times (work inside the worker);
- overhead per row: the same executors running ``--trivial`` tasks that return at once
  (warm workers), so the time per task is the scheduler's own cost; plus the start-up of
  each (a pool's first task: spawning and importing scratchlight; Ray: ``ray.init``).

Usage:
    PYTHONPATH=src .venv/bin/python benchmarks/batch.py              # about 4 minutes here
    PYTHONPATH=src .venv/bin/python benchmarks/batch.py --rows 4 --skip-ray
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time


def trivial(task):
    """A task that does nothing (module level, so both executors can import it)."""
    return {"status": "ok", "pid": os.getpid()}


def make_plan(folder: str, rows: int, resolution: int, iterations: int) -> str:
    from scratchlight.io import write_npz
    from scratchlight.surface import synthesize

    os.makedirs(os.path.join(folder, "parts"), exist_ok=True)
    for k in range(rows):
        write_npz(os.path.join(folder, "parts", f"part-{k:02d}.npz"),
                  synthesize("face-mill", size=64, scratches=2, seed=k))
    path = os.path.join(folder, "plan.toml")
    with open(path, "w") as f:
        f.write(f"[defaults]\nresolution = {resolution}\niterations = {iterations}\n"
                f"spp = 4\nfinal_spp = 16\n[sweep]\nheightmap = 'parts/*.npz'\n")
    return path


def throughput(plan_path: str, folder: str, workers: int, ray: str | None) -> dict:
    """Run the plan from scratch. Ray is started first (its start-up is measured apart, see
    ``overhead``); the pool's start-up (spawning, importing) is part of the wall time, as
    the import in a fresh Ray worker is."""
    from scratchlight.batch import BatchSettings, load_plan, run_batch

    init_s = 0.0
    if ray:
        import logging

        import ray as ray_module
        from scratchlight.batch.ray_executor import worker_env

        t = time.perf_counter()
        ray_module.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                        logging_level=logging.WARNING, runtime_env={"env_vars": worker_env()})
        init_s = time.perf_counter() - t
    out = os.path.join(folder, f"out-{'ray' if ray else 'pool'}-{workers}")
    t0 = time.perf_counter()
    res = run_batch(load_plan(plan_path), out,
                    BatchSettings(workers=workers, ray=ray, progress=False,
                                  cache_dir=os.path.join(folder, "cache")))
    wall = time.perf_counter() - t0
    if ray:
        ray_module.shutdown()
    own = [r["seconds"] for r in res.records if r.get("seconds")]
    assert res.failed == 0 and res.ran == len(res.records), res
    return {"executor": "ray" if ray else "pool", "workers": workers, "rows": res.ran,
            "wall_s": wall, "rows_per_min": 60 * res.ran / wall,
            "row_mean_s": statistics.mean(own), "ray_init_s": init_s}


def overhead(kind: str, tasks: int, workers: int) -> dict:
    """Start-up and per-task cost of an executor on tasks that do nothing."""
    batch = [{"name": f"t{k}", "device": "cpu"} for k in range(tasks)]
    t0 = time.perf_counter()
    if kind == "pool":
        from scratchlight.batch.local import LocalExecutor

        ex = LocalExecutor(workers=workers, target=trivial)
    else:
        from scratchlight.batch.ray_executor import RayExecutor

        ex = RayExecutor("local", workers=workers, target=trivial)
    list(ex.run(batch[:workers]))  # start-up: workers spawned (pool) or cluster started
    start = time.perf_counter() - t0
    t1 = time.perf_counter()
    list(ex.run(batch))
    per_task = (time.perf_counter() - t1) / tasks
    ex.close()
    return {"executor": kind, "workers": workers, "startup_s": start, "per_task_ms": 1e3 * per_task}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=8)
    p.add_argument("--resolution", type=int, default=48)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--trivial", type=int, default=200, help="tasks of the overhead measurement")
    p.add_argument("--skip-ray", action="store_true")
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `trivial` for workers
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.abspath(__file__))] + [q for q in os.environ.get(
            "PYTHONPATH", "").split(os.pathsep) if q])
    kinds = ["pool"] + ([] if args.skip_ray else ["ray"])
    figures = {"throughput": [], "overhead": []}
    with tempfile.TemporaryDirectory(prefix="scratchlight-batch-bench-") as folder:
        plan = make_plan(folder, args.rows, args.resolution, args.iterations)
        for kind in kinds:
            for workers in (1, 2):
                t = throughput(plan, folder, workers, "local" if kind == "ray" else None)
                figures["throughput"].append(t)
                print(f"{kind:4s} {workers} worker(s): {t['rows']} rows in {t['wall_s']:.1f} s = "
                      f"{t['rows_per_min']:.1f} rows/min (a row's own time {t['row_mean_s']:.2f} s"
                      + (f"; ray.init {t['ray_init_s']:.1f} s before" if t["ray_init_s"] else "") + ")",
                      flush=True)
        for kind in kinds:
            o = overhead(kind, args.trivial, 2)
            figures["overhead"].append(o)
            print(f"{kind:4s} overhead: start-up {o['startup_s']:.2f} s, "
                  f"{o['per_task_ms']:.2f} ms per task ({args.trivial} empty tasks, 2 workers)",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
