"""scratchlight render: a physically based image of a height map under a given light."""
from __future__ import annotations

from .common import (add_config_option, add_heightmap_options, add_run_options,
                     add_scene_options, check_output_path, light_source_from_args,
                     scene_spec_from_args, surface_config_from_args)

NAME = "render"
HELP = "render a height map under an environment map (or a constant light) to PNG/EXR"


def add_arguments(p):
    add_heightmap_options(p, optional=True)
    light = p.add_mutually_exclusive_group()
    light.add_argument("--envmap", help="lat-long environment map (.exr .hdr .png)")
    light.add_argument("--constant", type=float, help="uniform light of this radiance")
    p.add_argument("--out", required=True, help="tone-mapped image (.png); the config is saved "
                                                "beside it as OUT.run.json")
    p.add_argument("--exr", help="also write the linear image (.exr)")
    add_config_option(p)
    add_scene_options(p)
    add_run_options(p)


def config_from_args(args, cls=None, command: str = "render", **extra):
    """The command's config from ``--config`` (``--device`` may override) or the flags."""
    from ..config import read_config
    from ..renders import RenderConfig

    cls = cls or RenderConfig
    if args.config:
        cfg = read_config(args.config, cls, command=command)
        if args.device != "auto":
            cfg.device = args.device
        return cfg
    return cls(surface=surface_config_from_args(args), scene=scene_spec_from_args(args),
               light=light_source_from_args(args), spp=args.spp, seed=args.seed,
               device=args.device, **extra)


def run(args) -> int:
    from ..renders import save_render

    check_output_path(args.out, "--out", (".png",))
    if args.exr:
        check_output_path(args.exr, "--exr", (".exr",))
    cfg = config_from_args(args)
    doc, session = save_render(cfg, args.out, args.exr)
    seconds = doc["seconds"]
    spec = session.scene.spec
    print(f"wrote {args.out}" + (f" and {args.exr}" if args.exr else "")
          + f" ({spec.width} x {spec.height}, {cfg.spp} spp, {session.variant}, {seconds:.1f} s)")
    return 0

