"""scratchlight render: a physically based image of a height map under a given light."""
from __future__ import annotations

import sys
import time

from .common import (add_heightmap_options, add_run_options, add_scene_options,
                     check_output_path, light_from_args, load_surface, scene_spec_from_args,
                     select_device)

NAME = "render"
HELP = "render a height map under an environment map (or a constant light) to PNG/EXR"


def add_arguments(p):
    add_heightmap_options(p)
    light = p.add_mutually_exclusive_group(required=True)
    light.add_argument("--envmap", help="lat-long environment map (.exr .hdr .png)")
    light.add_argument("--constant", type=float, help="uniform light of this radiance")
    p.add_argument("--out", required=True, help="tone-mapped image (.png)")
    p.add_argument("--exr", help="also write the linear image (.exr)")
    add_scene_options(p)
    add_run_options(p)


def run(args) -> int:
    from ..engines import ADEngine
    from ..io import write_exr, write_png
    from ..scene import build_scene

    check_output_path(args.out, "--out", (".png",))
    if args.exr:
        check_output_path(args.exr, "--exr", (".exr",))
    spec = scene_spec_from_args(args)
    light = light_from_args(args.envmap, args.constant)
    hm = load_surface(args)
    variant = select_device(args)
    t0 = time.perf_counter()
    if hm.heights.size > 1_000_000:  # meshing and the BVH take a while on big grids
        print(f"building the scene: {hm.shape[1]} x {hm.shape[0]} mesh "
              f"({2 * (hm.shape[0] - 1) * (hm.shape[1] - 1) / 1e6:.1f} M triangles) ...",
              file=sys.stderr, flush=True)
    scene = build_scene(hm, spec, envmap=light)
    image = ADEngine(scene).render_progressive(light, args.spp, seed=args.seed, progress="render")
    write_png(args.out, image)
    if args.exr:
        write_exr(args.exr, image)
    print(f"wrote {args.out}" + (f" and {args.exr}" if args.exr else "")
          + f" ({spec.width} x {spec.height}, {args.spp} spp, {variant}, "
            f"{time.perf_counter() - t0:.1f} s)")
    return 0
