"""Does work beside a Mitsuba render come for free on these cores? (issue 26, part 1)

A judging render (milled-face.sur at 512^2, 64 spp, low-discrepancy sampler) keeps every
core busy. This script times, in one process with the scene built once:

- the render alone;
- a pure-Python loop alone (one core, like the command's single-threaded steps);
- both at once, the loop in a second thread (Dr.Jit releases the GIL while it renders),
  until both are done;

for Dr.Jit thread pools of 2, 4 and 8 threads, medians over ``--rounds`` rounds. If the
two together took less than the render and the loop one after the other, work beside a
render would be partly free.

    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/cpu_sharing.py
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")


def python_loop(n: int = 3 * 10 ** 7) -> float:
    """Seconds of a pure-Python loop (holds the GIL, one core)."""
    t0 = time.perf_counter()
    sum(range(n))
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=512)
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)

    import drjit as dr

    from scratchlight.scene import SceneSpec
    from scratchlight.session import Session
    from scratchlight.surface import SurfaceConfig

    session = Session(SurfaceConfig(os.path.join(DATA, "milled-face.sur")),
                      SceneSpec(width=args.resolution, height=args.resolution), progress=False)
    E = np.full((25, 50, 1), 0.5, np.float32)

    def render(seed: int) -> float:
        t0 = time.perf_counter()
        session.render_final(E, 64, seed=seed, sampler="ldsampler")
        return time.perf_counter() - t0

    print("| Dr.Jit threads | render alone s | loop alone s | both at once s | "
          "saved / loop time |")
    print("|---|---|---|---|---|")
    for n in args.threads:
        dr.set_thread_count(n)
        render(1)  # kernels and pool warm
        alone, loop, beside = [], [], []
        for k in range(args.rounds):
            alone.append(render(2 + k))
            loop.append(python_loop())
            t0 = time.perf_counter()
            thread = threading.Thread(target=python_loop)
            thread.start()
            render(100 + k)
            thread.join()
            beside.append(time.perf_counter() - t0)
        a, lp, b = (float(np.median(v)) for v in (alone, loop, beside))
        print(f"| {n} | {a:.2f} | {lp:.2f} | {b:.2f} | {(a + lp - b) / lp:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
