"""scratchlight synth: a synthetic machined surface with planted defects (ground truth).

Its flags are derived from ``surface.synthetic.config.SynthConfig`` (lengths in
micrometres); ``--out`` and ``--twin`` name the files written.
"""
from __future__ import annotations

import os

NAME = "synth"
HELP = "generate a synthetic machined surface with planted scratches (.npz with a truth mask)"


def add_arguments(p):
    from ..surface.synthetic.config import SYNTH_OPTIONS, SynthConfig
    from .flags import add_options

    p.add_argument("--out", required=True, help="output height map (.npz)")
    p.add_argument("--twin", metavar="TWIN.npz",
                   help="also write the same surface without its planted defects (for the "
                        "detectability index of 'scratchlight evaluate --twin')")
    add_options(p, SynthConfig, SYNTH_OPTIONS)


def _check_outputs(args):
    from ..errors import InputError

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
    from ..options import option_table
    from ..surface.synthetic.config import SYNTH_OPTIONS, SynthConfig
    from .flags import config_from_args

    flags = {e.field: e.flag for e in option_table(SynthConfig).values()}
    try:
        cfg = config_from_args(args, SynthConfig, SYNTH_OPTIONS)
        _check_outputs(args)
        hm = cfg.synthesize()
        # defects come from random streams of their own: without them, the same surface
        twin = cfg.synthesize(defects=False) if args.twin else None
    except InputError as e:  # a parameter named by the config or the library: its flag
        if e.path in flags:
            raise InputError(flags[e.path], e.problem) from None
        raise
    write_npz(args.out, hm)
    if twin is not None:
        write_npz(args.twin, twin)
        print(f"wrote {args.twin} (the same surface without its defects)")
    um = 1e-6
    w, h = hm.size_m
    print(f"wrote {args.out} ({cfg.kind}, {cfg.size} x {cfg.size} points, "
          f"{w * 1e3:.3g} x {h * 1e3:.3g} mm, heights {hm.heights.min() / um:.3g} .. "
          f"{hm.heights.max() / um:.3g} um, {int(hm.truth.sum())} defect cells)")
    return 0
