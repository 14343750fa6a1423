"""scratchlight relight: re-render a height map under new light with the transport matrix.

The first call for a scene builds the transport matrix T (as long as a render at the same
spp, or a little longer) and caches it; every later call for the same surface, scene
options, envmap size, spp and seed loads T and relights in milliseconds.
"""
from __future__ import annotations

from .common import (add_config_option, add_heightmap_options, add_run_options,
                     add_scene_options, check_output_path)
from .flags import add_options

NAME = "relight"
HELP = ("render a height map under an environment map through the cached light-transport "
        "matrix (built on first use; then milliseconds per map)")


OWN_OPTIONS = ("cache_dir", "no_cache", "engine", "memory_budget_gib", "repeat")


def add_arguments(p):
    from ..renders import RelightConfig

    add_heightmap_options(p, RelightConfig)
    add_options(p, RelightConfig, ["envmap"])
    p.add_argument("--out", required=True, help="tone-mapped image (.png); the config is saved "
                                                "beside it as OUT.run.json")
    p.add_argument("--exr", help="also write the linear image (.exr)")
    add_config_option(p)
    add_scene_options(p, RelightConfig)
    add_options(p, RelightConfig, OWN_OPTIONS, "transport matrix")
    add_run_options(p, RelightConfig)


def run(args) -> int:
    from ..errors import InputError
    from ..renders import RelightConfig, save_relight
    from .cmd_render import config_from_args

    check_output_path(args.out, "--out", (".png",))
    if args.exr:
        check_output_path(args.exr, "--exr", (".exr",))
    if not args.config and not args.envmap:
        raise InputError("--envmap", "give the light as an environment map file (or --config FILE)")
    cfg = config_from_args(args, RelightConfig, NAME, OWN_OPTIONS)
    doc, engine = save_relight(cfg, args.out, args.exr)
    ready, times = doc["ready_s"], doc["relight_s"]
    spec = engine.scene.spec
    if doc["engine"] == "ad":
        why = f" ({doc['engine_choice']['reason']})" if doc["engine_choice"] else ""
        print(f"wrote {args.out}" + (f" and {args.exr}" if args.exr else "")
              + f" ({spec.width} x {spec.height}, {_variant()}): a Mitsuba render at "
                f"{cfg.spp} spp in {times[0]:.1f} s{why}")
        return 0
    T = engine.T
    how = ("loaded from cache" if engine.from_cache
           else f"built in {T.build_seconds:.1f} s" + ("" if not cfg.use_cache else ", cached"))
    print(f"wrote {args.out}" + (f" and {args.exr}" if args.exr else "")
          + f" ({spec.width} x {spec.height}, {_variant()})")
    print(f"transport matrix: {cfg.spp} spp, {T.nnz_per_pixel:.1f} non-zeros and "
          f"{T.bytes_per_pixel:.0f} bytes per pixel ({T.nbytes / 2**20:.1f} MiB), {how}; "
          f"scene and matrix ready after {ready:.1f} s")
    import statistics  # here: its import (fractions, decimal) costs every command's start

    print(f"relight: {1e3 * statistics.median(times):.2f} ms per environment map "
          f"(median of {cfg.repeat})")
    return 0


def _variant() -> str:
    from ..backend import current_variant

    return current_variant()
