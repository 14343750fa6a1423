"""Height map -> triangle mesh with true proportions.

Scene units: the surface is centred at the origin and its longer lateral side spans
2 units (from -1 to 1), so ``units_per_metre = 2 / max(width_m, height_m)``. Heights use the
same factor (times an optional exaggeration), so slopes are the real slopes. Normalising
keeps micrometre relief well above Mitsuba's ray epsilon, which a scene in metres would not.
Column j maps to x, row i to y, height to z (up).
"""
from __future__ import annotations

import numpy as np

from ..heightmap import HeightMap

__all__ = ["units_per_metre", "heightmap_vertices", "heightmap_faces", "heightmap_to_mesh",
           "auto_exaggeration", "AUTO_SLOPE_RAD"]

# `auto` exaggeration lifts the 99th-percentile surface slope to this many radians.
AUTO_SLOPE_RAD = 0.15


def units_per_metre(hm: HeightMap) -> float:
    """Scale from metres to scene units (longer lateral side = 2 units)."""
    w, h = hm.size_m
    return 2.0 / max(w, h)


def auto_exaggeration(hm: HeightMap, target_slope: float = AUTO_SLOPE_RAD) -> float:
    """Height factor (>= 1) that makes the 99th percentile of the slope |grad z| equal
    ``target_slope`` radians.

    Finely machined faces have slopes of 1e-4 to 1e-3 rad: their mirror reflections move by
    a fraction of a degree, far less than one texel of a 25 x 50 light (7.2 degrees), so at
    true proportions no environment map can show them. This factor makes the marks'
    reflections sweep across texels while keeping the shape of the relief.
    """
    h = np.asarray(hm.heights, np.float64)
    gy, gx = np.gradient(h, hm.dy, hm.dx)
    p99 = float(np.percentile(np.hypot(gx, gy)[np.isfinite(h)], 99))
    return 1.0 if p99 <= 0 else max(1.0, target_slope / p99)


def heightmap_vertices(hm: HeightMap, exaggeration: float = 1.0) -> np.ndarray:
    """Vertex positions (ny * nx, 3) float32 in scene units, row-major (vertex i*nx + j)."""
    if not np.isfinite(hm.heights).all():
        raise ValueError("height map has missing points; call surface.fill_missing first")
    ny, nx = hm.shape
    s = units_per_metre(hm)
    x = (np.arange(nx) * hm.dx - 0.5 * (nx - 1) * hm.dx) * s
    y = (np.arange(ny) * hm.dy - 0.5 * (ny - 1) * hm.dy) * s
    mean, scale = float(np.mean(hm.heights)), s * exaggeration
    v = np.empty((ny, nx, 3), np.float32)
    v[..., 0] = x[None, :]
    v[..., 1] = y[:, None]
    step = max(1, 2 ** 20 // nx)  # blocks of ~1M points: no grid-sized float64 temporaries
    for r in range(0, ny, step):
        v[r:r + step, :, 2] = (hm.heights[r:r + step] - mean) * scale
    return v.reshape(-1, 3)


def heightmap_faces(ny: int, nx: int) -> np.ndarray:
    """Two counter-clockwise (seen from +z) triangles per grid cell: (2 (ny-1)(nx-1), 3) uint32.

    Written column by column into one array: on a 5000 x 5000 grid, building index grids
    and stacking them took 7.5 s and twice the faces' 600 MB in temporaries."""
    if ny * nx > 2**32:
        raise ValueError(f"a grid of {ny} x {nx} points has more vertices than uint32 indexes")
    a = (np.arange(ny - 1, dtype=np.uint32)[:, None] * np.uint32(nx)
         + np.arange(nx - 1, dtype=np.uint32)[None, :]).ravel()
    f = np.empty((a.size, 2, 3), np.uint32)
    f[:, 0, 0] = a
    f[:, 0, 1] = a + np.uint32(1)
    f[:, 0, 2] = a + np.uint32(nx + 1)
    f[:, 1, 0] = a
    f[:, 1, 1] = f[:, 0, 2]
    f[:, 1, 2] = a + np.uint32(nx)
    return f.reshape(-1, 3)


def heightmap_to_mesh(hm: HeightMap, exaggeration: float = 1.0, name: str = "surface", bsdf=None):
    """Build a ``mitsuba.Mesh`` of the height map with smooth vertex normals."""
    import mitsuba as mi

    ny, nx = hm.shape
    verts = heightmap_vertices(hm, exaggeration)
    faces = heightmap_faces(ny, nx)
    props = mi.Properties()
    if bsdf is not None:
        props["bsdf"] = bsdf
    mesh = mi.Mesh(name, verts.shape[0], faces.shape[0], props=props, has_vertex_normals=True,
                   has_vertex_texcoords=False)
    params = mi.traverse(mesh)
    params["vertex_positions"] = mi.Float(verts.ravel())
    params["faces"] = mi.UInt32(faces.ravel())
    params.update()  # Mitsuba recomputes the vertex normals here: no second pass (2 s at 5000^2)
    return mesh
