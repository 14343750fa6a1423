"""Where the scene of the whole 5000^2 grid spends its time and memory (issue 26, part 2).

One process: synthesize the paper-sized face-milled grid (or read ``--heightmap``), read it
whole (``--max-size 0``), build its mesh (``scene.mesh.heightmap_to_mesh``) and then the
Mitsuba scene holding it, whose load builds Embree's BVH. After each step it prints the
seconds and the process's resident memory now and at its peak (``VmRSS``, ``VmHWM``).

    .venv/bin/python benchmarks/grid_scene.py                 # 5000 x 5000, ~1.5 minutes
    .venv/bin/python benchmarks/grid_scene.py --size 2000
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def memory_mib() -> dict[str, int]:
    """The process's resident memory now and at its peak, MiB (Linux ``/proc``)."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) // 1024
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=5000, help="grid side of the synthetic surface")
    ap.add_argument("--heightmap", help="a height-map file instead of the synthetic grid")
    args = ap.parse_args(argv)

    from scratchlight.backend import current_variant
    from scratchlight.io import write_npz
    from scratchlight.surface import synthesize
    from scratchlight.surface.config import SurfaceConfig, load_surface

    t0 = time.perf_counter()

    def step(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        print(f"{name:34s} {now - t0:6.1f} s   {memory_mib()}", flush=True)
        t0 = now

    with tempfile.TemporaryDirectory() as tmp:
        path = args.heightmap
        if path is None:
            path = os.path.join(tmp, "grid.npz")
            write_npz(path, synthesize("face-mill", size=args.size, scratches=3, seed=0))
            step(f"synthesize {args.size}^2 and write")
        loaded = load_surface(SurfaceConfig(path=path, max_size=0))
        hm = loaded[0] if isinstance(loaded, tuple) else loaded
        step(f"read whole ({hm.shape[1]} x {hm.shape[0]})")
        current_variant()
        import drjit as dr
        import mitsuba as mi

        from scratchlight.scene.mesh import heightmap_to_mesh

        mesh = heightmap_to_mesh(hm, 1.0, bsdf=mi.load_dict({"type": "roughconductor"}))
        dr.eval()
        dr.sync_thread()
        step(f"mesh ({mesh.face_count()} triangles)")
        scene = mi.load_dict({"type": "scene", "surface": mesh})
        step("scene (Embree BVH)")
        del scene
    return 0


if __name__ == "__main__":
    sys.exit(main())
