"""The defect-aimed objective (``objectives.defect_contrast_objective``) of channel images.

For a prior P of where defects are (within the mask M) and one shot x (C,)::

    L(x) = L_dc + lam x^T Q x,   L_dc = 1 / a + b / a^2,
    a = S_P(x) / n_P + eps,      b = S_{M-P}(x) / n_{M-P}

with S_R the L1 gradient sum of I(x) = sum_c x_c P_c over region R (``channels`` module
docstring). Both sums scale with x, so along a ray L_dc(t x) = L_dc(x) / t (eps aside)
and the best level of a single channel or of a uniform setting is in closed form as for
the paper's objective (D / t + lam t^2 q is smallest at t = (D / (2 lam q))^(1/3)). The
gradient is one weight image: d/dY of c_P S_P + c_R S_{M-P} is the kernel's weight image
of the mask c_P 1_P + c_R 1_{M-P}. L_dc is not 1 / (a convex function), so the search
(``channels_search``) takes L-BFGS-B steps within [0, 1] from the two starts instead of
majorize-minimize steps; one shot only.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .channel_kernels import region_sums, region_weights
from .channels import ChannelProblem

__all__ = ["DefectContrastProblem"]


@dataclasses.dataclass
class DefectContrastProblem(ChannelProblem):
    """``ChannelProblem`` with the defect-aimed objective; ``prior``: (h, w) bool, where
    defects are expected, some but not all of the mask."""

    prior: np.ndarray | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.prior is None or np.shape(self.prior) != self.mask.shape:
            raise ValueError("the defect prior must be an (h, w) array like the mask")
        P = np.asarray(self.prior, bool) & self.mask
        rest = self.mask & ~P
        if not P.any() or not rest.any():
            raise ValueError("the defect prior must cover some, but not all, of the mask")
        r0, r1 = self._box_rows
        self._MP = P[r0:r1].astype(np.float32)
        self._MR = rest[r0:r1].astype(np.float32)
        self.n_in, self.n_out = float(P.sum()), float(rest.sum())

    def _sums(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (region_sums(Y, self._MP, self.tiles)[:, 0],
                region_sums(Y, self._MR, self.tiles)[:, 0])

    def _dc(self, s_in, s_out):
        a = np.asarray(s_in) / self.n_in + self.eps
        b = np.asarray(s_out) / self.n_out
        return 1.0 / a + b / a ** 2, a, b

    def evaluate(self, X: np.ndarray, grad: bool = True):
        """(terms of L, dL/dX (1, C) or None) of one shot X (1, C)."""
        X = np.atleast_2d(np.asarray(X, np.float64))
        if len(X) != 1:
            raise ValueError("the defect-aimed objective takes one shot")
        w = self.stack.shape[2]
        Y = (X.astype(self.stack.dtype) @ self._rows).reshape(1, -1, w)
        s_in, s_out = self._sums(Y)
        l_dc, a, b = (float(v[0]) for v in self._dc(s_in, s_out))
        l_l2 = self.l2(X)
        self.evaluations += 1
        terms = {"loss": l_dc + self.lam * l_l2, "l_grad": l_dc, "l_l2": l_l2,
                 "mean_gradient": float((s_in[0] + s_out[0]) / (self.n_in + self.n_out))}
        if not grad:
            return terms, None
        c_in = (-1.0 / a ** 2 - 2.0 * b / a ** 3) / self.n_in
        c_out = 1.0 / (self.n_out * a ** 2)
        W = region_weights(Y, (c_in * self._MP + c_out * self._MR).astype(np.float32),
                           self.tiles, np.ones((1, 1)), self.stack.dtype)
        G = np.asarray(W.reshape(1, -1) @ self._rows.T, np.float64)
        return terms, G + 2.0 * self.lam * X @ self.Q

    def value_and_grad(self, X: np.ndarray) -> tuple[float, np.ndarray]:
        terms, G = self.evaluate(X)
        return terms["loss"], G

    def loss(self, X: np.ndarray) -> float:
        return self.evaluate(X, grad=False)[0]["loss"]

    def single_channels(self, a=None) -> tuple[np.ndarray, np.ndarray]:
        """The best level in (0, 1] of every channel alone and its loss, (C,) each."""
        C, _, w = self.stack.shape
        rows = self._rows.reshape(C, -1, w)
        d = self._dc(*self._sums(rows))[0]
        return self._best_scale(1.0 / d, np.diag(self.Q))

    def uniform(self) -> tuple[float, float]:
        ones = np.ones((1, self.channels))
        terms, _ = self.evaluate(ones, grad=False)
        t, loss = self._best_scale([1.0 / terms["l_grad"]], [self.l2(ones)], self.channels)
        return float(t[0]), float(loss[0])
