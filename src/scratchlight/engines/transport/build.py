"""Building a transport matrix by path tracing the scene.

Building T (``build_transport``) traces the very Mitsuba scene the AD engine renders (mesh,
conductor BSDF, camera, box pixel filter, ``spec.max_depth``): for every pixel, ``spp``
camera rays (``sensor.sample_ray`` with the scene's sampler), at each hit a BSDF sample
(``bsdf.sample``) multiplies the path throughput, for at most ``max_depth`` rays per path
(Mitsuba's convention: 2 = direct light only). A path that escapes adds its RGB throughput,
divided by ``spp``, to the four texels of the bilinear envmap lookup of its direction d,
taken in the emitter's frame (Mitsuba 3.9.1's lookup, checked against ``mi.render``; its
formulas are those of ``scene.envmap``).

Mitsuba's path tracer also samples the emitter (next-event estimation, importance sampling
the map); that changes the noise, not the expectation, so T E and ``mi.render`` agree up to
Monte Carlo noise. Work is split into chunks of pixels (all their samples at once): each
chunk's paths are traced by Dr.Jit (one kernel) and splatted with atomic adds into a
dense (pixels x texels x 3) float32 block, whose touched cells become rows of T. Memory of
the build is bounded by the chunk size. T is stored as it comes out, row-compressed (one row
per pixel), one structure shared by the three channels. Atomic float sums make a rebuild equal
to the last float32 bit only up to summation order.
"""
from __future__ import annotations

import hashlib
import time

import numpy as np

from ...scene.build import Scene
from ...scene.envmap import bilinear_texels_drjit
from .matrix import TransportMatrix

__all__ = ["build_transport", "pilot_nonzeros", "build_peak_extra_bytes"]

# Chunking of the build: at most this many paths traced at once, and at most this many
# (pixel, texel) cells of the dense accumulator (x (3 channels + owner) x 4 bytes = 268 MB).
_MAX_PATHS = 1 << 21
_MAX_CELLS = 1 << 24
# Below this many paths per dense chunk, summing with scipy ('sparse') is faster.
_MIN_DENSE_PATHS = 1 << 16


def _chunk_seed(seed: int, chunk: int) -> int:
    """A 32-bit sampler seed per (build seed, chunk), all distinct for one build."""
    d = hashlib.blake2b(f"{int(seed)}/{int(chunk)}".encode(), digest_size=4).digest()
    return int.from_bytes(d, "little")


def _emitter_to_local(mscene) -> np.ndarray:
    """(3, 3) rotation from world directions to the environment emitter's frame."""
    emitters = [e for e in mscene.emitters() if e.is_environment()]
    if len(emitters) != 1:
        raise ValueError(f"the scene needs exactly one environment emitter, has {len(emitters)}")
    m = np.array(emitters[0].world_transform().inverse().matrix, dtype=np.float64)
    m = m.reshape(4, 4, -1)[..., 0]
    return m[:3, :3]


def _trace_chunk(mscene, p0: int, n_pixels: int, spp: int, seed: int, width: int,
                 height: int, max_depth: int, env_shape: tuple[int, int], to_local: np.ndarray,
                 dense: bool = True, block: "_DenseBlock | None" = None):
    """Trace ``spp`` paths for pixels p0 .. p0+n_pixels-1; splat them into the dense
    ``block`` (``dense``; one is made if None) or sum them with scipy.

    Returns (cells, values): the flat indices (pixel - p0) * H*W + texel of the non-zero
    cells, increasing, (n,) int64, and their RGB weights (3, n) float32 (already / spp).
    """
    import drjit as dr
    import mitsuba as mi

    H, W = env_shape
    n = n_pixels * spp
    sensor = mscene.sensors()[0]
    sampler = sensor.sampler().clone()
    sampler.seed(dr.opaque(mi.UInt32, seed), n)
    # opaque values keep the compiled kernels identical from chunk to chunk
    local = dr.arange(mi.UInt32, n) // spp
    pixel = local + dr.opaque(mi.UInt32, p0)
    pos = mi.Point2f(mi.Float(pixel % width), mi.Float(pixel // width))
    pos = (pos + sampler.next_2d()) / mi.ScalarVector2f(width, height)
    ray, ray_weight = sensor.sample_ray(0.0, sampler.next_1d(), pos, sampler.next_2d())
    throughput = mi.Spectrum(ray_weight)
    active = dr.full(mi.Bool, True, n)
    escaped = dr.full(mi.Bool, False, n)
    esc_dir = mi.Vector3f(0.0)
    esc_thr = mi.Spectrum(0.0)
    ctx = mi.BSDFContext()
    for depth in range(max_depth):
        si = mscene.ray_intersect(ray, active)
        esc = active & ~si.is_valid()
        esc_dir = dr.select(esc, ray.d, esc_dir)
        esc_thr = dr.select(esc, throughput, esc_thr)
        escaped |= esc
        active &= si.is_valid()
        if depth + 1 >= max_depth:
            break
        bsdf = si.bsdf(ray)
        bs, weight = bsdf.sample(ctx, si, sampler.next_1d(active), sampler.next_2d(active), active)
        throughput *= weight
        active &= (bs.pdf > 0) & dr.any(weight > 0)
        ray = si.spawn_ray(si.to_world(bs.wo))
    # envmap lookup in the emitter frame (Mitsuba 3.9.1's convention, see scene.envmap)
    R = [[float(v) for v in row] for row in to_local]  # Python floats: a NumPy scalar
    # times a Dr.Jit array would turn the array into NumPy (evaluating the paths early)
    d = mi.Vector3f(R[0][0] * esc_dir.x + R[0][1] * esc_dir.y + R[0][2] * esc_dir.z,
                    R[1][0] * esc_dir.x + R[1][1] * esc_dir.y + R[1][2] * esc_dir.z,
                    R[2][0] * esc_dir.x + R[2][1] * esc_dir.y + R[2][2] * esc_dir.z)
    i0, i1, j0, j1, fu, fv = bilinear_texels_drjit(d, H, W)
    thr = esc_thr / spp
    corners = ((i0, j0, (1 - fu) * (1 - fv)), (i0, j1, fu * (1 - fv)),
               (i1, j0, (1 - fu) * fv), (i1, j1, fu * fv))
    if not dense:
        return _sum_sparse(local, escaped, thr, corners, n_pixels, H, W)
    if block is None or block.cells < n_pixels * H * W:
        block = _DenseBlock(n_pixels * H * W)
    # materialise the per-path values once (one kernel with the path tracing)
    cell00 = local * (H * W) + i0 * W + j0
    di, dj = (i1 - i0) * W, mi.Int32(j1) - mi.Int32(j0)
    dr.eval(escaped, thr, cell00, di, dj, fu, fv)
    return block.splat(escaped, thr, cell00, di, dj, fu, fv)


class _DenseBlock:
    """A dense float32 (pixel, texel) accumulator per RGB channel, reused by every chunk.

    ``splat`` adds the four bilinear entries of every path (atomic adds), finds the cells
    touched (each cell elects one entry: all entries write their number into ``owner``, the
    one whose number stays represents the cell), reads those cells out and zeroes them
    again. Its work is proportional to the number of entries, not to the size of the block.
    """

    def __init__(self, cells: int):
        import drjit as dr
        import mitsuba as mi

        self.cells = int(cells)
        self.acc = [dr.zeros(mi.Float, self.cells) for _ in range(3)]
        self.owner = dr.zeros(mi.UInt32, self.cells)
        dr.eval(self.owner, *self.acc)

    def splat(self, active, thr, cell00, di, dj, fu, fv):
        """Add the bilinear footprints of n paths: path p (where ``active``) adds
        ``thr[c][p]`` times the weights (1-fu)(1-fv), fu(1-fv), (1-fu)fv, fu fv to the cells
        cell00, cell00+dj, cell00+di, cell00+di+dj (all (n,) Dr.Jit arrays).

        Returns (cells, values): the touched cells with a weight > 0 in increasing order,
        (m,) int64, and their RGB sums (3, m) float32; the block is zero again afterwards.
        """
        import drjit as dr
        import mitsuba as mi

        n = dr.width(active)
        e = dr.arange(mi.UInt32, 4 * n)  # entry e: corner e // n of path e % n
        p, k = e % n, e // n
        right, down = (k & 1) == 1, k >= 2
        act = dr.gather(mi.Bool, active, p)
        u, v = dr.gather(mi.Float, fu, p), dr.gather(mi.Float, fv, p)
        w = dr.select(right, u, 1 - u) * dr.select(down, v, 1 - v)
        cell = mi.UInt32(mi.Int32(dr.gather(mi.UInt32, cell00, p))
                         + dr.select(right, dr.gather(mi.Int32, dj, p), 0)
                         + dr.select(down, mi.Int32(dr.gather(mi.UInt32, di, p)), 0))
        dr.scatter(self.owner, e, cell, act)
        for c in range(3):
            dr.scatter_reduce(dr.ReduceOp.Add, self.acc[c], dr.gather(mi.Float, thr[c], p) * w,
                              cell, act, mode=dr.ReduceMode.Local)
        dr.eval(cell, act, self.owner, *self.acc)
        elected = act & (dr.gather(mi.UInt32, self.owner, cell, act) == e)
        sel = dr.gather(mi.UInt32, cell, dr.compress(elected))
        got = [dr.gather(mi.Float, a, sel) for a in self.acc]
        dr.eval(sel, got)
        cells = np.array(sel, dtype=np.int64)
        values = np.stack([np.array(g, dtype=np.float32) for g in got])
        for a in self.acc:
            dr.scatter(a, 0.0, sel)
        dr.eval(*self.acc)
        order = np.argsort(cells)
        cells, values = cells[order], values[:, order]
        keep = values.sum(axis=0) > 0  # weights are >= 0
        return cells[keep], values[:, keep]


def _sum_sparse(local, escaped, thr, corners, n_pixels: int, H: int, W: int):
    """The same result as the dense block of ``_trace_chunk``, summed by scipy instead:
    for maps with so many texels that a dense (pixels x texels) block would hold only a
    few pixels. Slower per path, memory ~100 bytes per path."""
    import drjit as dr
    import scipy.sparse as sp

    dr.eval(local, escaped, thr, corners)  # one kernel, before the conversions below
    esc = np.array(escaped, dtype=bool)
    rows = np.array(local, dtype=np.int64)[esc]
    t = np.array(thr, dtype=np.float64).reshape(3, -1)[:, esc]
    cols, wts = [], []
    for ii, jj, wt in corners:
        cols.append(np.array(ii, dtype=np.int64)[esc] * W + np.array(jj, dtype=np.int64)[esc])
        wts.append(np.array(wt, dtype=np.float64)[esc])
    rows = np.tile(rows, 4)
    cols = np.concatenate(cols)
    wts = np.concatenate(wts)
    mats = [sp.coo_matrix((np.tile(t[c], 4) * wts, (rows, cols)),
                          shape=(n_pixels, H * W)).tocsr() for c in range(3)]
    # coo -> csr sums duplicates and keeps explicit zeros: one structure for all channels
    m0 = mats[0]
    m0.sort_indices()
    for m in mats[1:]:
        m.sort_indices()
    r = np.repeat(np.arange(n_pixels, dtype=np.int64), np.diff(m0.indptr))
    cells = r * (H * W) + m0.indices
    values = np.stack([m.data for m in mats]).astype(np.float32)
    keep = values.sum(axis=0) > 0
    return cells[keep], values[:, keep]


def build_transport(scene: Scene, spp: int = 64, seed: int = 0, progress: bool | str = False,
                    method: str = "auto", pixels_per_chunk: int | None = None
                    ) -> TransportMatrix:
    """Estimate T for ``scene`` with ``spp`` BSDF-sampled paths per pixel (module doc).

    Work proceeds in chunks of whole pixels, at most ~2M paths each. ``method`` 'dense'
    sums a chunk's paths by atomic adds into a dense (pixels x texels x 3) float32 block of
    at most ~16M cells, reused by every chunk (fast; the default when that block holds
    >= 64k paths, as for the paper's 25 x 50 maps); 'sparse' sums them with scipy (for
    maps with many texels). Extra memory of the build: up to ~270 MB for the block (or
    ~100 bytes per path of a chunk with 'sparse') plus a copy of T while the chunks are
    joined.
    ``pixels_per_chunk`` overrides the chunk size (tests).
    ``progress``: True or a label for a progress bar, or a callable ``progress(done, total)``
    called after each chunk (an interactive page's progress bar).
    """
    import mitsuba as mi  # noqa: F401  (the variant is set by build_scene)
    from tqdm.auto import tqdm

    spp = int(spp)
    if spp < 1:
        raise ValueError(f"spp must be at least 1, got {spp}")
    t0 = time.perf_counter()
    mscene = scene.mitsuba_scene
    h, w = scene.image_shape
    H, W = (int(v) for v in scene.envmap_shape)
    HW = H * W
    to_local = _emitter_to_local(mscene)
    n_pix = h * w
    if method not in ("auto", "dense", "sparse"):
        raise ValueError(f"method must be auto, dense or sparse, got {method!r}")
    dense_pixels = max(1, _MAX_CELLS // HW)
    if method == "auto":
        method = "dense" if dense_pixels * spp >= _MIN_DENSE_PATHS else "sparse"
    per_chunk = max(1, _MAX_PATHS // spp)
    if method == "dense":
        per_chunk = min(per_chunk, dense_pixels)
    per_chunk = min(int(pixels_per_chunk or per_chunk), n_pix)
    starts = list(range(0, n_pix, per_chunk))
    counts, indices, values = [], [], []
    block = _DenseBlock(per_chunk * HW) if method == "dense" else None
    report = progress if callable(progress) else None
    bar = tqdm(starts, desc=progress if isinstance(progress, str) else "transport",
               unit="chunk", disable=not progress or report is not None, leave=False)
    for k, p0 in enumerate(bar):
        m = min(per_chunk, n_pix - p0)
        cells, vals = _trace_chunk(mscene, p0, m, spp, _chunk_seed(seed, k), w, h,
                                   int(scene.spec.max_depth), (H, W), to_local,
                                   dense=method == "dense", block=block)
        rows = cells // HW
        counts.append(np.bincount(rows, minlength=m))
        indices.append((cells - rows * HW).astype(np.int32))
        values.append(vals)
        if report is not None:
            report(k + 1, len(starts))
    bar.close()
    del block
    counts = np.concatenate(counts)
    texels = np.concatenate(indices)
    del indices
    data = np.concatenate(values, axis=1)
    del values
    T = TransportMatrix.from_rows(counts, texels, data, image_shape=(h, w),
                                  envmap_shape=(H, W), spp=spp, seed=int(seed))
    T.build_seconds = time.perf_counter() - t0
    return T


def build_peak_extra_bytes(nnz: int, envmap_shape: tuple[int, int], spp: int) -> int:
    """Bytes ``build_transport`` needs beyond the finished matrix, at its peak, for a matrix
    of ``nnz`` non-zeros: the dense block of a chunk (or the scipy sum's ~100 bytes per
    path), then the join of the chunks (the pieces, int32 texels and float32 weights, and
    their joined copies: ~32 bytes per non-zero)."""
    H, W = (int(v) for v in envmap_shape)
    dense_pixels = max(1, _MAX_CELLS // (H * W))
    if dense_pixels * spp >= _MIN_DENSE_PATHS:
        chunk = min(_MAX_PATHS // max(1, spp), dense_pixels) * H * W * 16  # 3 floats + owner
    else:
        chunk = _MAX_PATHS * 100
    return int(max(chunk, 32 * int(nnz)))


def pilot_nonzeros(scene: Scene, spp: int = 64, seed: int = 0, rows: int | None = None
                   ) -> tuple[float, int, float]:
    """Estimate the non-zeros of T without building it: trace ``rows`` whole image rows,
    evenly spread over the image (default ~3 %, at least 8), exactly as the build would.

    The non-zeros of a pixel do not depend on the other pixels, so the mean over the
    sampled rows times h*w is an unbiased estimate of T's nnz.

    Returns (non-zeros per pixel, pixels traced, seconds).
    """
    t0 = time.perf_counter()
    mscene = scene.mitsuba_scene
    h, w = scene.image_shape
    H, W = (int(v) for v in scene.envmap_shape)
    spp = int(spp)
    if rows is None:
        rows = max(8, int(round(0.03 * h)))
    rows = max(1, min(int(rows), h))
    picked = np.unique(((np.arange(rows) + 0.5) * h / rows).astype(np.int64))
    dense = w * H * W <= _MAX_CELLS
    block = _DenseBlock(w * H * W) if dense else None
    to_local = _emitter_to_local(mscene)
    nnz = 0
    for k, r in enumerate(picked):
        cells, _ = _trace_chunk(mscene, int(r) * w, w, spp, _chunk_seed(seed, 1_000_000 + k), w,
                                h, int(scene.spec.max_depth), (H, W), to_local,
                                dense=dense, block=block)
        nnz += int(cells.size)
    pixels = int(picked.size) * w
    return nnz / pixels, pixels, time.perf_counter() - t0
