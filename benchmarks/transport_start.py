"""Transport engine from any start (issue 12, part 1): AD vs transport (noise 'matched', the
default; optionally 'none', the engine before noise matching) over a matrix of cases.

Surfaces: a synthetic face-milled map (``synthesize("face-mill", size=1024, scratches=3)``),
``milled-face.sur`` and ``bullet-land-sample.x3p``, each resampled to ``--max-size``.
Cases (``transport_cases.CASES``): gray from constant:0.5, random, specular and a light file
(an EXR raking lamp, read by ``--init FILE``); then from constant:0.5: rgb, ``l2_target``
image and none (env is the default, in the constant:0.5 case), and ``mask`` scratch.

Every run goes through the session as the command line drives it (``Session.set_mask``,
``Session.optimize`` with a ``LightConfig`` and an ``OptimizerConfig`` naming the engine and
``transport_noise``); every final map is judged by the case's own objective on its own
high-spp Mitsuba render, all with one judge seed (``Session.render_final`` +
``Session.judge``). Transport matrices are built per seed (the session keys engines by
seed) into a temporary cache. Prints each run, then medians over seeds, ratio = transport
median / AD median, the worst ratio, and writes every run to ``--json`` after each run
(``--append`` keeps the runs already there and skips them). A case whose scratch mask is
the whole surface reuses the constant:0.5 runs (the same runs, bit for bit).
``--noise-variant`` patches the noise matching for a run into one of the alternatives
measured in benchmarks/README.md (``transport_cases.use_noise_variant``).

Usage (2 shared cores; see benchmarks/README.md for times):
    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/transport_start.py      # seeds 0-2
    ... --append --first-seed 3 --seeds 6                                  # seeds 3-8
    ... --iterations 5 --seeds 1 --json /tmp/t.json                       # a timing probe
    ... --summarize --table-seeds 3                # the table of seeds 0-2 of the json
    ... --surface milled-face.sur --case constant:0.5 --size 512 --max-size 1024 \
        --exaggeration auto --spp 4 --seeds 9 --json benchmarks/results/transport_spp4.json
                          # the command's default run at --spp 4 (README, the case matrix)
    ... --warmup-spp 1 ...             # the same with the warm-up at 1 spp
    ... --engine transport-matched --seeds 9 --noise-variant mean \
        --ad-from benchmarks/results/transport_cases.json --json /tmp/mean.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # transport_cases
from transport_cases import (CASES, DEFAULT_ENGINES, ENGINES, NOISE_VARIANTS,  # noqa: E402
                             case_light, raking_lamp, surfaces, summary, use_noise_variant)

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "transport_cases.json")


def _save(path, rows):
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(rows, f, indent=1)
        os.replace(path + ".tmp", path)


def _table(rows, table_seeds=None) -> str:
    """The summary of ``rows``, of seeds below ``table_seeds`` only if given."""
    return summary([r for r in rows if table_seeds is None
                    or (r.get("seed") is not None and r["seed"] < table_seeds)])


def run_surface(label, surface, args, lamp, rows) -> None:
    from scratchlight.errors import InputError
    from scratchlight.optimize.config import OptimizerConfig
    from scratchlight.scene import SceneSpec
    from scratchlight.session import Session

    t0 = time.perf_counter()
    s = Session(surface, SceneSpec(width=args.size, height=args.size,
                                   exaggeration=args.exaggeration))
    print(f"{label}: session {time.perf_counter() - t0:.1f} s, heights {s.heightmap.shape}, "
          f"exaggeration {s.scene.spec.exaggeration:.3g}, {int(s.object_mask.sum())} surface "
          f"pixels", flush=True)
    done = {(r["surface"], r["case"], r["engine"], r["seed"]) for r in rows}
    for case in args.case or CASES:
        light = case_light(case, lamp)
        try:
            s.set_mask(light.mask, light)
        except InputError as e:
            print(f"  {case}: not run ({e})", flush=True)
            rows.append(dict(surface=label, case=case, engine=None, seed=None, loss=None,
                             error=str(e)))
            continue
        same = [r for r in rows if r["surface"] == label and r["case"] == "constant:0.5"
                and r.get("loss") is not None]
        if case == "mask scratch" and (s.mask == s.object_mask).all() and same:
            # the scratch map covers every surface pixel: the runs are those of constant:0.5
            print(f"  {case}: the scratch map covers the whole surface; runs = constant:0.5",
                  flush=True)
            rows += [dict(r, case=case, mask=light.mask, same_as="constant:0.5") for r in same
                     if (label, case, r["engine"], r["seed"]) not in done]
            continue
        for name in args.engine or DEFAULT_ENGINES:
            engine, noise = ENGINES[name]
            opt = OptimizerConfig(lr=args.lr, iterations=args.iterations, spp=args.spp,
                                  engine=engine, transport_noise=noise)
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                if (label, case, name, seed) in done:
                    continue
                if engine == "transport" and args.warmup_spp:  # kept by Session.optimize
                    s.engine(engine, args.spp, seed, tuple(light.envmap_size)).set_warmup(
                        opt.transport_warmup, args.warmup_spp)
                run = s.optimize(light, opt, seed=seed)
                t1 = time.perf_counter()
                judged = s.judge(s.render_final(run.envmap, spp=args.judge_spp), run.envmap,
                                 light, run.mask)
                judge_s = time.perf_counter() - t1
                row = dict(surface=label, case=case, engine=name, seed=seed, init=light.init,
                           color=light.color, l2_target=light.l2_target, mask=light.mask,
                           mask_pixels=int(run.mask.sum()), lam=light.effective_lam,
                           loss=judged["loss"], l_grad=judged["l_grad"], l_l2=judged["l_l2"],
                           loop_loss=run.loss[-1], time_s=run.time_s,
                           setup_s=run.engine_setup_s, judge_s=judge_s)
                if engine == "transport":
                    row["variant"] = args.noise_variant or "default"
                    eng = s.engine(engine, args.spp, seed, tuple(light.envmap_size))
                    row["warmup_spp"] = eng.warmup.spp
                    nm = eng.noise_model
                    if nm is not None:
                        row["noise"] = {k: v for k, v in vars(nm).items()
                                        if isinstance(v, (int, float, bool, str)) and k != "scene"}
                rows.append(row)
                _save(args.json, rows)
                print(f"  {case:13s} {name:18s} seed {seed}: judged {judged['loss']:8.3f}  "
                      f"loop {run.time_s:5.1f} s  setup {run.engine_setup_s:4.1f} s  "
                      f"judge {judge_s:4.1f} s", flush=True)
    s.drop_engines()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128, help="image side, pixels")
    ap.add_argument("--max-size", type=int, default=256, help="height-map grid limit")
    ap.add_argument("--synth-size", type=int, default=1024, help="synthetic map side, cells")
    ap.add_argument("--exaggeration", default=1.0,
                    type=lambda v: v if v == "auto" else float(v), help="1 or auto")
    ap.add_argument("--spp", type=int, default=16)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. +seeds-1")
    ap.add_argument("--case", "--init", action="append", choices=list(CASES),
                    help="only these cases (repeat)")
    ap.add_argument("--engine", action="append", choices=list(ENGINES),
                    help=f"only these engines (repeat; default {', '.join(DEFAULT_ENGINES)})")
    ap.add_argument("--judge-spp", type=int, default=256)
    ap.add_argument("--surface", action="append", help="only these surface labels (repeat)")
    ap.add_argument("--json", default=RESULTS, help="every run's row (default %(default)s)")
    ap.add_argument("--append", action="store_true", help="keep and skip the runs in --json")
    ap.add_argument("--noise-variant", metavar="SPEC",
                    help=f"patch the noise matching into a variant: {NOISE_VARIANTS}")
    ap.add_argument("--warmup-spp", type=int, metavar="N",
                    help="the transport warm-up's spp (default: the engine's rule for --spp)")
    ap.add_argument("--ad-from", metavar="JSON", help="take the AD runs from this file")
    ap.add_argument("--table-seeds", type=int, metavar="N",
                    help="summarize the runs of seeds 0 .. N-1 only (default: all in --json)")
    ap.add_argument("--summarize", action="store_true", help="only print the table of --json")
    args = ap.parse_args(argv)
    if args.summarize:
        with open(args.json) as f:
            rows = json.load(f)
        print(_table(rows, args.table_seeds))
        return 0
    if args.noise_variant:
        use_noise_variant(args.noise_variant)
    rows = []
    if args.append and os.path.isfile(args.json):
        with open(args.json) as f:
            rows = [r for r in json.load(f) if not r.get("error")]
    if args.ad_from:
        with open(args.ad_from) as f:
            rows += [r for r in json.load(f) if r.get("engine") == "ad"]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SCRATCHLIGHT_CACHE"] = tmp  # T built once per seed, not kept
        lamp = raking_lamp(os.path.join(tmp, "raking-lamp.exr"))
        for label, surface in surfaces(tmp, args).items():
            run_surface(label, surface, args, lamp, rows)
            _save(args.json, rows)
    seeds = f"seeds < {args.table_seeds}" if args.table_seeds else "the seeds in the json"
    print(f"\n{args.size} x {args.size} image, {args.spp} spp, {args.iterations} iterations, "
          f"25 x 50 map, lr {args.lr}, judged at {args.judge_spp} spp; medians over {seeds}; "
          f"noise {args.noise_variant or 'default'}; {time.perf_counter() - t0:.0f} s in all\n")
    print(_table(rows, args.table_seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
