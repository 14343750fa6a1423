"""The precomputed light-transport engine: the image is a sparse matrix times the light.

With a sampling strategy that does not depend on the light, the render is linear in the
environment map E:  I = T E,  T of shape (h*w pixels) x (H*W texels) per RGB channel.

Building T (``build_transport``) traces the very Mitsuba scene the AD engine renders (mesh,
conductor BSDF, camera, box pixel filter, ``spec.max_depth``): for every pixel, ``spp``
camera rays (``sensor.sample_ray`` with the scene's sampler), at each hit a BSDF sample
(``bsdf.sample``) multiplies the path throughput, for at most ``max_depth`` rays per path
(Mitsuba's convention: 2 = direct light only). A path that escapes adds its RGB throughput,
divided by ``spp``, to the four texels of the bilinear envmap lookup of its direction d,
taken in the emitter's frame (Mitsuba 3.9.1's lookup, checked against ``mi.render``)::

    u = frac(atan2(d.x, -d.z) / 2 pi - 0.5 / W) * W      columns wrap around
    v = acos(d.y) / pi * (H - 1)                          rows clamp

Mitsuba's path tracer also samples the emitter (next-event estimation, importance sampling
the map); that changes the noise, not the expectation, so T E and ``mi.render`` agree up to
Monte Carlo noise. Work is split into chunks of pixels (all their samples at once): each
chunk's paths are traced by Dr.Jit (one kernel) and splatted with atomic adds into a
dense (pixels x texels x 3) float32 block, whose touched cells become rows of T. Memory of
the build is bounded by the chunk size. T is then stored column-compressed (one column per
texel), one structure shared by the three channels. Atomic float sums make a rebuild equal
to the last float32 bit only up to summation order.

T is cached on disk (``.npz``) under a key hashing everything it depends on: the height
map (bytes, spacing), the scene spec, the envmap shape, spp, seed, the engine version, the
Mitsuba version and variant. The cache folder is ``cache_dir``, else
``$SCRATCHLIGHT_CACHE/transport``, else ``~/.cache/scratchlight/transport``.

Afterwards a render is three sparse matrix-vector products (milliseconds) and its
gradient is exact: dL/dE = T^T dL/dI. Unlike the AD engine's, the image is deterministic:
its Monte Carlo noise is frozen into T at build time. ``TransportEngine`` therefore holds
two independent matrices, one for the primal image and one for the gradient (see there).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import time

import numpy as np

from ...io.atomic import atomic_path
from ...scene.build import Scene

__all__ = ["TRANSPORT_VERSION", "TransportMatrix", "TransportEngine", "build_transport",
           "transport_key", "default_cache_dir", "load_or_build_transport", "half_seed"]

# Bump when the way T is built changes, so old cache files are no longer used.
TRANSPORT_VERSION = 2

# Chunking of the build: at most this many paths traced at once, and at most this many
# (pixel, texel) cells of the dense accumulator (x (3 channels + owner) x 4 bytes = 268 MB).
_MAX_PATHS = 1 << 21
_MAX_CELLS = 1 << 24
# Below this many paths per dense chunk, summing with scipy ('sparse') is faster.
_MIN_DENSE_PATHS = 1 << 16


def default_cache_dir() -> str:
    """``$SCRATCHLIGHT_CACHE/transport`` if that variable is set, else
    ``~/.cache/scratchlight/transport``."""
    root = os.environ.get("SCRATCHLIGHT_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "scratchlight")
    return os.path.join(root, "transport")


@dataclasses.dataclass
class TransportMatrix:
    """A transport matrix T: image (h, w, 3) = T applied to an envmap (H, W, 1|3).

    Stored column-compressed (CSC: one column per texel), one structure shared by the
    three RGB channels. Both products then run over long columns: T E scatters each
    texel's column into the image, T^T G gathers it (with ~10-40 non-zeros per pixel row, a
    row-compressed T E would spend its time on row overheads; measured 2x slower).

    Attributes:
        indptr: (H*W + 1,) int32 (int64 above 2**31 non-zeros); column t = texel i*W + j.
        indices: (nnz,) same dtype, pixel index (row-major, y*w + x) of each non-zero,
            increasing within a column.
        data: (3, nnz) float32, the R, G, B weights (radiance per unit texel radiance).
        image_shape: (h, w) pixels.
        envmap_shape: (H, W) texels.
        spp: camera paths per pixel used to estimate T.
        seed: seed of the build.
        key: cache key of the scene it belongs to ('' if unknown).
        build_seconds: wall time of the build (0 when loaded from the cache).
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    image_shape: tuple[int, int]
    envmap_shape: tuple[int, int]
    spp: int
    seed: int = 0
    key: str = ""
    build_seconds: float = 0.0

    def __post_init__(self):
        self.image_shape = tuple(int(v) for v in self.image_shape)
        self.envmap_shape = tuple(int(v) for v in self.envmap_shape)
        # C order matters: a strided channel row makes every product ~6x slower
        self.data = np.ascontiguousarray(self.data, dtype=np.float32)
        self.indices = np.ascontiguousarray(self.indices)
        self.indptr = np.ascontiguousarray(self.indptr, dtype=self.indices.dtype)
        self._csc = None

    @classmethod
    def from_rows(cls, counts: np.ndarray, texels: np.ndarray, data: np.ndarray,
                  **fields) -> "TransportMatrix":
        """Build from row-major pieces: ``counts`` (h*w,) non-zeros per pixel, ``texels``
        (nnz,) their texel indices (pixel-major order), ``data`` (3, nnz) float32."""
        H, W = fields["envmap_shape"]
        nnz = int(texels.size)
        itype = np.int32 if nnz < 2 ** 31 - 1 else np.int64
        # a stable sort by texel keeps pixels increasing within each column; uint16 keys
        # get NumPy's radix sort (linear time)
        keys = texels.astype(np.uint16 if H * W <= 2 ** 16 else np.int64, copy=False)
        order = np.argsort(keys, kind="stable")
        pixels = np.repeat(np.arange(counts.size, dtype=itype), counts)[order]
        indptr = np.zeros(H * W + 1, itype)
        np.cumsum(np.bincount(texels, minlength=H * W), out=indptr[1:])
        data = np.stack([d[order] for d in data])  # C order (data[:, order] is not)
        return cls(indptr=indptr, indices=pixels, data=data, **fields)

    # -- size ---------------------------------------------------------------------------
    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    @property
    def nbytes(self) -> int:
        """Bytes of the stored arrays (index structure + three channels of weights)."""
        return int(self.indptr.nbytes + self.indices.nbytes + self.data.nbytes)

    @property
    def bytes_per_pixel(self) -> float:
        return self.nbytes / (self.image_shape[0] * self.image_shape[1])

    @property
    def nnz_per_pixel(self) -> float:
        return self.nnz / (self.image_shape[0] * self.image_shape[1])

    def channel(self, c: int):
        """scipy.sparse.csc_matrix (h*w, H*W) of channel c; shares memory with T."""
        if self._csc is None:
            import scipy.sparse as sp

            shape = (self.image_shape[0] * self.image_shape[1],
                     self.envmap_shape[0] * self.envmap_shape[1])
            mats = []
            for k in range(3):
                m = sp.csc_matrix(shape, dtype=np.float32)
                # set the arrays directly: the constructor may copy or re-type them
                m.data, m.indices, m.indptr = self.data[k], self.indices, self.indptr
                mats.append(m)
            self._csc = mats
        return self._csc[c]

    # -- products -----------------------------------------------------------------------
    def _check_envmap(self, E: np.ndarray) -> np.ndarray:
        E = np.asarray(E)
        if E.ndim == 2:
            E = E[..., None]
        if E.ndim != 3 or E.shape[:2] != self.envmap_shape or E.shape[2] not in (1, 3):
            raise ValueError(f"envmap of shape {E.shape} does not fit this transport matrix: "
                             f"expected ({self.envmap_shape[0]}, {self.envmap_shape[1]}, 1 or 3)")
        return E

    def apply(self, E: np.ndarray) -> np.ndarray:
        """T E: linear RGB image (h, w, 3) float32 for an envmap E (H, W[, C]), C = 1 or 3.

        A gray map (C = 1) drives all three channels. The products run in float32.
        """
        E = self._check_envmap(E)
        h, w = self.image_shape
        flat = np.ascontiguousarray(E.reshape(-1, E.shape[2]).T, dtype=np.float32)  # (C, H*W)
        out = np.empty((h * w, 3), np.float32)
        for c in range(3):
            out[:, c] = self.channel(c) @ flat[c if flat.shape[0] == 3 else 0]
        return out.reshape(h, w, 3)

    def apply_transpose(self, G: np.ndarray, channels: int = 3) -> np.ndarray:
        """T^T G: (H, W, channels) float64 for an image-space array G (h, w, 3).

        With ``channels`` = 1 (a gray map drives R, G and B) the three channel products are
        summed, which is the gradient with respect to the one gray channel.
        """
        G = np.asarray(G)
        h, w = self.image_shape
        if G.shape != (h, w, 3):
            raise ValueError(f"image gradient of shape {G.shape}, expected ({h}, {w}, 3)")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        g = np.ascontiguousarray(G.reshape(-1, 3).T, dtype=np.float32)
        H, W = self.envmap_shape
        out = np.stack([self.channel(c).T @ g[c] for c in range(3)], axis=1).astype(np.float64)
        if channels == 1:
            out = out.sum(axis=1, keepdims=True)
        return out.reshape(H, W, channels)

    # -- storage ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write an uncompressed .npz (atomically)."""
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, indptr=self.indptr, indices=self.indices, data=self.data,
                         image_shape=np.array(self.image_shape), version=TRANSPORT_VERSION,
                         envmap_shape=np.array(self.envmap_shape), spp=self.spp,
                         seed=self.seed, key=np.array(self.key))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TransportMatrix":
        """Read a matrix written by ``save``; ValueError if it is not one of this version."""
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != TRANSPORT_VERSION:
                raise ValueError(f"{path}: transport matrix of version {int(z['version'])}, "
                                 f"expected {TRANSPORT_VERSION}")
            T = cls(indptr=z["indptr"], indices=z["indices"], data=z["data"],
                    image_shape=tuple(z["image_shape"]), envmap_shape=tuple(z["envmap_shape"]),
                    spp=int(z["spp"]), seed=int(z["seed"]), key=str(z["key"]))
        H, W = T.envmap_shape
        if T.indptr.shape != (H * W + 1,) or T.data.shape != (3, T.indices.size) \
                or int(T.indptr[-1]) != T.indices.size:
            raise ValueError(f"{path}: inconsistent transport matrix arrays")
        return T


# -------------------------------------------------------------------------------------------
# key and cache

def transport_key(scene: Scene, spp: int, seed: int = 0) -> str:
    """Hex digest (24 characters) of everything T depends on.

    Height-map bytes and spacing, the SceneSpec (material, roughness, exaggeration, camera,
    image size, max_depth), envmap shape, spp, seed, TRANSPORT_VERSION, and the Mitsuba
    version and variant (their random sequences differ).
    """
    import mitsuba as mi

    hm = scene.heightmap
    h = hashlib.sha256()
    h.update(f"scratchlight-transport-v{TRANSPORT_VERSION}".encode())
    h.update(np.ascontiguousarray(hm.heights, np.float64).tobytes())
    h.update(np.ascontiguousarray(hm.valid, bool).tobytes())
    h.update(repr((hm.heights.shape, float(hm.dx), float(hm.dy))).encode())
    h.update(repr(scene.spec).encode())
    h.update(repr((tuple(int(v) for v in scene.envmap_shape), int(spp), int(seed))).encode())
    h.update(f"{mi.__version__} {mi.variant()}".encode())
    return h.hexdigest()[:24]


def load_or_build_transport(scene: Scene, spp: int = 64, seed: int = 0,
                            cache_dir: str | os.PathLike | None | bool = None,
                            progress: bool | str = False) -> tuple[TransportMatrix, bool]:
    """T for ``scene`` from the cache, or built (and then cached). Returns (T, from_cache).

    ``cache_dir``: a folder; None for ``default_cache_dir()``; False for no caching. A cache
    file that cannot be read is rebuilt and overwritten.
    """
    key = transport_key(scene, spp, seed)
    path = None
    if cache_dir is not False:
        folder = default_cache_dir() if cache_dir in (None, True) else os.fspath(cache_dir)
        path = os.path.join(folder, f"T-{key}.npz")
        if os.path.isfile(path):
            try:
                T = TransportMatrix.load(path)
                if T.key == key:
                    return T, True
            except (OSError, ValueError, KeyError):
                pass
    T = build_transport(scene, spp=spp, seed=seed, progress=progress)
    T.key = key
    if path is not None:
        T.save(path)
    return T, False


# -------------------------------------------------------------------------------------------
# the build

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
    # envmap lookup in the emitter frame (Mitsuba 3.9.1's convention, see module docstring)
    R = [[float(v) for v in row] for row in to_local]  # Python floats: a NumPy scalar
    # times a Dr.Jit array would turn the array into NumPy (evaluating the paths early)
    d = mi.Vector3f(R[0][0] * esc_dir.x + R[0][1] * esc_dir.y + R[0][2] * esc_dir.z,
                    R[1][0] * esc_dir.x + R[1][1] * esc_dir.y + R[1][2] * esc_dir.z,
                    R[2][0] * esc_dir.x + R[2][1] * esc_dir.y + R[2][2] * esc_dir.z)
    u = dr.atan2(d.x, -d.z) * dr.inv_two_pi - 0.5 / W
    u = (u - dr.floor(u)) * W
    v = dr.safe_acos(d.y) * dr.inv_pi * (H - 1)
    j0f, i0f = dr.floor(u), dr.floor(v)
    fu, fv = u - j0f, v - i0f
    j0 = mi.UInt32(dr.clip(mi.Int32(j0f), 0, W - 1))
    j1 = dr.select(j0 + 1 >= W, 0, j0 + 1)
    i0 = mi.UInt32(dr.clip(mi.Int32(i0f), 0, H - 1))
    i1 = dr.minimum(i0 + 1, H - 1)
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
    """Estimate T for ``scene`` with ``spp`` BSDF-sampled paths per pixel (see module doc).

    Work proceeds in chunks of whole pixels, at most ~2M paths each. ``method`` 'dense'
    sums a chunk's paths by atomic adds into a dense (pixels x texels x 3) float32 block of
    at most ~16M cells, reused by every chunk (fast; the default when that block holds
    >= 64k paths, as for the paper's 25 x 50 maps); 'sparse' sums them with scipy (for
    maps with many texels). Extra memory of the build: up to ~270 MB for the block (or
    ~100 bytes per path of a chunk with 'sparse') plus a copy of T while the chunks are
    joined.
    ``pixels_per_chunk`` overrides the chunk size (tests).
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
    bar = tqdm(starts, desc=progress if isinstance(progress, str) else "transport",
               unit="chunk", disable=not progress, leave=False)
    for k, p0 in enumerate(bar):
        m = min(per_chunk, n_pix - p0)
        cells, vals = _trace_chunk(mscene, p0, m, spp, _chunk_seed(seed, k), w, h,
                                   int(scene.spec.max_depth), (H, W), to_local,
                                   dense=method == "dense", block=block)
        rows = cells // HW
        counts.append(np.bincount(rows, minlength=m))
        indices.append((cells - rows * HW).astype(np.int32))
        values.append(vals)
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


# -------------------------------------------------------------------------------------------
# the engine

def half_seed(seed: int, half: int) -> int:
    """Seed of half ``half`` (0 or 1) of a decorrelated engine with ``seed``."""
    d = hashlib.blake2b(f"{int(seed)}/half{int(half)}".encode(), digest_size=4).digest()
    return int.from_bytes(d, "little")


class TransportEngine:
    """Render and differentiate by precomputed transport matrices (same API as ADEngine).

    ``TransportEngine(scene, spp, seed, cache_dir, progress, decorrelate)`` loads its
    matrices from the cache or builds them at once.

    L_grad rewards Monte Carlo noise (SPEC), and T's noise is frozen: a gradient T^T dL/dI
    taken with the very T whose noise shaped dL/dI would steer the light towards a noisier,
    not a more informative, image. So by default (``decorrelate``) the engine holds two
    independent matrices T_a, T_b of ``spp`` paths per pixel each, as the AD engine renders
    the primal image and the gradient with ``spp`` independent samples each:
    ``render(E, seed, grad=True)`` returns T_a E and ``backprop`` T_b^T dL/dI, the roles
    swapping with the parity of ``seed`` (the loop gives each iteration its own seed).
    Without ``grad`` (and in ``relight``) the image is the mean of both, an estimate with
    2 ``spp`` paths per pixel. ``decorrelate=False`` keeps one T of ``spp`` paths for
    everything (relighting, or studies of the exact gradient of T E).

    Attributes:
        T: the single matrix (decorrelate=False) or None.
        halves: (T_a, T_b), or (T, T) without decorrelation.
        from_cache: whether every matrix came from the cache.
        precompute_seconds: wall time of loading or building them.
    """

    name = "transport"

    def __init__(self, scene: Scene, spp: int = 64, seed: int = 0,
                 cache_dir: str | os.PathLike | None | bool = None,
                 progress: bool | str = False, decorrelate: bool = True):
        self.scene = scene
        self.spp = int(spp)
        self.seed = int(seed)
        self.decorrelate = bool(decorrelate)
        if self.spp < 1:
            raise ValueError(f"spp must be at least 1, got {spp}")
        label = "transport" if progress is True else progress
        t0 = time.perf_counter()
        if self.decorrelate:
            built = [load_or_build_transport(scene, spp=self.spp, seed=half_seed(self.seed, k),
                                             cache_dir=cache_dir,
                                             progress=f"{label} {k + 1}/2" if label else False)
                     for k in (0, 1)]
            self.halves = (built[0][0], built[1][0])
            self.from_cache = built[0][1] and built[1][1]
            self.T = None
        else:
            self.T, self.from_cache = load_or_build_transport(
                scene, spp=self.spp, seed=self.seed, cache_dir=cache_dir, progress=label)
            self.halves = (self.T, self.T)
        self.precompute_seconds = time.perf_counter() - t0
        self._grad = None  # (T used for backprop, channels of E) after render(grad=True)

    @property
    def matrices(self) -> list[TransportMatrix]:
        """The distinct matrices held (one or two)."""
        return [self.T] if self.T is not None else list(self.halves)

    @property
    def nbytes(self) -> int:
        """Bytes of all matrices held."""
        return sum(T.nbytes for T in self.matrices)

    def relight(self, E: np.ndarray) -> np.ndarray:
        """The linear RGB image (h, w, 3) float32 under map E (H, W[, C]), C = 1 or 3, with
        all paths: T E, or (T_a E + T_b E) / 2."""
        if self.T is not None:
            return self.T.apply(E)
        a, b = self.halves
        out = a.apply(E)
        out += b.apply(E)
        out *= 0.5
        return out

    def render(self, E: np.ndarray, seed: int = 0, spp: int | None = None,
               grad: bool = False) -> np.ndarray:
        """Linear RGB image (h, w, 3) float32 of the scene under E (H, W, C), C = 1 or 3.

        ``spp`` is ignored (the matrices are fixed). With ``grad`` the image comes from one
        half (chosen by the parity of ``seed``) and ``backprop`` will use the other; without
        it, ``relight(E)``.
        """
        E = np.asarray(E)
        if not grad:
            self._grad = None
            return self.relight(E)
        k = int(seed) % 2
        primal, other = self.halves[k], self.halves[1 - k]
        image = primal.apply(E)
        self._grad = (other, 1 if E.ndim == 2 else E.shape[2])
        return image

    def render_progressive(self, E: np.ndarray, spp: int, seed: int = 0, chunk_spp: int = 16,
                           progress: bool | str = False) -> np.ndarray:
        """``relight(E)``, for code written for ADEngine.render_progressive (the other
        arguments are ignored)."""
        return self.relight(E)

    def backprop(self, dL_dI: np.ndarray) -> np.ndarray:
        """dL/dE = T^T dL/dI (T the half not used by the last ``render(..., grad=True)``),
        float64 of the shape of that render's E; a gray map gets the sum over the R, G
        and B products."""
        if self._grad is None:
            raise RuntimeError("backprop needs a preceding render(..., grad=True)")
        T, channels = self._grad
        self._grad = None
        return T.apply_transpose(dL_dI, channels)
