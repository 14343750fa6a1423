"""scratchlight render: a physically based image of a height map under a given light."""
from __future__ import annotations

from ..errors import InputError
from .common import (SCENE_OPTIONS, SURFACE_OPTIONS, RUN_OPTIONS, add_config_option,
                     add_heightmap_options, add_run_options, add_scene_options,
                     check_output_path, replay)
from .flags import add_options, config_from_args as _from_flags

NAME = "render"
HELP = "render a height map under an environment map (or a constant light) to PNG/EXR"


def add_arguments(p):
    from ..renders import RenderConfig

    add_heightmap_options(p, RenderConfig)
    add_options(p, RenderConfig, ["envmap", "constant"], exclusive=True)
    p.add_argument("--out", required=True, help="tone-mapped image (.png); the config is saved "
                                                "beside it as OUT.run.json")
    p.add_argument("--exr", help="also write the linear image (.exr)")
    add_config_option(p)
    add_scene_options(p, RenderConfig)
    add_run_options(p, RenderConfig)


LIGHT_OPTIONS = ("envmap", "constant")


def config_from_args(args, cls=None, command: str = "render", own: tuple[str, ...] = ()):
    """The command's config from ``--config`` (``--device`` may override) or the flags
    (heightmap, surface, light, scene, seed, device and the command's ``own`` options)."""
    from ..renders import RenderConfig

    cls = cls or RenderConfig
    if args.config:
        cfg = replay(args, cls, command)
        cfg.validate()
        return cfg
    if not args.heightmap:
        raise InputError("heightmap", "give a height map file (or --config FILE)")
    if args.envmap is None and getattr(args, "constant", None) is None:
        raise InputError("--envmap", "give the light: --envmap FILE or --constant V (or "
                                     "--config FILE)")
    return _from_flags(args, cls, ("heightmap", *SURFACE_OPTIONS, *LIGHT_OPTIONS,
                                   *SCENE_OPTIONS, *RUN_OPTIONS, *own))


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

