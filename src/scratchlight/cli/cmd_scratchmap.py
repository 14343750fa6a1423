"""scratchlight scratchmap: the paper's binary scratch map of a height map."""
from __future__ import annotations

NAME = "scratchmap"
HELP = "write the binary scratch map (paper section 5.1) of a height map as a PNG"


# scratchmap's own flags for the scratch-map options of ``optimize``'s LightConfig
RENAMED = {"scratch_kernel": "--kernel", "scratch_patch": "--patch",
           "scratch_threshold": "--threshold"}


def add_arguments(p):
    from ..optimize.config import LightConfig
    from ..surface import SurfaceConfig
    from .flags import add_options

    p.add_argument("heightmap", help="height map file")
    p.add_argument("--out", required=True, help="output PNG (height-map grid, white = scratch)")
    add_options(p, LightConfig, RENAMED, rename=RENAMED)
    add_options(p, SurfaceConfig, ["no_level"])


def run(args) -> int:
    from ..errors import InputError
    from ..io import read_heightmap, write_png
    from ..optimize.config import LightConfig
    from ..options import check_declared, config_from_options
    from ..surface import fill_missing, level_plane
    from ..surface.scratchmap import scratch_map
    from .common import check_output_path
    from .flags import given_options

    check_output_path(args.out, "--out", (".png",))
    try:
        light = config_from_options(LightConfig, given_options(args, LightConfig, RENAMED),
                                    from_flag=True)
        check_declared(light)
    except InputError as e:  # name scratchmap's flag, not optimize's
        raise InputError(RENAMED.get(e.path, e.path), e.problem) from None
    hm = fill_missing(read_heightmap(args.heightmap))
    if not args.no_level:
        hm = level_plane(hm)
    m = scratch_map(hm.heights, light.scratch_kernel, light.scratch_patch,
                    light.scratch_threshold)
    write_png(args.out, m)
    print(f"wrote {args.out}: {m.shape[1]} x {m.shape[0]}, {100 * m.mean():.1f} % marked")
    return 0
