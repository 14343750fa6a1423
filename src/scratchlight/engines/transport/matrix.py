"""The transport matrix T: a linear map from an environment map to an image.

I = T E, T of shape (h*w pixels) x (H*W texels) per RGB channel. T is stored
row-compressed (one row per pixel), one index structure shared by the three channels; a
gray map (C = 1) drives all three. Its products run in the threaded kernels of
``kernels``. ``save`` / ``load`` keep it as an uncompressed ``.npz`` tagged with
``TRANSPORT_VERSION``.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from ...io.atomic import atomic_path
from ...scene.envmap import as_envmap

__all__ = ["TRANSPORT_VERSION", "TransportMatrix", "mean_apply"]

# Bump when the way T is built or stored changes, so old cache files are no longer used
# (3: row-compressed, uint16 texel indices).
TRANSPORT_VERSION = 3


@dataclasses.dataclass
class TransportMatrix:
    """A transport matrix T: image (h, w, 3) = T applied to an envmap (H, W, 1|3).

    Stored row-compressed (CSR: one row per pixel), one structure shared by the three RGB
    channels. T E is then a gather from the tiny map (in L1 cache) with sequential reads of
    T and one write per pixel, split over threads by rows with no atomics; T^T G scatters
    into a tiny per-thread buffer (``kernels``; SciPy's single-threaded column-compressed
    products were 2-4 x slower, ``benchmarks/relight.py``).

    Attributes:
        indptr: (h*w + 1,) int32 (int64 from 2**31 non-zeros on);
            row p = pixel y*w + x holds the non-zeros indptr[p] .. indptr[p+1] - 1.
        indices: (nnz,) uint16 texel index i*W + j of each non-zero (int32 for maps of more
            than 65536 texels): 2 bytes of the 14 T E reads per non-zero.
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
        # C order matters: the kernels read each channel row sequentially
        self.data = np.ascontiguousarray(self.data, dtype=np.float32)
        texels = self.envmap_shape[0] * self.envmap_shape[1]
        indices = np.asarray(self.indices)
        # checked before the cast (which would wrap): the kernels index without bounds
        # checks, so a bad index must not reach them
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= texels):
            raise ValueError(f"transport matrix texel index outside 0 .. {texels - 1}")
        self.indices = np.ascontiguousarray(
            indices, dtype=np.uint16 if texels <= 2 ** 16 else np.int32)
        self.indptr = np.ascontiguousarray(
            self.indptr, dtype=np.int32 if indices.size < 2 ** 31 else np.int64)
        h, w = self.image_shape
        ip, nnz = self.indptr, indices.size
        if ip.shape != (h * w + 1,) or self.data.shape != (3, nnz) or int(ip[0]) != 0 \
                or int(ip[-1]) != nnz or int(np.diff(ip).min(initial=0)) < 0:
            raise ValueError("inconsistent transport matrix arrays: row pointers "
                             f"{ip.shape}, indices {indices.shape}, data {self.data.shape} "
                             f"for a {h} x {w} image")
        self._csr = None

    @classmethod
    def from_rows(cls, counts: np.ndarray, texels: np.ndarray, data: np.ndarray,
                  **fields) -> "TransportMatrix":
        """Build from row-major pieces: ``counts`` (h*w,) non-zeros per pixel, ``texels``
        (nnz,) their texel indices (pixel-major order, as the builder writes them: texels
        increasing within a pixel), ``data`` (3, nnz) float32. This is the stored layout:
        only the row pointers are made."""
        nnz = int(texels.size)
        indptr = np.zeros(counts.size + 1, np.int32 if nnz < 2 ** 31 else np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(indptr=indptr, indices=texels, data=data, **fields)

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
        """scipy.sparse.csr_matrix (h*w, H*W) float32 of channel c (tests, studies; the
        products do not use it). Shares the weights with T; SciPy needs int32 or int64
        indices, so uint16 ones are copied (once, for all three channels)."""
        if self._csr is None:
            import scipy.sparse as sp

            shape = (self.image_shape[0] * self.image_shape[1],
                     self.envmap_shape[0] * self.envmap_shape[1])
            indices = self.indices.astype(self.indptr.dtype)
            mats = []
            for k in range(3):
                m = sp.csr_matrix(shape, dtype=np.float32)
                # set the arrays directly: the constructor may copy or re-type them
                m.data, m.indices, m.indptr = self.data[k], indices, self.indptr
                mats.append(m)
            self._csr = mats
        return self._csr[c]

    def warm_up(self) -> float:
        """Have the products' kernels compiled (or loaded from their disk cache) now rather
        than at the first product: seconds taken, 0 once done in this process
        (``kernels.warm_up``)."""
        from .kernels import warm_up

        return warm_up(self.indptr.dtype, self.indices.dtype)

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, indices, data), the arguments of the ``kernels`` products."""
        return self.indptr, self.indices, self.data

    # -- products -----------------------------------------------------------------------
    def _check_envmap(self, E: np.ndarray) -> np.ndarray:
        try:
            E = as_envmap(E)
            fits = E.shape[:2] == self.envmap_shape
        except ValueError:  # not an envmap at all
            E, fits = np.asarray(E), False
        if not fits:
            raise ValueError(f"envmap of shape {E.shape} does not fit this transport matrix: "
                             f"expected ({self.envmap_shape[0]}, {self.envmap_shape[1]}, 1 or 3)")
        return E

    def apply(self, E: np.ndarray) -> np.ndarray:
        """T E: linear RGB image (h, w, 3) float32 for an envmap E (H, W[, C]), C = 1 or 3.

        A gray map (C = 1) drives all three channels. The sums run in float32.
        """
        return mean_apply([self], E)

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
        from .kernels import transpose_times

        H, W = self.envmap_shape
        out = transpose_times(*self.arrays, G.reshape(-1, 3), H * W)
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
            try:
                return cls(indptr=z["indptr"], indices=z["indices"], data=z["data"],
                           image_shape=tuple(z["image_shape"]),
                           envmap_shape=tuple(z["envmap_shape"]), spp=int(z["spp"]),
                           seed=int(z["seed"]), key=str(z["key"]))
            except ValueError as e:  # arrays that do not fit together
                raise ValueError(f"{path}: {e}") from None


def mean_apply(matrices: list[TransportMatrix], E: np.ndarray) -> np.ndarray:
    """(T_1 E + ... + T_K E) / K, linear RGB (h, w, 3) float32, for matrices of one scene
    (same image and envmap shapes) and a map E (H, W[, C]), C = 1 or 3.

    Two matrices (a decorrelated engine's halves) run as one fused pass that writes the
    image once; more are summed two at a time.
    """
    from .kernels import mean_times

    first = matrices[0]
    if any(T.image_shape != first.image_shape or T.envmap_shape != first.envmap_shape
           for T in matrices):
        raise ValueError("matrices of different image or envmap shapes")
    E = first._check_envmap(E)
    e = E.reshape(-1, E.shape[2])  # (H*W, C), C order
    h, w = first.image_shape
    if len(matrices) <= 2:
        return mean_times([T.arrays for T in matrices], e).reshape(h, w, 3)
    out = np.zeros((h * w, 3), np.float32)
    for k in range(0, len(matrices), 2):
        pair = matrices[k:k + 2]
        out += mean_times([T.arrays for T in pair], e) * np.float32(len(pair) / len(matrices))
    return out.reshape(h, w, 3)

