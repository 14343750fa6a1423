"""The ``scratchlight`` command line: a thin layer over the library.

Each sub-command lives in its own module ``cmd_<name>.py`` that defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; they are found automatically.
User mistakes (InputError) print one line and exit with code 2; the library names a
config field (``light.lam``), which is shown as its flag (``--lam``).
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ..errors import InputError

__all__ = ["main", "build_parser"]


def _command_modules():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            yield importlib.import_module(f"{__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scratchlight",
        description="Find the environment light under which cutting marks and scratches on "
                    "a machined metal surface are easiest to see.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"scratchlight {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except InputError as e:
        from .common import flag_for_field

        where = flag_for_field(e.path)
        print(f"scratchlight: error: {where + ': ' if where else ''}{e.problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scratchlight: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
