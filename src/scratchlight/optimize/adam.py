"""Adam (Kingma & Ba 2015) on NumPy values, the one optimizer of ``optimize`` and ``fit``.

Method. For each parameter x with gradient g, at its step t = 1, 2, ...

    m <- beta1 m + (1 - beta1) g,        v <- beta2 v + (1 - beta2) g^2,
    m_hat = m / (1 - beta1^t),           v_hat = v / (1 - beta2^t),
    x <- x - lr * m_hat / (sqrt(v_hat) + eps)

with beta1 0.9, beta2 0.999, eps 1e-8 (the defaults of Mitsuba's ``mi.ad.Adam``). The
first step of a parameter therefore moves every element by -lr * sign(g) (for |g| >> eps).
Moments are float64; every parameter keeps its own moments and step count.

Two ways to use it:

- one array: ``Adam(0.02).step(x, grad) -> new x`` (the light optimization loop);
- named parameters with their own learning rates:
  ``Adam({"envmap": 0.02, "roughness": 0.01}).step({"envmap": E, "roughness": r},
  {"envmap": gE, "roughness": gr}) -> {"envmap": E', "roughness": r'}`` (the fit); a single
  number as ``lr`` applies to every name.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = ["Adam"]

# The state key of the one-array form, ``step(x, grad)``.
_SINGLE = ""


class Adam:
    """Adam with per-parameter moments and learning rates.

    Args:
        lr: learning rate, one number for every parameter or ``{name: lr}``.
        beta1, beta2: decay rates of the first and second moment.
        eps: added to sqrt(v_hat) so that a parameter with g = 0 does not divide by zero.
    """

    def __init__(self, lr: float | Mapping[str, float] = 0.02, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8):
        if isinstance(lr, Mapping):
            self.lr: float | dict[str, float] = {str(k): float(v) for k, v in lr.items()}
        else:
            self.lr = float(lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        # name -> [t, m, v]: step count and float64 moments shaped like the gradient
        self._state: dict[str, list] = {}

    def learning_rate(self, name: str = _SINGLE) -> float:
        """The learning rate of parameter ``name``."""
        if isinstance(self.lr, dict):
            if name not in self.lr:
                raise KeyError(f"no learning rate for parameter {name!r} "
                               f"(have {', '.join(self.lr) or 'none'})")
            return self.lr[name]
        return self.lr

    def steps(self, name: str = _SINGLE) -> int:
        """How many steps parameter ``name`` has taken (0 before its first)."""
        state = self._state.get(name)
        return 0 if state is None else state[0]

    @property
    def t(self) -> int:
        """The most steps any parameter has taken."""
        return max((s[0] for s in self._state.values()), default=0)

    def step(self, params, grads):
        """One Adam step; returns the updated values and leaves the inputs unchanged.

        Args:
            params, grads: one array (or number) and its gradient of the same shape, or
                ``{name: value}`` and ``{name: gradient}`` (every name of ``params`` needs
                a gradient; only those names step).
        Returns:
            The new value(s): float64, shaped like the input(s), in the same form (array or
            dict).
        """
        if isinstance(params, Mapping):
            missing = [k for k in params if k not in grads]
            if missing:
                raise KeyError(f"no gradient for parameter(s) {', '.join(missing)}")
            return {k: self._update(k, x, grads[k]) for k, x in params.items()}
        if isinstance(self.lr, dict):
            raise TypeError("this Adam has per-parameter learning rates: pass {name: value} dicts")
        return self._update(_SINGLE, params, grads)

    def _update(self, name: str, x, grad):
        lr = self.learning_rate(name)
        state = self._state.get(name)
        if state is None:
            state = self._state[name] = [0, np.zeros_like(grad, dtype=np.float64),
                                         np.zeros_like(grad, dtype=np.float64)]
        t, m, v = state
        t += 1
        # the exact operation order of the optimization loop's original Adam (bit-for-bit)
        m = self.beta1 * m + (1 - self.beta1) * grad
        v = self.beta2 * v + (1 - self.beta2) * grad * grad
        state[:] = [t, m, v]
        m_hat = m / (1 - self.beta1 ** t)
        v_hat = v / (1 - self.beta2 ** t)
        return x - lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def inverse_scale(self, name: str = _SINGLE):
        """How far a unit of gradient moves parameter ``name``: 1 / (sqrt(v_hat) + 0.01
        max sqrt(v_hat)), float64 shaped like its gradient (1.0 before its first step).

        This is Adam's preconditioner with a floor, so that elements seldom seen (v ~ 0)
        get a large but finite weight."""
        state = self._state.get(name)
        if state is None:
            return 1.0
        t, _, v = state
        rms = np.sqrt(np.asarray(v, np.float64) / (1 - self.beta2 ** t))
        return 1.0 / (rms + 0.01 * float(np.max(rms)) + 1e-30)
