"""Pixel samplers: which pixels to render in an iteration, and with what estimator weights.

Method (docs/methods.md, section B). The loss gradient is dL/dtheta = sum_j (dL/dI_j) dI_j/dtheta over
the index set (all pixels of all views, or a ``support`` subset of them). A sampler draws K
indices j_1..j_K independently from probabilities p (sampling with replacement) and gives
each the weight 1/(K p_j), so sum_k w_k (dL/dI_jk) dI_jk/dtheta is unbiased for any p that
is positive wherever the summand can be non-zero. Samplers:

- ``full``: every index of the support once, weight 1 (no sampling).
- ``uniform``: p_j = 1/n.
- ``grad``: p_j ∝ sqrt(E[(dL/dI_j)^2]), the |dL/dI| sampling of Su & Gkioulekas (2024).
- ``adaptive``: p_j ∝ sqrt(p1_j p2_j), p1 = E[(dL/dI_j)^2], p2 = sum_k E[(dI_j/dtheta_k)^2]
  (Yan et al. 2025), spread over a multi-resolution pyramid
  p_j := sum_{d=0..D} 4^d pbar_{j_d, d}, with pbar_{., d} the mean of sqrt(p1 p2) over the
  2^d x 2^d block j_d containing j (so 4^d pbar is the block's total importance), D = 4.

``grad`` and ``adaptive`` are refreshed from maps of p1 (and p2) every ``refresh``
iterations (default 20); the caller estimates the maps with a cheap low-resolution,
low-spp pass (``SubsetRenderer.block_samples`` and ``second_moment``; see ``fit.refresh``).
Both mix in a uniform floor, p = (1 - floor) p_adapted + floor / n, so every p_j > 0 and
the estimator stays unbiased however wrong the maps are. Probabilities are float64,
positive on the support, zero off it, and sum to 1.

Invalid names and budgets raise ``InputError`` naming the config field (``fit.sampling``,
``fit.budget``).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = [
    "SAMPLINGS", "PixelSampler", "FullSampler", "UniformSampler", "GradientSampler",
    "AdaptiveSampler", "make_sampler", "multiresolution", "budget_count", "check_budget",
    "second_moment",
]

SAMPLINGS = ("full", "uniform", "grad", "adaptive")


def check_budget(budget: float, field: str = "fit.budget") -> float:
    """Validate a pixel budget: a fraction in (0, 1]; InputError names ``field``."""
    try:
        b = float(budget)
    except (TypeError, ValueError):
        raise InputError(field, f"expected a fraction in (0, 1], got {budget!r}") from None
    if not (np.isfinite(b) and 0.0 < b <= 1.0):
        raise InputError(field, f"expected a fraction in (0, 1], got {budget!r}")
    return b


def budget_count(budget: float, n: int) -> int:
    """K = round(budget * n) pixels per iteration, at least 1."""
    return max(1, int(round(check_budget(budget) * n)))


def second_moment(x: np.ndarray, ratio: float = 1.0) -> np.ndarray:
    """Per-pixel second moment E[|X|^2] of a Monte Carlo estimate X at a target sample count,
    from pairs of independent estimates at a (lower) refresh sample count.

    Args:
        x: (2m, ..., C) float; x[2i] and x[2i+1] are independent estimates of the same
            quantity (pair i), C channels (summed).
        ratio: refresh spp / target spp. For a pair (a, b), a.b estimates |E X|^2 and
            |a - b|^2 / 2 the variance at the refresh spp, which scales as 1/spp; so
            a.b + ratio |a - b|^2 / 2 estimates |E X|^2 + Var(X at the target spp).
            ratio = 1 gives the plain (|a|^2 + |b|^2) / 2.
    Returns:
        (...) float64 >= 0, the mean over pairs, clipped from below by the mean of
        ratio (|a|^2 + |b|^2) / 2, which estimates a lower bound of the target second
        moment (for ratio <= 1), so noisy pairs never claim a pixel is unimportant.
    """
    x = np.asarray(x, np.float64)
    if x.shape[0] < 2 or x.shape[0] % 2:
        raise ValueError(f"need an even number (>= 2) of estimates, got {x.shape[0]}")
    a, b = x[0::2], x[1::2]
    r = float(ratio)
    m = np.sum(a * b, axis=-1) + r * 0.5 * np.sum((a - b) ** 2, axis=-1)
    # E[X_s^2] = mu^2 + sigma^2 / s >= (r / s) E[X_r^2] for r <= s: never go below that.
    low = min(r, 1.0) * 0.5 * np.sum(a * a + b * b, axis=-1)
    return np.maximum(m.mean(axis=0), low.mean(axis=0))


def multiresolution(q: np.ndarray, levels: int = 4, base: float = 4.0,
                    support: np.ndarray | None = None) -> np.ndarray:
    """Pyramid spreading of an importance map.

    Args:
        q: (V, h, w) float >= 0 importance per pixel (views are pooled separately).
        levels: D; levels whose blocks exceed the image are skipped.
        base: level weight base, weight of level d is base**d (4 in docs/methods.md, section B).
        support: optional (V, h, w) bool; block means run over support pixels only and
            the result is zero off the support.
    Returns:
        (V, h, w) float64, sum_d base**d * (mean of q over the 2^d block holding the pixel).
    """
    q = np.asarray(q, np.float64)
    if q.ndim != 3:
        raise ValueError(f"importance map must be (V, h, w), got shape {q.shape}")
    V, h, w = q.shape
    sup = np.ones(q.shape, bool) if support is None else np.asarray(support, bool)
    qs = np.where(sup, q, 0.0)
    vv, yy, xx = np.meshgrid(np.arange(V), np.arange(h), np.arange(w), indexing="ij")
    out = np.zeros(q.shape)
    for d in range(int(levels) + 1):
        s = 1 << d
        if d > 0 and s > max(h, w):
            break
        bh, bw = -(-h // s), -(-w // s)
        key = ((vv * bh + yy // s) * bw + xx // s).ravel()
        total = np.bincount(key, weights=qs.ravel(), minlength=V * bh * bw)
        count = np.bincount(key, weights=sup.ravel().astype(np.float64), minlength=V * bh * bw)
        mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        out += float(base) ** d * mean[key].reshape(q.shape)
    return np.where(sup, out, 0.0)


class PixelSampler:
    """Base class: probabilities over the index set of V views of h x w pixels.

    Args:
        shape: (V, h, w) of the index set.
        budget: fraction of the support rendered per iteration, K = round(budget * n).
        support: (V, h, w) bool, the indices that can contribute (default all).
        floor: uniform mixing weight in (0, 1] for the adapted samplers.
        refresh: iterations between map refreshes for the adapted samplers.
    """

    name = "base"
    needs_maps = False
    needs_p2 = False

    def __init__(self, shape, budget: float = 0.125, support: np.ndarray | None = None,
                 floor: float = 0.1, refresh: int = 20):
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3:
            raise ValueError(f"shape must be (V, h, w), got {shape}")
        self.shape = shape
        sup = np.ones(shape, bool) if support is None else np.asarray(support, bool)
        if sup.shape != shape:
            raise ValueError(f"support of shape {sup.shape} does not match {shape}")
        if not sup.any():
            raise ValueError("the support holds no pixel")
        if not 0.0 < floor <= 1.0:
            raise ValueError(f"floor must be in (0, 1], got {floor}")
        if refresh < 1:
            raise ValueError(f"refresh must be >= 1, got {refresh}")
        self.support = sup
        self.support_index = np.flatnonzero(sup.ravel())
        self.n = int(self.support_index.size)
        self.budget = check_budget(budget)
        self.k = budget_count(self.budget, self.n)
        self.floor = float(floor)
        self.refresh_every = int(refresh)
        self._p = np.full(self.n, 1.0 / self.n)
        self._cdf = None
        self.refreshed_at: int | None = None
        self.cost: np.ndarray | None = None

    @property
    def probabilities(self) -> np.ndarray:
        """(V, h, w) float64: p over the index set, summing to 1, zero off the support."""
        p = np.zeros(int(np.prod(self.shape)))
        p[self.support_index] = self._p
        return p.reshape(self.shape)

    def needs_refresh(self, iteration: int) -> bool:
        """True when the maps should be re-estimated before drawing at ``iteration``."""
        if not self.needs_maps:
            return False
        return self.refreshed_at is None or iteration - self.refreshed_at >= self.refresh_every

    def set_cost(self, cost: np.ndarray | None) -> None:
        """Per-pixel render cost (V, h, w) > 0, or None. The adapted samplers then use
        p ∝ importance / sqrt(cost), which minimises variance x time instead of variance
        per sample (an extension of the published method; off by default)."""
        if cost is not None:
            cost = np.asarray(cost, np.float64).reshape(self.shape)
            if not (np.isfinite(cost).all() and (cost > 0).all()):
                raise ValueError("pixel costs must be finite and positive")
        self.cost = cost

    def _set(self, importance: np.ndarray) -> None:
        q = np.asarray(importance, np.float64).reshape(self.shape)
        if self.cost is not None:
            q = q / np.sqrt(self.cost)
        q = q.ravel()[self.support_index]
        q = np.where(np.isfinite(q) & (q > 0), q, 0.0)
        total = q.sum()
        adapted = q / total if total > 0 else np.full(self.n, 1.0 / self.n)
        p = (1.0 - self.floor) * adapted + self.floor / self.n
        self._p = p / p.sum()
        self._cdf = None

    def update(self, p1: np.ndarray, p2: np.ndarray | None = None, iteration: int = 0) -> None:
        """Refresh from maps (V, h, w): p1 = E[(dL/dI)^2], p2 = sum_k E[(dI/dtheta_k)^2]."""
        self.refreshed_at = int(iteration)

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """K flat indices (int64) drawn i.i.d. from p, and their weights 1/(K p) (float64)."""
        if self._cdf is None:
            self._cdf = np.cumsum(self._p)
            self._cdf[-1] = 1.0
        u = rng.random(self.k)
        pos = np.minimum(np.searchsorted(self._cdf, u, side="right"), self.n - 1)
        return self.support_index[pos], 1.0 / (self.k * self._p[pos])


class FullSampler(PixelSampler):
    """Every pixel of the support, once, weight 1 (``budget`` is ignored)."""

    name = "full"

    def __init__(self, shape, budget: float = 1.0, support=None, floor: float = 0.1,
                 refresh: int = 20):
        super().__init__(shape, 1.0, support, floor, refresh)

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.support_index.copy(), np.ones(self.n)


class UniformSampler(PixelSampler):
    """p_j = 1/n over the support."""

    name = "uniform"


class GradientSampler(PixelSampler):
    """p_j ∝ sqrt(E[(dL/dI_j)^2]) (= RMS |dL/dI_j|), with the uniform floor."""

    name = "grad"
    needs_maps = True

    def update(self, p1, p2=None, iteration: int = 0) -> None:
        self._set(np.sqrt(np.maximum(np.asarray(p1, np.float64), 0.0)))
        super().update(p1, p2, iteration)


class AdaptiveSampler(PixelSampler):
    """p_j ∝ multiresolution(sqrt(p1 p2)) with the uniform floor (Yan et al. 2025).

    Extra args: ``levels`` (D, default 4) and ``level_base`` (4) of the pyramid.
    """

    name = "adaptive"
    needs_maps = True
    needs_p2 = True

    def __init__(self, shape, budget: float = 0.125, support=None, floor: float = 0.1,
                 refresh: int = 20, levels: int = 4, level_base: float = 4.0):
        super().__init__(shape, budget, support, floor, refresh)
        self.levels = int(levels)
        self.level_base = float(level_base)

    def update(self, p1, p2=None, iteration: int = 0) -> None:
        if p2 is None:
            raise ValueError("the adaptive sampler needs both p1 and p2")
        q = np.sqrt(np.maximum(np.asarray(p1, np.float64), 0.0)
                    * np.maximum(np.asarray(p2, np.float64), 0.0)).reshape(self.shape)
        self._set(multiresolution(q, self.levels, self.level_base, self.support))
        super().update(p1, p2, iteration)


_SAMPLERS = {"full": FullSampler, "uniform": UniformSampler, "grad": GradientSampler,
             "adaptive": AdaptiveSampler}


def make_sampler(name: str, shape, budget: float = 0.125, support=None, **options) -> PixelSampler:
    """Sampler ``name`` (one of ``SAMPLINGS``) over (V, h, w); raises InputError naming
    ``fit.sampling`` for an unknown name."""
    if name not in _SAMPLERS:
        raise InputError("fit.sampling", f"expected one of {', '.join(SAMPLINGS)}, got {name!r}")
    if name != "adaptive":
        options = {k: v for k, v in options.items() if k not in ("levels", "level_base")}
    return _SAMPLERS[name](shape, budget, support, **options)
