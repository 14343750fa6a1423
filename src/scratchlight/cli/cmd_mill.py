"""scratchlight mill: the height map a G-code program cuts into a block of stock."""
from __future__ import annotations

NAME = "mill"
HELP = "simulate a 3-axis G-code program cutting the stock: a height map (.npz) with the " \
       "tool's feed marks"

OPTIONS = ("program", "tool", "tool_table", "stock", "region", "spacing", "envelope")


def add_arguments(p):
    from ..mill.config import MillConfig
    from .common import add_config_option
    from .flags import add_options

    add_options(p, MillConfig, OPTIONS)
    p.add_argument("--out", required=True, help="output height map (.npz); the config is saved "
                                                "beside it as OUT.run.json")
    add_config_option(p)


def run(args) -> int:
    from ..errors import InputError
    from ..mill.config import MillConfig
    from ..mill.run import run_mill
    from ..options import option_table
    from .common import check_output_path, replay
    from .flags import config_from_args

    check_output_path(args.out, "--out", (".npz",))
    flags = {e.field: e.flag for e in option_table(MillConfig).values()}
    try:
        if args.config:
            cfg = replay(args, MillConfig, NAME)
            cfg.validate()
        else:
            cfg = config_from_args(args, MillConfig, OPTIONS)
        doc = run_mill(cfg, args.out)
    except InputError as e:  # a config field: show its flag
        if e.path in flags:
            raise InputError(flags[e.path], e.problem) from None
        raise
    rec = doc["mill"]
    ny, nx = rec["grid"]
    hm_note = "envelope only" if rec["envelope"] else \
        f"{rec['segments_with_tooth_marks']} of {rec['segments']} segments with tooth marks"
    print(f"wrote {args.out} ({nx} x {ny} points at {rec['spacing_m'] * 1e6:g} um, "
          f"{rec['blocks']} blocks, {rec['segments']} segments, {hm_note}; "
          f"{doc['seconds']:.1f} s)")
    return 0
