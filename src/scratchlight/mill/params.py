"""Named and numbered parameters of a program, filled in before it is read.

The simulator does not run variables (``gcode`` refuses ``#``), but a study of the
machining parameters writes them into the program: ``F#<feed>``, ``S#1``, ``Y#<step>``.
:func:`substitute` replaces every ``#<name>`` (a name of letters, digits and ``_``,
case-insensitive as in RS-274/NGC) and ``#N`` (a number) by the value given for it, as
text, before the program is parsed. It is a textual substitution only: an assignment
(``#1 = 5``) or an expression (``[#1 * 2]``) is still refused by the reader, with its line
and word. Every parameter the text uses must be given, and every given one must be used,
so a misspelt name is one line naming it (and the closest name the program uses).
"""
from __future__ import annotations

import math
import re

from ..errors import InputError

__all__ = ["substitute", "parameters_used", "PARAMETER"]

PARAMETER = re.compile(r"#\s*(?:<\s*([A-Za-z_][A-Za-z0-9_]*)\s*>|(\d+))")
"""``#<name>`` (group 1) or ``#N`` (group 2)."""


_CODE = re.compile(r"\([^()]*\)|" + PARAMETER.pattern)


def _key(match: re.Match) -> str:
    return (match.group(1) or match.group(2)).lower()


def parameters_used(text: str) -> set[str]:
    """The parameters ``text`` uses outside comments: lower-case names, or numbers as
    text (``'1'``)."""
    found = set()
    for line in text.splitlines():
        found |= {_key(m) for m in _CODE.finditer(line.partition(";")[0])
                  if not m.group(0).startswith("(")}
    return found


def _text(name: str, value) -> str:
    if isinstance(value, bool):
        raise InputError(name, f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise InputError(name, f"must be a finite number, got {value}")
        return repr(value) if isinstance(value, int) else f"{value:.12g}"
    text = str(value).strip()
    if not text or any(c in text for c in "#[]=;()\n"):
        raise InputError(name, f"expected a number (or a length such as 2um), got {value!r}")
    return text


def substitute(texts: dict[str, str], values: dict[str, object],
               prefix: str = "gcode.") -> dict[str, str]:
    """``texts`` (``{where: text}``, e.g. the program and the tool spec) with every
    ``#<name>`` / ``#N`` replaced by ``values[name]`` (names lower-case; numbers written
    with up to 12 significant digits, text as given).

    Raises InputError(where, 'line L: #<name>: no value given ...') for a parameter without
    a value, and InputError(prefix + name, ...) for a value no text uses."""
    from ..options import closest

    values = {str(k).lower(): v for k, v in values.items()}
    shown = {k: _text(prefix + k, v) for k, v in values.items()}
    used: set[str] = set()
    out = {}
    for where, text in texts.items():
        lines = []
        for number, line in enumerate(text.splitlines(keepends=True), start=1):
            code, semi, comment = line.partition(";")

            def fill(m: re.Match) -> str:
                if m.group(0).startswith("("):  # comments keep their text
                    return m.group(0)
                key = _key(m)
                if key not in shown:
                    raise InputError(where, f"line {number}: {m.group(0)}: no value given "
                                            f"(set {prefix}{key} in the plan)")
                used.add(key)
                return shown[key]

            lines.append(_CODE.sub(fill, code) + semi + comment)
        out[where] = "".join(lines)
    for name in values:
        if name not in used:
            near = closest(name, used)
            hint = f"; did you mean {prefix}{near}?" if near else \
                f"; it uses {', '.join(sorted(used)) or 'none'}"
            raise InputError(prefix + name, f"the program uses no #<{name}>" + hint)
    return out
