"""scratchlight relight: re-render a height map under new light with the transport matrix.

The first call for a scene builds the transport matrix T (as long as a render at the same
spp, or a little longer) and caches it; every later call for the same surface, scene
options, envmap size, spp and seed loads T and relights in milliseconds.
"""
from __future__ import annotations

import time

import numpy as np

from .common import (add_heightmap_options, add_run_options, add_scene_options,
                     check_output_path, light_from_args, load_surface, scene_spec_from_args,
                     select_device)

NAME = "relight"
HELP = ("render a height map under an environment map through the cached light-transport "
        "matrix (built on first use; then milliseconds per map)")


def add_arguments(p):
    add_heightmap_options(p)
    p.add_argument("--envmap", required=True, help="lat-long environment map (.exr .hdr .png)")
    p.add_argument("--out", required=True, help="tone-mapped image (.png)")
    p.add_argument("--exr", help="also write the linear image (.exr)")
    add_scene_options(p)
    g = p.add_argument_group("transport matrix")
    g.add_argument("--cache-dir", help="folder of cached matrices (default "
                   "$SCRATCHLIGHT_CACHE/transport or ~/.cache/scratchlight/transport)")
    g.add_argument("--no-cache", action="store_true", help="build T without reading or writing the cache")
    g.add_argument("--repeat", type=int, default=10,
                   help="relight this many times to time one relight (default 10)")
    add_run_options(p)


def run(args) -> int:
    from ..engines.transport import TransportEngine
    from ..errors import InputError
    from ..io import write_exr, write_png
    from ..scene import build_scene

    check_output_path(args.out, "--out", (".png",))
    if args.exr:
        check_output_path(args.exr, "--exr", (".exr",))
    if args.repeat < 1:
        raise InputError("--repeat", f"must be at least 1, got {args.repeat}")
    spec = scene_spec_from_args(args)
    light = light_from_args(args.envmap, None)
    hm = load_surface(args)
    variant = select_device(args)
    t0 = time.perf_counter()
    scene = build_scene(hm, spec, envmap=light)
    engine = TransportEngine(scene, spp=args.spp, seed=args.seed,
                             cache_dir=False if args.no_cache else args.cache_dir,
                             progress="transport matrix", decorrelate=False)
    t_ready = time.perf_counter() - t0
    times = []
    for _ in range(args.repeat):
        t1 = time.perf_counter()
        image = engine.relight(light)
        times.append(time.perf_counter() - t1)
    write_png(args.out, image)
    if args.exr:
        write_exr(args.exr, image)
    T = engine.T
    how = ("loaded from cache" if engine.from_cache
           else f"built in {T.build_seconds:.1f} s" + ("" if args.no_cache else ", cached"))
    print(f"wrote {args.out}" + (f" and {args.exr}" if args.exr else "")
          + f" ({spec.width} x {spec.height}, {variant})")
    print(f"transport matrix: {args.spp} spp, {T.nnz_per_pixel:.1f} non-zeros and "
          f"{T.bytes_per_pixel:.0f} bytes per pixel ({T.nbytes / 2**20:.1f} MiB), {how}; "
          f"scene and matrix ready after {t_ready:.1f} s")
    print(f"relight: {1e3 * float(np.median(times)):.2f} ms per environment map "
          f"(median of {args.repeat})")
    return 0
