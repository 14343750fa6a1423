"""The ``scratchlight`` command line: a thin layer over the library.

Each sub-command lives in its own module ``cmd_<name>.py`` that defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; they are found automatically.
User mistakes (InputError) print one line and exit with code 2; the library names a
config field (``light.lam``), which is shown as its flag (``--lam``). So do option values
that are not finite numbers (``--lr inf``), files that cannot be written (an ``--out``
inside a file) and inputs too large for the memory. Warnings about inputs
(``InputWarning``, e.g. a spacing assumed by default) print one line each,
``scratchlight: warning: <file>: <problem>``. A closed output pipe (``info | head -1``)
ends the command quietly.

Starting is quick (``scratchlight --help`` and ``scratchlight info FILE`` import neither
Mitsuba, Dr.Jit, numba, matplotlib nor SciPy): ``main`` adds the options of the one command
named on the line only, since declaring a command's options imports its config modules, and
the version is read from the package metadata only when ``--version`` asks for it.
"""
from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import warnings
from typing import Iterable

from ..errors import InputError, InputWarning, one_line

__all__ = ["main", "build_parser"]


def _command_modules():
    # the folder's cmd_*.py files (pkgutil would find the same, at the cost of its import)
    names = {f[:-3] for folder in __path__ for f in os.listdir(folder)
             if f.startswith("cmd_") and f.endswith(".py")}
    for name in sorted(names):
        yield importlib.import_module(f"{__name__}.{name}")


class _VersionAction(argparse.Action):
    """``--version``: print the installed version and exit; the package metadata is read
    only now (importlib.metadata costs the start of every other command)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show program's version number and exit"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from ..version import __version__

        print(f"scratchlight {__version__}")  # on stdout, as argparse's own version action
        parser.exit()


def _named_command(argv: list[str]) -> str | None:
    """The sub-command named on the command line: its first word that is not an option (the
    top level has no option that takes a value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(only: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only``, the options of those sub-commands alone (the others
    are listed with their help but accept nothing), which is all ``main`` needs to parse a
    command line and spares importing every command's configs."""
    from .flags import OneLineParser

    parser = OneLineParser(
        prog="scratchlight",
        description="Find the environment light under which cutting marks and scratches on "
                    "a machined metal surface are easiest to see.")
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        if only is None or mod.NAME in only:
            mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _check_finite_options(args) -> None:
    """Refuse option values like ``inf`` and ``nan``, which argparse's float accepts."""
    for name, value in vars(args).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError("--" + name.replace("_", "-"), f"must be a finite number, got {value}")


def _show_input_warning(message, category, filename, lineno, file=None, line=None,
                        _default=warnings.showwarning):
    if issubclass(category, InputWarning):
        print(one_line(f"scratchlight: warning: {message}"), file=sys.stderr)
    else:
        _default(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=[_named_command(argv)])
    args, extras = parser.parse_known_args(argv)
    if extras:  # one line naming the closest flag of the command (exit 2)
        parser._subparsers._group_actions[0].choices[args.command].unknown_flags(extras)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", InputWarning)
            warnings.showwarning = _show_input_warning
            _check_finite_options(args)
            code = int(args._run(args) or 0)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
            return code
    except InputError as e:
        from .common import flag_for_field

        where = flag_for_field(e.path)
        print(one_line(f"scratchlight: error: {where + ': ' if where else ''}{e.problem}"),
              file=sys.stderr)
        return 2
    except MemoryError:
        print("scratchlight: error: not enough memory for this input (see the point limit "
              "SCRATCHLIGHT_MAX_POINTS and the size options)", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader of our output went away (``info | head -1``): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as e:
        if e.filename is None:
            raise
        print(one_line(f"scratchlight: error: {e.filename}: {e.strerror or e}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scratchlight: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The ``scratchlight`` program: ``main`` and then the process's exit.

    Tearing down an interpreter that has run Mitsuba, Dr.Jit and the compiled kernels takes
    seconds (freeing their state; ``benchmarks/whole_command.py`` shows the "exit" phase),
    and every file is complete by then: so once the command is done, the process ends at once,
    unless something may still need Python's own exit: a (non-daemon) thread or a child
    process still running, or Ray (whose exit handler stops a cluster the command started)."""
    import threading

    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    others = [t for t in threading.enumerate()
              if t is not threading.main_thread() and not t.daemon]  # daemons die anyway
    if "ray" in sys.modules or others or ("multiprocessing" in sys.modules and _children_alive()):
        sys.exit(code)
    os._exit(code)


def _children_alive() -> bool:
    import multiprocessing

    return bool(multiprocessing.active_children())


if __name__ == "__main__":
    entry()
