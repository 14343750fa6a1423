"""The one exception type for user mistakes (bad files, bad options).

The command line turns it into a single line ``scratchlight: error: <file>: <problem>`` and
exit code 2; library users catch it like any ``ValueError``.
"""
from __future__ import annotations

import os

__all__ = ["InputError", "InputWarning", "one_line"]

# Characters that would break a one-line message: C0/C1 controls (newline, carriage
# return, escape, ...), DEL and Unicode's line and paragraph separators.
_BREAKING = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7f, 0xa0))}
_BREAKING.update({0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x2028: "\\u2028",
                  0x2029: "\\u2029", 0x85: "\\x85"})


def one_line(text) -> str:
    """``text`` with every character that could split or rewrite a terminal line escaped
    (a file name holding a newline stays on its one line: ``a\\nb.sur``)."""
    return str(text).translate(_BREAKING)


class InputError(ValueError):
    """A user-facing input problem. ``path`` names the file (or option) at fault."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(one_line(f"{self.path}: {problem}" if self.path else problem))


class InputWarning(UserWarning):
    """Something about an input that did not stop reading it but changes what the result
    means (a spacing assumed by default, a header line that was not understood). The
    command line prints it as ``scratchlight: warning: <file>: <problem>``."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(one_line(f"{self.path}: {problem}" if self.path else problem))
