"""One batch at a time per folder: an OS lock on ``DIR/.batch.lock``, held for the run.

Two runs on one folder would delete each other's work folders and compute rows twice, so
``batch`` takes an exclusive ``flock`` on the lock file before it touches anything else in
the folder and holds it until its report is written. The file holds the holder's pid and
host; the kernel drops the lock when the process ends (even when it is killed), so a stale
file never blocks. The file itself is left in place (removing it would let a third run lock
a new file while the second still waits on the old one).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from typing import Iterator

from ..errors import InputError

__all__ = ["LOCK_FILE", "folder_lock"]

LOCK_FILE = ".batch.lock"


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    except OSError:
        text = []
    return " ".join(text) or "another process"


@contextlib.contextmanager
def folder_lock(out_dir: str, wait: bool = False) -> Iterator[str]:
    """Hold the batch lock of ``out_dir`` (created if missing) for the ``with`` block.

    When another batch holds it: ``wait`` blocks until it is free, else raises
    ``InputError(out_dir, "another batch is running in this folder (pid N on HOST) ...")``.
    """
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise InputError(out_dir, f"cannot create the lock file {LOCK_FILE}: "
                                  f"{e.strerror or e}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise InputError(out_dir, f"another batch is running in this folder "
                                      f"({_holder(fd)}); wait for it or pass --wait") from None
        me = f"pid {os.getpid()} on {socket.gethostname()}\n".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, me, 0)
        yield path
    finally:
        os.close(fd)  # releases the lock
