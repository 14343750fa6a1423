"""The transport matrix T: a linear map from an environment map to an image.

I = T E, T of shape (h*w pixels) x (H*W texels) per RGB channel. T is stored
column-compressed (one column per texel), one index structure shared by the three
channels; a gray map (C = 1) drives all three. ``save`` / ``load`` keep it as an
uncompressed ``.npz`` tagged with ``TRANSPORT_VERSION``.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from ...io.atomic import atomic_path
from ...scene.envmap import as_envmap, rgb_channels

__all__ = ["TRANSPORT_VERSION", "TransportMatrix"]

# Bump when the way T is built changes, so old cache files are no longer used.
TRANSPORT_VERSION = 2


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

        A gray map (C = 1) drives all three channels. The products run in float32.
        """
        E = self._check_envmap(E)
        h, w = self.image_shape
        flat = np.ascontiguousarray(E.reshape(-1, E.shape[2]).T, dtype=np.float32)  # (C, H*W)
        out = np.empty((h * w, 3), np.float32)
        for c, k in enumerate(rgb_channels(E.shape[2])):
            out[:, c] = self.channel(c) @ flat[k]
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

