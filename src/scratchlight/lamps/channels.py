"""Channel levels chosen from one image per channel: the scratch objective of weighted sums.

A station with C channels (lamps, dome sectors) photographed one channel at a time at full
drive gives the luminance images P_c (the *stack*, (C, h, w), linear). Any setting of the
levels x (C,) in [0, 1] then shows I(x) = sum_c x_c P_c, so the paper's objective and its
gradient need no renderer: one product of the stack with x (BLAS), one image-space pass
(``channel_kernels``) and one product of the stack with the pass's weight image.

The objective of a sequence of K shots X (K, C) (row s: the levels of shot s, each in [0, 1]
and, with a drive budget ``max_total``, summing to at most it):

    L(X)   = 1 / (V(X) + eps / n) + lam * sum_s x_s^T Q x_s
    V(X)   = sum_r (n_r / n) A_r,   A_r = (sum_s a_{s,r}^p)^(1/p),   a_{s,r} = S_{s,r} / n_r

with S_{s,r} the masked L1 gradient sum of shot s's image over region r (a tile of a grid
over the mask's bounding box, n_r its mask pixels, n = sum_r n_r) and A_r a smooth maximum
over the shots (the p-norm, ``sharpness`` p): a region counts in the shot where it is most
visible. Every shot's light pays its own L2 term (a shot left dark costs nothing). For
K = 1, V = S / n and L is exactly ``objectives.scratch_objective`` on I(x) (L_grad =
n / (S + eps)) with the L2 term x^T Q x: Q = F F^T / (H W) for channel
footprints F (C, H, W) (``l2_target='env'``, mean(E^2) of the light sum_c x_c F_c) or
Q = P_M P_M^T / n over the mask's pixels (``'image'``, sum(M Y^2) / n), or 0 (``'none'``).

The search for the best X is ``channels_search``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .channel_kernels import Tiles, blas_threads, region_sums, region_weights

__all__ = ["ChannelProblem", "footprint_gram", "image_gram"]


def footprint_gram(footprints: np.ndarray) -> np.ndarray:
    """Q = F F^T / (H W) (C, C) float64 of footprints (C, H, W): mean(E^2) = x^T Q x for
    the light E = sum_c x_c F_c (``objectives.l2_term``, target 'env')."""
    F = np.asarray(footprints, np.float64).reshape(len(footprints), -1)
    return F @ F.T / F.shape[1]


def image_gram(stack: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Q = P_M P_M^T / n (C, C) float64 over the n pixels of ``mask`` (h, w) bool: sum(M
    Y^2) / n = x^T Q x for the luminance Y = sum_c x_c P_c (target 'image')."""
    P = np.asarray(stack).reshape(len(stack), -1)
    inside = np.asarray(mask, bool).ravel()
    n = int(inside.sum())
    with blas_threads(1):     # one thread: 0.17 s for 64 x 1 Mpx, two waiting ones 1-16 s
        if n > P.shape[1] // 2:   # most pixels count: all of them, less the few that do not
            out = P[:, ~inside]
            G = P @ P.T - out @ out.T
        else:
            Pm = P[:, inside]
            G = Pm @ Pm.T
    return np.asarray(G, np.float64) / max(n, 1)


@dataclasses.dataclass
class ChannelProblem:
    """The objective (module docstring) of a channel stack.

    Attributes:
        stack: (C, h, w) float32 (or float64) linear luminance of each channel at full drive.
        mask: (h, w) bool, the pixels that count; the last row and column never count
            (they have no forward neighbour), as for the object mask of a scene.
        lam: weight of the L2 term (>= 0).
        gram: (C, C) Q of the L2 term (``footprint_gram``, ``image_gram``), or None for none.
        grid: (rows, columns) of the regions' tiles over the mask's bounding box.
        sharpness: p of the smooth maximum over shots (>= 1).
        eps: as in ``objectives.scratch_objective``.
        max_total: at most this sum of levels in each shot (a drive budget), or None.

    After construction ``mask`` is the mask that counts (last row and column cleared),
    ``grid`` the grid actually used (at most one tile per row or column), ``tiles`` its
    ``channel_kernels.Tiles``, ``region_pixels`` (R,) the mask pixels of each tile, ``n``
    their sum, ``Q`` the Gram matrix (zeros for none) and ``evaluations`` the image passes
    so far.
    """

    stack: np.ndarray
    mask: np.ndarray
    lam: float = 30.0
    gram: np.ndarray | None = None
    grid: tuple[int, int] = (1, 1)
    sharpness: float = 8.0
    eps: float = 1e-8
    max_total: float | None = None

    def __post_init__(self):
        C, h, w = self.stack.shape
        M = np.asarray(self.mask, bool).copy()
        if M.shape != (h, w):
            raise ValueError(f"mask {M.shape} does not match the images {(h, w)}")
        M[-1, :] = False
        M[:, -1] = False
        if not M.any():
            raise ValueError("the mask selects no pixel with a forward neighbour")
        rows, cols = np.nonzero(M.any(axis=1))[0], np.nonzero(M.any(axis=0))[0]
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        # the box's rows and the one below (r1 < h: the last row never counts), as a
        # (C, (rows + 1) * w) view of the stack (no copy), and the box rows' mask
        self._rows = self.stack.reshape(C, h * w)[:, r0 * w:(r1 + 1) * w]
        self._box_rows = (r0, r1)
        self._M = M[r0:r1].astype(np.float32)
        tr, tc = (max(1, min(int(g), n)) for g, n in zip(self.grid, (r1 - r0, c1 - c0)))
        self.grid = (tr, tc)
        self.tiles = Tiles.grid(r1 - r0, c0, c1 - c0, tr, tc)
        t = self.tiles
        self.region_pixels = np.array([[self._M[t.row_tile == a, t.starts[b]:t.ends[b]].sum()
                                        for b in range(tc)] for a in range(tr)],
                                      np.float64).ravel()
        self.n = float(M.sum())
        self.mask = M
        self.Q = np.zeros((C, C)) if self.gram is None else np.asarray(self.gram, np.float64)
        self.evaluations = 0

    @property
    def channels(self) -> int:
        return self.stack.shape[0]

    def images(self, X: np.ndarray) -> np.ndarray:
        """(K, h, w) combined luminance images of shots X (K, C), every row."""
        C, h, w = self.stack.shape
        X = np.atleast_2d(np.asarray(X, self.stack.dtype))
        return (X @ self.stack.reshape(C, h * w)).reshape(len(X), h, w)

    def visibility(self, X: np.ndarray, grad: bool = True):
        """V(X) (module docstring), the per-shot-per-region sums S (K, R) and dV/dX (K, C)
        (None without ``grad``) of shots X (K, C): one stack product each way."""
        X = np.atleast_2d(np.asarray(X, np.float64))
        K, w = len(X), self.stack.shape[2]
        Y = (X.astype(self.stack.dtype) @ self._rows).reshape(K, -1, w)
        S = region_sums(Y, self._M, self.tiles)
        keep = self.region_pixels > 0
        a = np.zeros_like(S)
        a[:, keep] = S[:, keep] / self.region_pixels[keep]
        p = float(self.sharpness)
        top = a.max(axis=0)
        safe = np.where(top > 0, top, 1.0)
        A = safe * np.sum((a / safe) ** p, axis=0) ** (1.0 / p) * (top > 0)
        V = float(np.sum(self.region_pixels * A) / self.n)
        self.evaluations += 1
        if not grad:
            return V, S, None
        share = np.where(A > 0, (a / np.where(A > 0, A, 1.0)) ** (p - 1), K ** (1.0 / p - 1.0))
        coef = np.zeros_like(S)
        coef[:, keep] = share[:, keep] / self.n    # dV/dS = (n_r / n) share / n_r
        W = region_weights(Y, self._M, self.tiles, coef, self.stack.dtype)
        G = W.reshape(K, -1) @ self._rows.T
        return V, S, np.asarray(G, np.float64)

    def l2(self, X: np.ndarray) -> float:
        X = np.atleast_2d(np.asarray(X, np.float64))
        return float(np.einsum("sc,cd,sd->", X, self.Q, X))

    def loss_from(self, V: float, X: np.ndarray) -> dict:
        """The terms of L for visibility V at shots X."""
        l_grad = 1.0 / (V + self.eps / self.n)
        l_l2 = self.l2(X)
        return {"loss": l_grad + self.lam * l_l2, "l_grad": l_grad, "l_l2": l_l2,
                "mean_gradient": V}

    def value_and_grad(self, X: np.ndarray) -> tuple[float, np.ndarray]:
        """L(X) and dL/dX (K, C) float64."""
        X = np.atleast_2d(np.asarray(X, np.float64))
        V, _, G = self.visibility(X)
        t = V + self.eps / self.n
        grad = -G / t ** 2 + 2.0 * self.lam * X @ self.Q
        return self.loss_from(V, X)["loss"], grad

    def loss(self, X: np.ndarray) -> float:
        V, _, _ = self.visibility(X, grad=False)
        return self.loss_from(V, np.atleast_2d(X))["loss"]

    def channel_regions(self) -> np.ndarray:
        """a[c, r] = S_{c,r} / n_r (C, R) of every channel alone at full drive (one pass
        over the stack)."""
        C, h, w = self.stack.shape
        S = region_sums(self._rows.reshape(C, -1, w), self._M, self.tiles)
        return S / np.where(self.region_pixels > 0, self.region_pixels, 1.0)

    def single_channels(self, a: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The best level t_c in (0, 1] of every channel alone and its loss, (C,) each: the
        loss 1 / (t a_c) + lam t^2 Q_cc is smallest at t = (2 lam Q_cc a_c)^(-1/3), with
        a_c = S_c / n (``a``: ``channel_regions``, computed when not given)."""
        a = self.channel_regions() if a is None else a
        return self._best_scale(a @ self.region_pixels / self.n, np.diag(self.Q))

    def smooth_max(self, a: np.ndarray) -> float:
        """V of per-shot, per-region mean gradients a (K, R)."""
        p = float(self.sharpness)
        top = a.max(axis=0)
        safe = np.where(top > 0, top, 1.0)
        A = safe * np.sum((a / safe) ** p, axis=0) ** (1.0 / p) * (top > 0)
        return float(np.sum(self.region_pixels * A) / self.n)

    def greedy(self, shots: int, a: np.ndarray, levels: np.ndarray,
               first: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """K shots of one channel each (at its single best level ``levels``, per-region
        visibility ``a`` (C, R)), added shot by shot, each the channel that lowers L of
        the sequence most; ``first``: (levels (C,), per-region visibility (R,)) of a
        given first shot."""
        q = np.diag(self.Q)
        shown = [] if first is None else [np.asarray(first[1])]
        l2 = 0.0 if first is None else float(first[0] @ self.Q @ first[0])
        chosen: list[int] = []
        while len(shown) < shots:
            best, pick = np.inf, 0
            for c in range(self.channels):
                if c in chosen and len(chosen) < self.channels:
                    continue
                V = self.smooth_max(np.array([*shown, levels[c] * a[c]]))
                L = 1.0 / (V + self.eps / self.n) + self.lam * (l2 + levels[c] ** 2 * q[c])
                if L < best:
                    best, pick = L, c
            chosen.append(pick)
            shown.append(levels[pick] * a[pick])
            l2 += levels[pick] ** 2 * q[pick]
        X = np.zeros((shots, self.channels))
        rows = np.arange(shots - len(chosen), shots)
        X[rows, chosen] = levels[chosen]
        if first is not None:
            X[0] = first[0]
        return X

    def _best_scale(self, a, q, channels_on: int = 1):
        a, q = np.asarray(a, np.float64), np.asarray(q, np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(self.lam * q * a > 0, (2 * self.lam * q * a) ** (-1.0 / 3.0), 1.0)
        top = 1.0 if self.max_total is None else min(1.0, self.max_total / channels_on)
        t = np.clip(t, 1e-6, top)
        loss = 1.0 / (t * a + self.eps / self.n) + self.lam * t ** 2 * q
        return t, loss

    def uniform(self) -> tuple[float, float]:
        """The best uniform setting: (level, loss)."""
        ones = np.ones((1, self.channels))
        V, _, _ = self.visibility(ones, grad=False)
        t, loss = self._best_scale([V], [self.l2(ones)], self.channels)
        return float(t[0]), float(loss[0])
