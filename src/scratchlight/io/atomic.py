"""Write-then-rename, so that a failed run never leaves a half-written output file.

Every file scratchlight writes goes through :func:`atomic_path`; JSON documents (configs,
results, metrics) go through :func:`write_json`, the one JSON writer.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from typing import Any

from ..errors import InputError

__all__ = ["atomic_path", "write_json", "finite_or_none"]


def _ordinary_mode() -> int:
    """0666 less the process umask: the mode ``open()`` would give a new file."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _make_folder(path: str, folder: str) -> None:
    """Create ``folder`` (and its parents) for the output ``path``; InputError when a file
    is in the way or it cannot be created."""
    try:
        os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(path, "cannot write here: a folder on the path is a file") from None
    except OSError as e:
        raise InputError(path, f"cannot create the output folder ({e.strerror or e})") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The output gets the mode of an ordinary new file (0666 less the umask). A folder on
    the way that is a file, or a ``path`` that is a directory, raise InputError.
    """
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    _make_folder(path, d)
    if os.path.isdir(path):
        raise InputError(path, "is a directory; give a file name to write")
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=suffix or os.path.splitext(path)[1])
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _ordinary_mode())  # mkstemp makes 0600; outputs follow the umask
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def finite_or_none(x: Any) -> Any:
    """``x`` with every non-finite float (NaN, inf) replaced by None, recursively, since
    JSON has no NaN; tuples become lists."""
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_none(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_json(path: str | os.PathLike, data: Any, indent: int = 2) -> None:
    """Write ``data`` as JSON to ``path`` atomically; non-finite floats become null."""
    with atomic_path(path, suffix=".json") as tmp:
        with open(tmp, "w") as f:
            json.dump(finite_or_none(data), f, indent=indent)
            f.write("\n")
