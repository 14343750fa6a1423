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
Monte Carlo noise. The noise differs where the reflection lobe is weak: BSDF samples rarely
reach those texels, so T's column for them is 3-10 x less precise than Mitsuba's estimate
at the same spp. Where that decided an optimization's result, a few Mitsuba iterations at the
start of the run fix it (``warmup``); E-independent emitter samples (uniform, combined by
MIS) helped only in part, at 2.8 x the non-zeros, and were not adopted (benchmarks/README.md,
the synthetic map with the L2 term on the image).

Work is split into chunks of pixels (all their samples at once): each chunk's paths are
traced by Dr.Jit (one kernel) and summed into rows of T by a threaded numba kernel
(``rows``). Memory of the build is bounded by the chunk size. T is stored as
it comes out, row-compressed (one row per pixel), one structure shared by the three
channels. The sums run in a fixed order, so a rebuild with the same seed is bit-identical.
"""
from __future__ import annotations

import hashlib
import time

import numpy as np

from ...scene.build import Scene
from ...scene.envmap import bilinear_texels_drjit
from .matrix import TransportMatrix

__all__ = ["build_transport", "pilot_nonzeros", "build_peak_extra_bytes"]

# Chunking of the build: at most this many paths traced at once.
_MAX_PATHS = 1 << 21


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
                 height: int, max_depth: int, env_shape: tuple[int, int], to_local: np.ndarray):
    """Trace ``spp`` paths for each of the pixels p0 .. p0+n_pixels-1 (one Dr.Jit kernel).

    Returns NumPy arrays of the n = n_pixels * spp paths, a pixel's paths consecutive (the
    arguments of ``rows.paths_to_rows``): escaped (n,) bool, thr (3, n) float32 throughput
    / spp, t00 (n,) uint32 top-left texel of the bilinear lookup, di, dj (n,) int32 offsets
    to the lower and right corners, fu, fv (n,) float32 bilinear fractions.
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
    t00 = i0 * W + j0
    di, dj = mi.Int32((i1 - i0) * W), mi.Int32(j1) - mi.Int32(j0)
    dr.eval(escaped, thr, t00, di, dj, fu, fv)  # one kernel with the path tracing
    return (np.array(escaped, dtype=bool), np.array(thr, dtype=np.float32).reshape(3, -1),
            np.array(t00, dtype=np.uint32), np.array(di, dtype=np.int32),
            np.array(dj, dtype=np.int32), np.array(fu, dtype=np.float32),
            np.array(fv, dtype=np.float32))


def _sum_scipy(escaped, thr, t00, di, dj, fu, fv, spp: int, n_texels: int):
    """``rows.paths_to_rows`` by another route (scipy's COO -> CSR sum, float64): the
    reference its tests compare against (``build_transport(method='scipy')``)."""
    import scipy.sparse as sp

    n_pixels = escaped.size // spp
    rows = (np.arange(escaped.size) // spp)[escaped]
    t00 = t00.astype(np.int64)[escaped]
    di, dj = di.astype(np.int64)[escaped], dj.astype(np.int64)[escaped]
    u, v = fu.astype(np.float64)[escaped], fv.astype(np.float64)[escaped]
    t = thr.astype(np.float64)[:, escaped]
    cols = np.concatenate([t00, t00 + dj, t00 + di, t00 + di + dj])
    wts = np.concatenate([(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v])
    rows = np.tile(rows, 4)
    mats = [sp.coo_matrix((np.tile(t[c], 4) * wts, (rows, cols)),
                          shape=(n_pixels, n_texels)).tocsr() for c in range(3)]
    # coo -> csr sums duplicates and keeps explicit zeros: one structure for all channels
    for m in mats:
        m.sort_indices()
    m0 = mats[0]
    r = np.repeat(np.arange(n_pixels, dtype=np.int64), np.diff(m0.indptr))
    values = np.stack([m.data for m in mats])
    keep = values.sum(axis=0) > 0
    return (np.bincount(r[keep], minlength=n_pixels), m0.indices[keep].astype(np.int32),
            values[:, keep].astype(np.float32))


def build_transport(scene: Scene, spp: int = 64, seed: int = 0, progress: bool | str = False,
                    method: str = "numba", pixels_per_chunk: int | None = None
                    ) -> TransportMatrix:
    """Estimate T for ``scene`` with ``spp`` BSDF-sampled paths per pixel (module doc).

    Work proceeds in chunks of whole pixels, at most ~2M paths each (~70 bytes per path of
    extra memory, see ``build_peak_extra_bytes``). ``method``: 'numba' sums a chunk's paths
    into rows with ``rows.paths_to_rows`` (the default); 'scipy' with scipy's sparse sum (a
    slower, independent reference for tests). ``pixels_per_chunk`` overrides the chunk size
    (tests). ``progress``: True or a label for a progress bar, or a callable
    ``progress(done, total)`` called after each chunk (an interactive page's progress bar).
    """
    import mitsuba as mi  # noqa: F401  (the variant is set by build_scene)
    from tqdm.auto import tqdm

    spp = int(spp)
    if spp < 1:
        raise ValueError(f"spp must be at least 1, got {spp}")
    if method not in ("numba", "scipy"):
        raise ValueError(f"method must be numba or scipy, got {method!r}")
    t0 = time.perf_counter()
    mscene = scene.mitsuba_scene
    h, w = scene.image_shape
    H, W = (int(v) for v in scene.envmap_shape)
    to_local = _emitter_to_local(mscene)
    n_pix = h * w
    per_chunk = min(int(pixels_per_chunk or max(1, _MAX_PATHS // spp)), n_pix)
    starts = list(range(0, n_pix, per_chunk))
    counts, indices, values = [], [], []
    from .rows import paths_to_rows  # numba: imported when a build needs it

    summed = paths_to_rows if method == "numba" else _sum_scipy
    report = progress if callable(progress) else None
    bar = tqdm(starts, desc=progress if isinstance(progress, str) else "transport",
               unit="chunk", disable=not progress or report is not None, leave=False)
    for k, p0 in enumerate(bar):
        m = min(per_chunk, n_pix - p0)
        paths = _trace_chunk(mscene, p0, m, spp, _chunk_seed(seed, k), w, h,
                             int(scene.spec.max_depth), (H, W), to_local)
        c, t, v = summed(*paths, spp=spp, n_texels=H * W)
        del paths
        counts.append(c)
        indices.append(t)
        values.append(v)
        if report is not None:
            report(k + 1, len(starts))
    bar.close()
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
    of ``nnz`` non-zeros: while the last chunk is summed, the rows so far (int32 texels and
    float32 weights: 16 bytes per non-zero) and the chunk's paths (~33 bytes each on the
    Dr.Jit side and as many in NumPy, with room for the tracing's temporaries: 100); then
    the join of the chunks (the pieces and their joined copy: ~32 bytes per non-zero)."""
    chunk = min(_MAX_PATHS, max(1, _MAX_PATHS // max(1, int(spp))) * max(1, int(spp))) * 100
    return int(max(16 * int(nnz) + chunk, 32 * int(nnz)))


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
    to_local = _emitter_to_local(mscene)
    from .rows import paths_to_rows

    nnz = 0
    for k, r in enumerate(picked):
        paths = _trace_chunk(mscene, int(r) * w, w, spp, _chunk_seed(seed, 1_000_000 + k), w,
                             h, int(scene.spec.max_depth), (H, W), to_local)
        nnz += int(paths_to_rows(*paths, spp=spp, n_texels=H * W, count_only=True).sum())
    pixels = int(picked.size) * w
    return nnz / pixels, pixels, time.perf_counter() - t0
