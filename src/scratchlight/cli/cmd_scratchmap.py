"""scratchlight scratchmap: the paper's binary scratch map of a height map."""
from __future__ import annotations

NAME = "scratchmap"
HELP = "write the binary scratch map (paper section 5.1) of a height map as a PNG"


def add_arguments(p):
    p.add_argument("heightmap", help="height map file")
    p.add_argument("--out", required=True, help="output PNG (height-map grid, white = scratch)")
    p.add_argument("--kernel", type=int, default=21, help="moving-average kernel, cells (21)")
    p.add_argument("--patch", type=int, default=40, help="patch size, cells (40)")
    p.add_argument("--threshold", type=float, default=0.03, help="patch range threshold (0.03)")
    p.add_argument("--no-level", action="store_true", help="do not subtract the best-fit plane")


def run(args) -> int:
    from ..errors import InputError
    from ..io import read_heightmap, write_png
    from ..surface import fill_missing, level_plane
    from ..surface.scratchmap import scratch_map
    from .common import check_output_path

    check_output_path(args.out, "--out", (".png",))
    if args.kernel < 1 or args.patch < 1:
        raise InputError("--kernel/--patch", "must be at least 1")
    if not 0 <= args.threshold <= 1:
        raise InputError("--threshold", f"must be in [0, 1], got {args.threshold}")
    hm = fill_missing(read_heightmap(args.heightmap))
    if not args.no_level:
        hm = level_plane(hm)
    m = scratch_map(hm.heights, args.kernel, args.patch, args.threshold)
    write_png(args.out, m)
    print(f"wrote {args.out}: {m.shape[1]} x {m.shape[0]}, {100 * m.mean():.1f} % marked")
    return 0
