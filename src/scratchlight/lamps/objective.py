"""The scratch objective of a light given as an (H, W) map, through a linear light model.

``LinearLight`` is what the lamp and dome fits need from a renderer: the image of a map
(I = T F) and the adjoint of that product (T^T G). Built from a transport engine it uses
the mean of the engine's matrices (its ``relight``, 2 x spp paths per pixel), so value and
gradient belong to one deterministic function: with a handful of lamp parameters there is
nothing for the noise of T to reward. ``RigObjective`` is the optimize command's objective
(``objectives.scratch_objective``: L_grad + lam L2, same mask) with dL/dF = T^T dL/dI +
the L2 term's gradient.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from ..objectives import scratch_objective

__all__ = ["LinearLight", "RigObjective", "RigValue"]


@dataclasses.dataclass
class LinearLight:
    """image(F) -> (h, w, 3) and adjoint(G (h, w, 3)) -> (H, W) for gray maps F (H, W)."""

    image: Callable[[np.ndarray], np.ndarray]
    adjoint: Callable[[np.ndarray], np.ndarray]
    envmap_shape: tuple[int, int]

    @classmethod
    def from_engine(cls, engine) -> "LinearLight":
        """The mean of a transport engine's matrices (its ``relight``)."""
        mats = engine.matrices
        shape = tuple(mats[0].envmap_shape)

        def image(F):
            return engine.relight(np.asarray(F, np.float32).reshape(*shape, 1))

        def adjoint(G):
            out = sum(T.apply_transpose(G, 1) for T in mats) / len(mats)
            return out.reshape(shape)

        return cls(image, adjoint, shape)

    @classmethod
    def from_dense(cls, D: np.ndarray, image_shape: tuple[int, int],
                   envmap_shape: tuple[int, int]) -> "LinearLight":
        """A dense (3, h*w, H*W) float64 matrix (tests, tiny scenes)."""
        h, w = image_shape

        def image(F):
            f = np.asarray(F, np.float64).ravel()
            return np.stack([D[c] @ f for c in range(3)], -1).reshape(h, w, 3)

        def adjoint(G):
            g = np.asarray(G, np.float64).reshape(-1, 3)
            return sum(D[c].T @ g[:, c] for c in range(3)).reshape(envmap_shape)

        return cls(image, adjoint, tuple(envmap_shape))


@dataclasses.dataclass(frozen=True)
class RigValue:
    """The objective's terms for one map, and dL/dF (H, W) float64."""

    loss: float
    l_grad: float
    l_l2: float
    mean_gradient: float
    dL_dF: np.ndarray

    def terms(self) -> dict[str, float]:
        return {"loss": self.loss, "l_grad": self.l_grad, "l_l2": self.l_l2,
                "mean_gradient": self.mean_gradient}


@dataclasses.dataclass
class RigObjective:
    """The scratch objective of gray maps F (H, W) rendered by ``light``."""

    light: LinearLight
    mask: np.ndarray
    lam: float = 30.0
    l2_target: str = "env"

    def __call__(self, F: np.ndarray, grad: bool = True) -> RigValue:
        F = np.asarray(F, np.float64).reshape(self.light.envmap_shape)
        image = self.light.image(F)
        obj = scratch_objective(image, F[..., None], self.mask, lam=self.lam,
                                l2_target=self.l2_target)
        dF = None
        if grad:
            dF = self.light.adjoint(obj.dL_dI) + obj.dL_dE[..., 0]
        return RigValue(obj.loss, obj.l_grad, obj.l_l2, obj.mean_gradient, dF)

    def images(self, footprints: np.ndarray) -> np.ndarray:
        """(K, h, w, 3) images of K maps (K, H, W)."""
        return np.stack([self.light.image(F) for F in footprints])
