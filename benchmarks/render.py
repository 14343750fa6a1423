"""Render speed and memory of the foundation (issue 2).

Prints, measured in this run:
- build and render time at 512 x 512, 16 spp, for a 1024 x 1024 height map;
- peak resident memory of a whole render (read, mesh, BVH, 64 x 64 image) for a
  4096 x 4096 and for the paper's 5000 x 5000 height map, each in its own process.

Usage: .venv/bin/python benchmarks/render.py [--skip-large]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def surface(n: int, seed: int = 0):
    from scratchlight.io import check_heightmap

    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=np.float32)
    marks = 1e-6 * np.abs(np.sin(np.pi * x / 12.0))[None, :]
    h = marks + 5e-8 * rng.standard_normal((n, n), dtype=np.float32)
    return check_heightmap(h, 2e-6, 2e-6, source=f"synthetic {n}x{n}")


def time_render(n: int, res: int, spp: int) -> dict:
    import scratchlight as sl
    from scratchlight.engines import ADEngine

    sl.use_device("auto")
    hm = surface(n)
    t0 = time.perf_counter()
    scene = sl.build_scene(hm, sl.SceneSpec(width=res, height=res))
    t_build = time.perf_counter() - t0
    eng = ADEngine(scene, spp=spp)
    E = np.full((25, 50, 1), 0.5, np.float32)
    eng.render(E, seed=0)  # first call compiles the kernels
    times = []
    for s in range(3):
        t0 = time.perf_counter()
        eng.render(E, seed=1 + s)
        times.append(time.perf_counter() - t0)
    return {"grid": n, "image": res, "spp": spp, "build_s": t_build,
            "render_s_median": float(np.median(times)), "variant": sl.current_variant()}


def peak_memory_child(n: int) -> dict:
    code = (
        "import sys, json, time, resource, numpy as np; sys.path.insert(0, 'benchmarks');"
        "from render import surface; import scratchlight as sl;"
        "from scratchlight.engines import ADEngine; sl.use_device('auto');"
        f"t0 = time.perf_counter(); hm = surface({n});"
        "scene = sl.build_scene(hm, sl.SceneSpec(width=64, height=64));"
        "img = ADEngine(scene, spp=4).render(np.full((25, 50, 1), 0.5, np.float32));"
        "ok = bool(np.isfinite(img).all() and img[scene.object_mask].mean() > 0);"
        "print(json.dumps({'grid': %d, 'seconds': time.perf_counter() - t0, 'ok': ok,"
        "'peak_rss_gb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))" % n
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        return {"grid": n, "error": r.stderr.strip().splitlines()[-1:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-large", action="store_true", help="skip the 4096 and 5000 grids")
    args = ap.parse_args()
    r = time_render(1024, 512, 16)
    print(f"1024 x 1024 map, 512 x 512 image, 16 spp ({r['variant']}): "
          f"scene build {r['build_s']:.2f} s, render {r['render_s_median']:.2f} s (median of 3)")
    if not args.skip_large:
        for n in (4096, 5000):
            m = peak_memory_child(n)
            if "error" in m:
                print(f"{n} x {n}: FAILED {m['error']}")
            else:
                print(f"{n} x {n} map: peak memory {m['peak_rss_gb']:.2f} GB "
                      f"({m['peak_rss_gb'] / 24 * 100:.0f} % of 24 GB), whole render "
                      f"{m['seconds']:.1f} s, image valid: {m['ok']}")


if __name__ == "__main__":
    main()
