"""``MillConfig``: what ``scratchlight mill`` simulates, declared once per option.

Lengths on this command take a unit (``um``, ``mm``, ``cm``, ``m``, ``in``); a bare number
is millimetres, except ``spacing``, where it is micrometres (as ``synth --spacing``).
``stock`` is ``X0:X1,Y0:Y1,Z0`` (Z0: the top of the stock), ``region`` ``X0:X1,Y0:Y1``.
"""
from __future__ import annotations

import dataclasses

from ..errors import InputError
from ..options import check_declared, option
from .tools import Tool, parse_length, parse_tool, read_tool_table

__all__ = ["MillConfig", "parse_stock", "parse_region", "parse_spacing"]


@dataclasses.dataclass
class MillConfig:
    """A ``scratchlight mill`` run: the program, the tools, the stock and the grid."""

    program: str = option("", "G-code program (.nc, .ngc, .tap, .gcode, ...)", flag="program",
                          path=True)
    """The program file (absolute once a run is configured)."""
    tool: str = option("", "the tool: KIND:key=value,... e.g. ball:d=6mm, flat:d=10mm,teeth=4, "
                           "bull:d=10mm,r=1mm, v:angle=90deg,d=6mm, face:d=50mm,r=0.8mm "
                           "(keys d, r, angle, teeth, runout)", metavar="SPEC")
    """The tool in the spindle (for the whole program without a tool table)."""
    tool_table: str = option("", "tool table: lines 'T<n> SPEC' that the program's T.. M6 "
                                 "selects", metavar="FILE", path=True)
    """Tool table file ('' = none)."""
    stock: str = option("", "the stock block X0:X1,Y0:Y1,Z0 (Z0 its top; lengths in mm "
                            "unless a unit is given)", metavar="X0:X1,Y0:Y1,Z0")
    """The stock's x and y ranges and its top."""
    region: str = option("", "simulate only this window of the stock, X0:X1,Y0:Y1 (default "
                             "the whole stock)", metavar="X0:X1,Y0:Y1")
    """The simulated window ('' = the whole stock)."""
    spacing: str = option("1um", "grid spacing (a bare number is micrometres)", metavar="LEN")
    """The grid spacing, as given (e.g. '1um')."""
    envelope: bool = option(False, "leave the tool's swept envelope only, without the "
                                   "per-tooth feed marks")
    """True: the continuous envelope; False: tooth passes where F and S allow."""

    def validate(self) -> None:
        """Raise InputError naming the field for an unusable value."""
        check_declared(self)
        if not self.program:
            raise InputError("program", "give a G-code program file")
        if not self.tool and not self.tool_table:
            raise InputError("tool", "give the tool (e.g. --tool ball:d=6mm) or a tool table")
        if not self.stock:
            raise InputError("stock", "give the stock block X0:X1,Y0:Y1,Z0 (e.g. "
                                      "0:5,0:5,0 in mm)")
        self.tools()
        parse_stock(self.stock)
        parse_region(self.region)
        parse_spacing(self.spacing)

    def tools(self) -> tuple[Tool | None, dict[int, Tool] | None]:
        """(the ``tool`` or None, the tool table or None)."""
        tool = parse_tool(self.tool, "tool") if self.tool else None
        table = read_tool_table(self.tool_table) if self.tool_table else None
        return tool, table


def _range(text: str, where: str) -> tuple[float, float]:
    lo, sep, hi = text.partition(":")
    if not sep:
        raise InputError(where, f"expected a range LO:HI, got {text!r}")
    a, b = parse_length(lo, where), parse_length(hi, where)
    if not b > a:
        raise InputError(where, f"the range {text!r} must increase (LO < HI)")
    return a, b


def parse_stock(text: str):
    """``'0:5,0:5,0'`` -> ``simulate.Stock`` (metres)."""
    from .simulate import Stock

    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 3:
        raise InputError("stock", f"expected X0:X1,Y0:Y1,Z0, got {text!r}")
    (x0, x1), (y0, y1) = _range(parts[0], "stock"), _range(parts[1], "stock")
    return Stock(x0, x1, y0, y1, parse_length(parts[2], "stock"))


def parse_region(text: str) -> tuple[float, float, float, float] | None:
    """``'1:2,1:2'`` -> (x0, x1, y0, y1) in metres; '' -> None."""
    if not str(text).strip():
        return None
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2:
        raise InputError("region", f"expected X0:X1,Y0:Y1, got {text!r}")
    return (*_range(parts[0], "region"), *_range(parts[1], "region"))


def parse_spacing(text: str) -> float:
    """``'1um'`` -> 1e-6 (metres; a bare number is micrometres)."""
    value = parse_length(text, "spacing", bare=1e-6)
    if not value > 0:
        raise InputError("spacing", f"must be a positive length, got {text!r}")
    return value
