"""scratchlight channels: a station's channel levels chosen from one image per channel."""
from __future__ import annotations

import os

from ..errors import InputError
from .common import add_config_option, replay
from .flags import add_options, config_from_args

NAME = "channels"
HELP = ("choose LED dome or lamp channel levels (one or K shots) from one image per channel "
        "(photos or renders) by the scratch objective")

INPUT_OPTIONS = ("layout", "mask", "dark", "curve", "exposure")
OBJECTIVE_OPTIONS = ("objective", "prior", "shots", "regions", "sharpness", "lam", "l2_target",
                     "envmap_size", "max_total")
SOLVER_OPTIONS = ("solver", "iterations", "lr", "seed")


def add_arguments(p):
    from ..lamps.channels_config import ChannelsConfig

    add_options(p, ChannelsConfig, ["images"])
    p.add_argument("--out", required=True, help="output folder")
    add_config_option(p)
    add_options(p, ChannelsConfig, INPUT_OPTIONS, "images")
    add_options(p, ChannelsConfig, OBJECTIVE_OPTIONS, "objective")
    add_options(p, ChannelsConfig, SOLVER_OPTIONS, "search")
    p.add_argument("--quiet", action="store_true", help="print only the summary")


def _flag(field: str | None) -> str | None:
    """The flag of a ChannelsConfig field named by an InputError (``shots`` -> --shots)."""
    from ..lamps.channels_config import ChannelsConfig
    from ..options import option_table

    for e in option_table(ChannelsConfig).values():
        if e.field == field:
            return e.flag if not e.positional else e.name.upper()
    return field


def run(args) -> int:
    from ..lamps.channels_config import ChannelsConfig
    from ..lamps.channels_run import run_channels

    try:
        if args.config:
            cfg = replay(args, ChannelsConfig, NAME)
            cfg.validate()
        else:
            if not args.images:
                raise InputError("images", "give the folder of the channel images (or "
                                           "--config FILE)")
            cfg = config_from_args(args, ChannelsConfig,
                                   ("images", *INPUT_OPTIONS, *OBJECTIVE_OPTIONS,
                                    *SOLVER_OPTIONS))
        s = run_channels(cfg, args.out, progress=not args.quiet)
    except InputError as e:
        raise InputError(_flag(e.path), e.problem) from None
    t, obj = s["time"], s["objective"]
    print(f"{len(s['channels'])} channels, {len(s['levels'])} shot(s): objective "
          f"{obj['loss']:.4g} (best single channel {s['best_single_channel']['loss']:.4g}, "
          f"uniform {s['best_uniform']['loss']:.4g})")
    print(f"time: images {t['load_s']:.2f} s, set-up {t['setup_s']:.2f} s, levels "
          f"{t['solve_s']:.2f} s ({t['image_passes']} image passes)")
    print(f"results in {args.out}: {', '.join(s['files'])} "
          f"(repeat with --config {os.path.join(args.out, 'run.json')})")
    return 0
