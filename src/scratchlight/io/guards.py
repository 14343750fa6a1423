"""Checks every reader makes before it trusts a file: what kind of file it is, how many
points its header declares, and how many bytes a compressed stream may inflate to.

The point limit protects the machine from a small file that declares (or inflates to) a
huge grid: reading is refused before anything of that size is allocated. It is
``DEFAULT_MAX_POINTS`` unless the environment variable ``SCRATCHLIGHT_MAX_POINTS`` says
otherwise.
"""
from __future__ import annotations

import bz2
import collections
import contextlib
import contextvars
import io
import lzma
import os
import stat
import struct
import zipfile
import zlib

from ..errors import InputError

__all__ = ["DEFAULT_MAX_POINTS", "BYTES_PER_POINT", "max_points", "point_limit", "check_point_count", "available_memory",
           "check_regular_file", "format_bytes", "inflate_exactly", "read_member_exactly",
           "check_unique_members", "open_member"]

DEFAULT_MAX_POINTS = 100_000_000
"""At most this many grid points (10,000 x 10,000) unless SCRATCHLIGHT_MAX_POINTS is set."""
BYTES_PER_POINT = 48
"""Memory (bytes) that reading and preparing one grid point takes at its peak: float64
heights and their filled and levelled copies, the valid mask, nearest-neighbour indices."""


# A caller's own limit (and the name of what sets it) for the reads in its context: the
# studio reads uploads with a lower limit than the command line.
_LIMIT: contextvars.ContextVar = contextvars.ContextVar("scratchlight_point_limit", default=None)


@contextlib.contextmanager
def point_limit(limit: int, setting: str):
    """Within the block (this thread's context), readers accept at most ``limit`` points
    (never more than ``max_points()`` would), and a refusal names ``setting``."""
    token = _LIMIT.set((min(int(limit), max_points()), setting))
    try:
        yield
    finally:
        _LIMIT.reset(token)


def _limit_and_setting() -> tuple[int, str]:
    scoped = _LIMIT.get()
    if scoped is not None:
        return scoped
    return max_points(), "set SCRATCHLIGHT_MAX_POINTS to change it"


def max_points() -> int:
    """The largest grid (in points) a reader accepts: the limit of an enclosing
    ``point_limit``, else SCRATCHLIGHT_MAX_POINTS or the default."""
    scoped = _LIMIT.get()
    if scoped is not None:
        return scoped[0]
    text = os.environ.get("SCRATCHLIGHT_MAX_POINTS", "").strip()
    if not text:
        return DEFAULT_MAX_POINTS
    try:
        value = int(float(text))
    except ValueError:
        raise InputError("SCRATCHLIGHT_MAX_POINTS", f"must be a whole number, got {text!r}") from None
    if value < 9:
        raise InputError("SCRATCHLIGHT_MAX_POINTS", f"must be at least 9, got {text!r}")
    return value


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; binary prefixes up to TiB."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def available_memory() -> int | None:
    """Bytes this process may still allocate (None where it cannot be told): the smaller of
    the memory the system has available and what the address-space limit (``ulimit -v``)
    leaves above the process's present size. Linux's /proc; None elsewhere."""
    import resource

    free = []
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    free.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft != resource.RLIM_INFINITY:
        try:
            with open("/proc/self/status", "rb") as f:
                size = next(int(line.split()[1]) * 1024 for line in f if line.startswith(b"VmSize:"))
            free.append(max(soft - size, 0))
        except (OSError, ValueError, IndexError, StopIteration):
            pass
    return min(free) if free else None


def check_point_count(path: str, nx: int, ny: int, what: str = "grid") -> None:
    """Refuse a declared grid of ``nx`` x ``ny`` points above the point limit, or one that
    would need more memory than this process can still have, before any allocation,
    saying how much memory it would need."""
    n = int(nx) * int(ny)
    limit, setting = _limit_and_setting()
    need = n * BYTES_PER_POINT
    if n > limit:
        raise InputError(path, f"the {what} of {nx} x {ny} = {n:,} points would need about "
                               f"{format_bytes(need)} of memory; the limit is "
                               f"{limit:,} points ({setting})")
    free = available_memory()
    if free is not None and need > free:
        raise InputError(path, f"the {what} of {nx} x {ny} = {n:,} points would need about "
                               f"{format_bytes(need)} of memory; only {format_bytes(free)} "
                               f"is available")


def check_regular_file(path: str) -> None:
    """Refuse anything but an existing regular file (links are followed), naming what it is."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(path, "is a broken symbolic link") from None
        raise InputError(path, "no such file") from None
    except NotADirectoryError:
        raise InputError(path, "no such file (a folder on the path is a file)") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as e:
        raise InputError(path, f"cannot access it ({e.strerror or e})") from None
    mode = st.st_mode
    if stat.S_ISREG(mode):
        if not os.access(path, os.R_OK):
            raise InputError(path, "permission denied (the file is not readable)")
        return
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"))
    kind = next((name for test, name in kinds if test(mode)), "not a regular file")
    raise InputError(path, f"is {kind}, not a height-map file")


def inflate_exactly(path: str, streams, size: int, what: str) -> bytes:
    """Inflate zlib ``streams`` (an iterable of bytes) to exactly ``size`` bytes in all.

    Never holds more than ``size + 1`` inflated bytes: data that would inflate beyond the
    size the header implies (a decompression bomb, a header that understates the grid) and
    data that inflates to less are refused.
    """
    out = bytearray()
    for k, data in enumerate(streams):
        d = zlib.decompressobj()
        try:
            out += d.decompress(data, size + 1 - len(out))
        except zlib.error as e:
            raise InputError(path, f"{what}: compressed stream {k} is corrupt ({e})") from None
        if len(out) > size or d.unconsumed_tail:
            raise InputError(path, f"{what} inflates to more than the {size:,} bytes the "
                                   "header's grid needs")
        if not d.eof:
            raise InputError(path, f"{what}: compressed stream {k} is truncated")
    if len(out) != size:
        raise InputError(path, f"{what} inflates to {len(out):,} bytes; the header's grid "
                               f"needs {size:,}")
    return out


def read_member_exactly(path: str, archive, member: str, size: int, what: str) -> bytearray:
    """Read zip ``member`` of ``archive`` (a ZipFile) that must hold exactly ``size`` bytes.

    The size the archive declares is checked before anything is inflated, and at most
    ``size + 1`` bytes are inflated whatever it declares.
    """
    info = archive.getinfo(member)
    if info.file_size != size:
        how = "truncated" if info.file_size < size else "too long"
        raise InputError(path, f"{what} {member!r} is {how}: it holds {info.file_size:,} bytes; "
                               f"the header's grid needs exactly {size:,}")
    out = bytearray(size)
    view = memoryview(out)
    got = 0
    with open_member(path, archive, info, what) as f:
        while got < size:
            chunk = f.read(min(size - got, 1 << 24))
            if not chunk:
                break
            view[got:got + len(chunk)] = chunk
            got += len(chunk)
        extra = f.read(1) if got == size else b""
    if got != size or extra:
        raise InputError(path, f"{what} {member!r} does not inflate to the {size:,} bytes "
                               "the archive declares (damaged archive)")
    return out


def check_unique_members(path: str, archive) -> None:
    """Refuse an archive in which two members share a name: which one a reader takes would
    be a guess (zipfile silently takes the last)."""
    counts = collections.Counter(archive.namelist())
    twice = sorted(name for name, k in counts.items() if k > 1)
    if twice:
        raise InputError(path, f"the archive holds {counts[twice[0]]} members named "
                               f"{twice[0]!r}; which one is meant is ambiguous")


def open_member(path: str, archive, info, what: str):
    """A readable file of zip member ``info`` that never inflates past the size the archive
    declares for it.

    zipfile inflates stored and deflate members in steps bounded by each read; its bzip2
    and LZMA decoders are not (one small chunk may expand to gigabytes), so those members
    are decoded here with an output limit of the declared size + 1 byte. Other methods
    and encrypted members are refused.
    """
    if info.flag_bits & 0x1:
        raise InputError(path, f"{what} {info.filename!r} is encrypted")
    if info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return archive.open(info)
    if info.compress_type not in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        raise InputError(path, f"{what} {info.filename!r} uses zip compression method "
                               f"{info.compress_type}; stored, deflate, bzip2 and LZMA are read")
    size = info.file_size
    largest = max_points() * 16 + (1 << 20)  # complex128 heights of the largest grid
    if size > largest:
        raise InputError(path, f"{what} {info.filename!r} declares {size:,} bytes, more than "
                               f"a grid within the point limit holds ({largest:,})")
    if info.compress_size > size + (1 << 20):
        raise InputError(path, f"{what} {info.filename!r}: {info.compress_size:,} compressed "
                               f"bytes for {size:,} declared (damaged archive)")
    fp = archive.fp
    fp.seek(info.header_offset)
    local = fp.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise InputError(path, f"{what} {info.filename!r}: damaged local header")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    fp.seek(info.header_offset + 30 + name_len + extra_len)
    raw = fp.read(info.compress_size)
    try:
        if info.compress_type == zipfile.ZIP_BZIP2:
            d = bz2.BZ2Decompressor()
        else:  # zip's LZMA: 2 bytes version, 2 bytes properties size, properties, LZMA1
            (psize,) = struct.unpack("<H", raw[2:4])
            filters = [lzma._decode_filter_properties(lzma.FILTER_LZMA1, raw[4:4 + psize])]
            d = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)
            raw = raw[4 + psize:]
    except (ValueError, lzma.LZMAError, struct.error) as e:
        raise InputError(path, f"{what} {info.filename!r} is corrupt ({e})") from None
    return io.BufferedReader(_BoundedInflater(path, f"{what} {info.filename!r}", raw, d, size))


class _BoundedInflater(io.RawIOBase):
    """A bz2/lzma decompressor read as a file, inflating only what each read asks for: it
    delivers exactly the ``size`` bytes the archive declares, and refuses a stream that
    ends before them or goes on after them (one byte past them is all it ever inflates)."""

    def __init__(self, path: str, what: str, raw: bytes, decompressor, size: int):
        super().__init__()
        self._path, self._what = path, what
        self._raw, self._d, self._left = raw, decompressor, size + 1
        self._pos = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def readinto(self, b) -> int:
        n = min(len(b), self._left - 1)
        if n <= 0:
            return 0
        try:
            data = self._d.decompress(self._raw, max_length=n)
            self._raw = b""
            short = not data and (self._d.eof or self._d.needs_input)
            more = self._left - 1 == len(data) and not self._d.eof and \
                self._d.decompress(b"", max_length=1)
        except (OSError, EOFError, ValueError, lzma.LZMAError) as e:
            raise InputError(self._path, f"{self._what} is corrupt ({e})") from None
        if short:
            raise InputError(self._path, f"{self._what} inflates to {self._pos:,} bytes, fewer "
                                         "than the archive declares")
        if more:
            raise InputError(self._path, f"{self._what} inflates to more than the "
                                         f"{self._pos + len(data):,} bytes the archive declares")
        b[:len(data)] = data
        self._left -= len(data)
        self._pos += len(data)
        return len(data)
