"""Writers of small X3P and Digital Surf files with known content, for the reader tests."""
from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"

_X3P_TYPES = {"I": "<i2", "L": "<i4", "F": "<f4", "D": "<f8"}


def x3p_main_xml(nx: int, ny: int, dx: float, dy: float, dtype: str = "D",
                 z_increment: float | None = None, z_offset: float | None = None,
                 namespace: bool = True, valid_link: bool = False,
                 data_list: list[str] | None = None) -> str:
    """main.xml text of an areal X3P with the given grid."""
    cz_extra = ""
    if z_increment is not None:
        cz_extra += f"<Increment>{z_increment!r}</Increment>"
    if z_offset is not None:
        cz_extra += f"<Offset>{z_offset!r}</Offset>"
    if data_list is None:
        valid = "<ValidPointsLink>bindata/valid.bin</ValidPointsLink>" if valid_link else ""
        record3_data = (f"<DataLink><PointDataLink>bindata/data.bin</PointDataLink>{valid}"
                        "</DataLink>")
    else:
        record3_data = "<DataList>" + "".join(f"<Datum>{d}</Datum>" for d in data_list) + \
                       "</DataList>"
    root = ('p:ISO5436_2 xmlns:p="http://www.opengps.eu/2008/ISO5436_2"' if namespace
            else "ISO5436_2")
    end = "p:ISO5436_2" if namespace else "ISO5436_2"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<{root}>
  <Record1>
    <Revision>ISO5436 - 2000</Revision>
    <FeatureType>SUR</FeatureType>
    <Axes>
      <CX><AxisType>I</AxisType><DataType>D</DataType><Increment>{dx!r}</Increment><Offset>0</Offset></CX>
      <CY><AxisType>I</AxisType><DataType>D</DataType><Increment>{dy!r}</Increment><Offset>0</Offset></CY>
      <CZ><AxisType>A</AxisType><DataType>{dtype}</DataType>{cz_extra}</CZ>
    </Axes>
  </Record1>
  <Record3>
    <MatrixDimension><SizeX>{nx}</SizeX><SizeY>{ny}</SizeY><SizeZ>1</SizeZ></MatrixDimension>
    {record3_data}
  </Record3>
</{end}>
"""


def write_x3p(path, values: np.ndarray, dx: float, dy: float, dtype: str = "D",
              z_increment: float | None = None, z_offset: float | None = None,
              valid: np.ndarray | None = None, namespace: bool = True,
              truncate_to: int | None = None, main_xml: str | None = None,
              folder: str = "") -> Path:
    """Write ``values`` (ny, nx) as an X3P; ``valid`` adds a valid.bin bit array.

    ``truncate_to`` keeps only that many bytes of data.bin; ``main_xml`` replaces the XML.
    """
    values = np.asarray(values)
    ny, nx = values.shape
    raw = values.astype(_X3P_TYPES[dtype]).tobytes()
    if truncate_to is not None:
        raw = raw[:truncate_to]
    xml = main_xml if main_xml is not None else x3p_main_xml(
        nx, ny, dx, dy, dtype, z_increment, z_offset, namespace, valid_link=valid is not None)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(folder + "main.xml", xml)
        z.writestr(folder + "bindata/data.bin", raw)
        if valid is not None:
            bits = np.packbits(np.asarray(valid, bool).ravel(), bitorder="little")
            z.writestr(folder + "bindata/valid.bin", bits.tobytes())
    return Path(path)


def sur_header(nx: int, ny: int, dx: float, dy: float, dz: float, unit: str = "um",
               bits: int = 32, zmin: int = 0, zmax: int = 0, special_points: int = 0,
               z_offset: float = 0.0, signature: bytes = b"DIGITAL SURF") -> bytes:
    """The 512-byte header of a Digital Surf surface (layout as in io/sur.py)."""
    u = unit.encode("latin-1").ljust(16)
    fields = (signature, 0, 1, 1, 2, b"", b"", 0, 0, 0, special_points, 0,
              bits, zmin, zmax, nx, ny, nx * ny, dx, dy, dz,
              b"X", b"Y", b"Z", u, u, u, u, u, u, 1.0, 1.0, 1.0,
              0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, b"", 0.0, 0.0, z_offset)
    fmt = "<12s4H30s30s5H8xH4iI3f" + "16s" * 9 + "3f3H12x7Hf10x2H128s3f34x"
    return struct.pack(fmt, *fields)


def write_sur(path, counts: np.ndarray, dx: float, dy: float, dz: float, unit: str = "um",
              special_points: int = 0, zmin: int | None = None, z_offset: float = 0.0,
              truncate_to: int | None = None) -> Path:
    """Write integer ``counts`` (ny, nx) as an int32 .sur file."""
    counts = np.asarray(counts, np.int32)
    ny, nx = counts.shape
    zmin = int(counts.min()) if zmin is None else zmin
    head = sur_header(nx, ny, dx, dy, dz, unit, 32, zmin, int(counts.max()), special_points,
                      z_offset)
    raw = counts.astype("<i4").tobytes()
    if truncate_to is not None:
        raw = raw[:truncate_to]
    Path(path).write_bytes(head + raw)
    return Path(path)
