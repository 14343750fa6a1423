"""Lighting that holds: one light optimized for a set of surfaces (``optimize --over SET``;
the set's grammar is ``optimize.robust_set``'s).

The target over the members' objectives L_1..L_N (:func:`set_target`): ``mean``, or
``cvar:Q``, the mean of the worst k = ceil(Q N) (the largest L; ties by member order).
CVaR is convex and piecewise smooth in (L_1..L_N); its subgradient is the mean of the
worst members' gradients, weight 1/k on each. The loop (:func:`optimize_over`) renders the
light on every member's engine, forms the target, and steps Adam with
sum_m w_m dL_m/dE (with the transport engine: T_m E and T_m^T g per member); only the
members with w_m > 0 are back-propagated.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from .adam import Adam
from .config import LightConfig, OptimizerConfig
from .loop import iteration_seed

__all__ = ["set_target", "optimize_over", "RobustResult"]


def set_target(losses, fraction: float = 1.0) -> tuple[float, np.ndarray]:
    """(value, weights) of the target over the members' ``losses`` (N,): the mean of the
    worst k = ceil(fraction N) (largest first; ties by member order) and the weights
    (N,) float64, 1/k on those members and 0 elsewhere: the gradient of the value is
    sum_m w_m dL_m (a subgradient where worst members tie)."""
    losses = np.asarray(losses, np.float64)
    n = losses.size
    k = max(1, int(math.ceil(fraction * n - 1e-9)))
    worst = np.argsort(-losses, kind="stable")[:k]
    weights = np.zeros(n)
    weights[worst] = 1.0 / k
    return float(np.dot(weights, losses)), weights


@dataclasses.dataclass
class RobustResult:
    """envmap: final (or, interrupted, best) E (H, W, C) float32 in [0, 1]; loss: the
    target per iteration; member_loss: (iterations, N) each member's objective; weights:
    (iterations, N) the target's weights; time_s: wall time of the loop, seconds."""

    envmap: np.ndarray
    best_envmap: np.ndarray
    loss: list
    member_loss: list
    weights: list
    time_s: float
    interrupted: bool


def optimize_over(engines, objectives, E0: np.ndarray, light: LightConfig | None = None,
                  optimizer: OptimizerConfig | None = None, *, fraction: float = 1.0,
                  seed: int = 0, progress: bool = False, label: str = "optimize set"
                  ) -> RobustResult:
    """Optimize one light E for N surfaces (module docstring).

    Args:
        engines: N engines (``render(E, seed, grad=True)``, ``backprop``), one per member.
        objectives: N functions ``f(image, E) -> ObjectiveValue`` (``Session.objective_function``).
        E0: initial map (H, W, C) in [0, 1].
        light, optimizer: as ``loop.optimize_light`` (``lr``, ``iterations``).
        fraction: Q of the CVaR target (1.0: the mean).
        seed: iteration k renders every member with ``iteration_seed(seed, k)``.
    """
    from tqdm.auto import tqdm

    light = LightConfig() if light is None else light
    optimizer = OptimizerConfig() if optimizer is None else optimizer
    E = np.clip(np.asarray(E0, np.float64), 0.0, 1.0)
    adam = Adam(optimizer.lr)
    losses, members, weights_seen = [], [], []
    best_E, best_loss, interrupted = E.copy(), np.inf, False
    t0 = time.perf_counter()
    for engine in engines:
        begin = getattr(engine, "begin_run", None)
        if begin is not None:
            begin(E.astype(np.float32), seed=iteration_seed(seed, 0), resume=False,
                  first_iteration=0)
    bar = tqdm(range(int(optimizer.iterations)), desc=label, unit="it", disable=not progress,
               dynamic_ncols=True)
    try:
        for k in bar:
            objs = []
            for engine, f in zip(engines, objectives):
                image = engine.render(E.astype(np.float32), seed=iteration_seed(seed, k),
                                      grad=True)
                objs.append(f(image, E))
            member_loss = [o.loss for o in objs]
            value, w = set_target(member_loss, fraction)
            grad = np.zeros_like(E)
            for engine, o, wm in zip(engines, objs, w):
                if wm > 0:  # only the members the target counts are back-propagated
                    grad += wm * (engine.backprop(o.dL_dI) + o.dL_dE)
            if not np.isfinite(value) or not np.isfinite(grad).all():
                raise FloatingPointError(f"non-finite loss or gradient at iteration {k}")
            losses.append(value)
            members.append(member_loss)
            weights_seen.append(w.tolist())
            if value < best_loss:
                best_loss, best_E = value, E.copy()
            E = np.clip(adam.step(E, grad), 0.0, 1.0)
            bar.set_postfix(loss=f"{value:.4g}")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    final = best_E if interrupted else E
    return RobustResult(envmap=final.astype(np.float32), best_envmap=best_E.astype(np.float32),
                        loss=losses, member_loss=members, weights=weights_seen,
                        time_s=time.perf_counter() - t0, interrupted=interrupted)
