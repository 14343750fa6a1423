"""scratchlight synth: a synthetic machined surface with planted defects (ground truth)."""
from __future__ import annotations

import math
import os

NAME = "synth"
HELP = "generate a synthetic machined surface with planted scratches (.npz with a truth mask)"


def add_arguments(p):
    from ..surface.synthetic import KINDS

    p.add_argument("--kind", choices=KINDS, default="face-mill",
                   help="cutting process (default face-mill)")
    p.add_argument("--size", type=int, default=512,
                   help="grid points per side, >= 16 (default 512)")
    p.add_argument("--out", required=True, help="output height map (.npz)")
    p.add_argument("--scratches", type=int, default=0,
                   help="number of planted scratches (default 0)")
    p.add_argument("--dents", type=int, default=0, help="number of planted dents (default 0)")
    p.add_argument("--chatter", type=float, default=0.0, metavar="A_UM",
                   help="chatter waviness amplitude along the feed, micrometres (default 0)")
    p.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0)")
    p.add_argument("--spacing", type=float, default=5.0, metavar="UM",
                   help="grid spacing, micrometres (default 5)")
    p.add_argument("--roughness", type=float, default=0.02, metavar="UM",
                   help="rms of the random roughness, micrometres (default 0.02; 0 = off)")
    p.add_argument("--scratch-width", type=float, default=30.0, metavar="UM",
                   help="scratch width, micrometres (default 30)")
    p.add_argument("--scratch-depth", type=float, default=2.0, metavar="UM",
                   help="scratch depth, micrometres (default 2)")
    p.add_argument("--scratch-profile", choices=("v", "round"), default="v",
                   help="scratch cross-section (default v)")
    p.add_argument("--twin", metavar="TWIN.npz",
                   help="also write the same surface without its planted defects (for the "
                        "detectability index of 'scratchlight evaluate --twin')")


def _check(args):
    from ..errors import InputError

    if args.size < 16:
        raise InputError("--size", f"must be at least 16, got {args.size}")
    if args.size > 8192:
        raise InputError("--size", f"must be at most 8192, got {args.size}")
    for opt, v in (("--scratches", args.scratches), ("--dents", args.dents), ("--seed", args.seed)):
        if v < 0:
            raise InputError(opt, f"must be >= 0, got {v}")
    for opt, v in (("--chatter", args.chatter), ("--roughness", args.roughness)):
        if not math.isfinite(v) or v < 0:
            raise InputError(opt, f"must be a finite value >= 0, got {v}")
    for opt, v in (("--spacing", args.spacing), ("--scratch-width", args.scratch_width),
                   ("--scratch-depth", args.scratch_depth)):
        if not math.isfinite(v) or v <= 0:
            raise InputError(opt, f"must be a positive number, got {v}")
    if os.path.splitext(args.out)[1].lower() != ".npz":
        raise InputError("--out", f"{args.out}: expected a .npz file")
    if args.twin and os.path.splitext(args.twin)[1].lower() != ".npz":
        raise InputError("--twin", f"{args.twin}: expected a .npz file")
    if args.twin and os.path.abspath(args.twin) == os.path.abspath(args.out):
        raise InputError("--twin", "must differ from --out")
    d = os.path.dirname(os.path.abspath(args.out))
    if os.path.exists(d) and not os.path.isdir(d):
        raise InputError(args.out, "the output folder is not a directory")


def run(args) -> int:
    from ..errors import InputError
    from ..io import write_npz
    from ..surface.synthetic import synthesize

    _check(args)
    um = 1e-6
    options = dict(size=args.size, seed=args.seed, chatter=args.chatter * um,
                   spacing=args.spacing * um, roughness=args.roughness * um,
                   scratch_width=args.scratch_width * um, scratch_depth=args.scratch_depth * um,
                   scratch_profile=args.scratch_profile)
    try:
        hm = synthesize(args.kind, scratches=args.scratches, dents=args.dents, **options)
        # defects come from random streams of their own: without them, the same surface
        twin = synthesize(args.kind, scratches=0, dents=0, **options) if args.twin else None
    except InputError as e:  # a parameter named by the library: name the option instead
        opt = "--" + (e.path or "").replace("_", "-")
        raise InputError(opt, e.problem) from None
    write_npz(args.out, hm)
    if twin is not None:
        write_npz(args.twin, twin)
        print(f"wrote {args.twin} (the same surface without its defects)")
    w, h = hm.size_m
    print(f"wrote {args.out} ({args.kind}, {args.size} x {args.size} points, "
          f"{w * 1e3:.3g} x {h * 1e3:.3g} mm, heights {hm.heights.min() / um:.3g} .. "
          f"{hm.heights.max() / um:.3g} um, {int(hm.truth.sum())} defect cells)")
    return 0
