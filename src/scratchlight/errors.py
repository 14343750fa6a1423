"""The one exception type for user mistakes (bad files, bad options).

The command line turns it into a single line ``scratchlight: error: <file>: <problem>`` and
exit code 2; library users catch it like any ``ValueError``.
"""
from __future__ import annotations

import os

__all__ = ["InputError", "InputWarning"]


class InputError(ValueError):
    """A user-facing input problem. ``path`` names the file (or option) at fault."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class InputWarning(UserWarning):
    """Something about an input that did not stop reading it but changes what the result
    means (a spacing assumed by default, a header line that was not understood). The
    command line prints it as ``scratchlight: warning: <file>: <problem>``."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
