"""Row folders that are complete or absent.

A finished row is assembled in a temporary sibling ``DIR/.tmp-<name>-<random>`` (the work
folder its worker wrote, renamed, or the files it sent back), gets its ``row.json`` and is
renamed to ``DIR/<name>`` in one step; a folder it replaces is first renamed aside. So at
any moment, after any crash or Ctrl-C, ``DIR/<name>`` is either a whole result or missing,
and ``row.json`` (written before the rename) marks it as the batch's.

A row is done when its folder's ``row.json`` holds the row's key and the command's own
config file (``run.json``, ``render.run.json``, ...) holds the row's config.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid

from ..io import write_json
from .rows import CONFIG_FILES, Row
from .worker import WORK

__all__ = ["prepare_out", "commit_row", "completed", "clean_work", "output_error", "ROW_FILE"]

ROW_FILE = "row.json"


def prepare_out(out_dir: str) -> str:
    """Create ``out_dir``, remove what an interrupted batch left (work and temporary
    folders), and place a fresh token file in ``DIR/.work`` by which workers recognise that
    they see this folder; returns the token's name."""
    os.makedirs(out_dir, exist_ok=True)
    clean_work(out_dir)
    work = os.path.join(out_dir, WORK)
    os.makedirs(work, exist_ok=True)
    token = f"token-{uuid.uuid4().hex}"
    with open(os.path.join(work, token), "w") as f:
        f.write("scratchlight batch\n")
    return token


def clean_work(out_dir: str) -> None:
    """Remove ``DIR/.work`` and every ``.tmp-*`` / ``.old-*`` folder in ``DIR``."""
    if not os.path.isdir(out_dir):
        return
    for entry in os.listdir(out_dir):
        if entry == WORK or entry.startswith((".tmp-", ".old-")):
            shutil.rmtree(os.path.join(out_dir, entry), ignore_errors=True)


def commit_row(out_dir: str, row: Row, result: dict, meta: dict) -> str:
    """Make ``DIR/<row.name>`` the row's complete folder, atomically; returns its path.

    ``result``: the worker's result, with ``path`` (a work folder in ``DIR/.work``) or
    ``files`` (relative path -> bytes). ``meta`` is written as ``row.json``.
    """
    tmp = os.path.join(out_dir, f".tmp-{row.name}-{uuid.uuid4().hex[:8]}")
    if result.get("path"):
        os.rename(result["path"], tmp)
    else:
        os.makedirs(tmp)
        for rel, data in result.get("files", {}).items():
            dest = os.path.normpath(os.path.join(tmp, rel))
            if not dest.startswith(tmp + os.sep):
                raise ValueError(f"row {row.name}: a result file outside its folder: {rel!r}")
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as f:
                f.write(data)
    write_json(os.path.join(tmp, ROW_FILE), meta)
    final = os.path.join(out_dir, row.name)
    old = None
    if os.path.lexists(final):
        old = os.path.join(out_dir, f".old-{row.name}-{uuid.uuid4().hex[:8]}")
        os.rename(final, old)
    os.rename(tmp, final)
    if old:
        shutil.rmtree(old, ignore_errors=True)
    return final


def output_error(e: OSError) -> str:
    """An OSError of the batch folder as one line: its reason and the file."""
    return f"{e.strerror or e} ({e.filename})" if e.filename else str(e.strerror or e)


def _read(path: str) -> dict | None:
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def completed(out_dir: str, row: Row) -> dict | None:
    """The ``row.json`` of the row's folder when it holds this row's result (same key, and
    the command's config file holds the same config), else None."""
    folder = os.path.join(out_dir, row.name)
    meta = _read(os.path.join(folder, ROW_FILE))
    if not meta or not row.key or meta.get("key") != row.key:
        return None
    doc = _read(os.path.join(folder, CONFIG_FILES[row.command]))
    if not doc or doc.get("command") != row.command or doc.get("config") != row.config:
        return None
    return meta
