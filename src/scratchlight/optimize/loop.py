"""The optimization loop of the paper (docs/methods.md, section A), for any engine.

    E <- E0
    repeat: I = render(E); loss, dL/dI, dL/dE_reg = objective(I, E, M)
            dL/dE = backprop(dL/dI) + dL/dE_reg
            E <- clamp(Adam(E, dL/dE), 0, 1)

Adam is the standard one (Kingma & Ba; beta1 0.9, beta2 0.999, eps 1e-8), as in Mitsuba's
``mi.ad.Adam``. Each iteration renders with its own seed, and the engine decorrelates the
primal and gradient samples. An engine with a ``begin_run(E0, seed, resume,
first_iteration)`` method has it called once before the first iteration (the transport
engine starts counting its warm-up iterations there and measures the noise it adds; with
``resume`` it keeps what it measured in the run it continues). Ctrl-C
ends the loop cleanly: the result then holds the map with the lowest loss seen so far.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from ..objectives import scratch_objective
from .adam import Adam
from .config import LightConfig, OptimizerConfig

__all__ = ["Adam", "OptimizationResult", "optimize_light", "iteration_seed"]


@dataclasses.dataclass
class OptimizationResult:
    """envmap: final (or, if interrupted or stopped, best) E, (H, W, C) float32 in [0, 1];
    loss, l_grad, l_l2: per iteration; time_s: wall time of the loop, seconds."""

    envmap: np.ndarray
    best_envmap: np.ndarray
    loss: list[float]
    l_grad: list[float]
    l_l2: list[float]
    time_s: float
    interrupted: bool
    stopped: bool = False
    """True when the callback asked to stop (``envmap`` is then the best map)."""
    adam: "Adam | None" = None
    """The optimizer state after the last step, to resume the run from."""


def iteration_seed(seed: int, iteration: int) -> int:
    """Primal seed of iteration ``iteration`` of a run with ``seed`` (distinct per run)."""
    return (int(seed) * 1_000_003 + int(iteration)) % (2 ** 31)


def optimize_light(engine, E0: np.ndarray, mask: np.ndarray, light: LightConfig | None = None,
                   optimizer: OptimizerConfig | None = None, *, seed: int = 0,
                   progress: bool = False,
                   callback: Callable[[int, np.ndarray, float], bool | None] | None = None,
                   adam: Adam | None = None, first_iteration: int = 0,
                   objective: Callable | None = None,
                   ) -> OptimizationResult:
    """Optimize the light E for scratch visibility.

    Args:
        engine: any engine (``render(E, seed, grad=True)`` and ``backprop(dL_dI)``).
        E0: initial map, (H, W, C) float, C = 1 (gray) or 3 (RGB), values in [0, 1].
        mask: (h, w) bool, the pixels M that count.
        light: the objective's settings (``LightConfig``; default the paper's): its
            ``effective_lam`` and ``l2_target`` weigh the L2 term of
            ``objectives.scratch_objective``. Its map size and init are E0's business.
        optimizer: the loop's settings (``OptimizerConfig``): Adam's ``lr`` and the number
            of ``iterations``; the engine and its spp are the ``engine``'s business.
        seed: base seed; iteration k renders with ``iteration_seed(seed, k)``.
        progress: show a progress bar with the current loss.
        callback: called as ``callback(k, E, loss)`` after each step; returning True stops
            the run there (the result then holds the best map, like Ctrl-C).
        adam, first_iteration: resume a run: the optimizer state of the run so far and the
            number of its iterations (the next seeds follow on from there).
        objective: ``objective(image, E) -> ObjectiveValue`` replacing the paper's
            ``scratch_objective`` (e.g. ``Session.objective_function`` for
            ``light.objective = 'defect-contrast'``, which needs the surface's mask too).
    """
    from tqdm.auto import tqdm

    light = LightConfig() if light is None else light
    optimizer = OptimizerConfig() if optimizer is None else optimizer
    if objective is None and light.objective != "gradient":
        raise ValueError(f"objective {light.objective!r} needs an objective function "
                         "(Session.objective_function)")
    lam, l2_target, iterations = light.effective_lam, light.l2_target, int(optimizer.iterations)
    E = np.clip(np.asarray(E0, np.float64), 0.0, 1.0)
    adam = Adam(optimizer.lr) if adam is None else adam
    losses, l_grads, l_l2s = [], [], []
    best_E, best_loss = E.copy(), np.inf
    interrupted = stopped = False
    t0 = time.perf_counter()
    begin = getattr(engine, "begin_run", None)  # e.g. the transport engine's noise matching
    if begin is not None:
        begin(E.astype(np.float32), seed=iteration_seed(seed, first_iteration),
              resume=first_iteration > 0, first_iteration=first_iteration)
    bar = tqdm(range(first_iteration, first_iteration + iterations), desc="optimize", unit="it",
               disable=not progress, dynamic_ncols=True)
    try:
        for k in bar:
            image = engine.render(E.astype(np.float32), seed=iteration_seed(seed, k), grad=True)
            obj = (scratch_objective(image, E, mask, lam=lam, l2_target=l2_target)
                   if objective is None else objective(image, E))
            grad = engine.backprop(obj.dL_dI) + obj.dL_dE
            if not np.isfinite(obj.loss) or not np.isfinite(grad).all():
                raise FloatingPointError(f"non-finite loss or gradient at iteration {k}")
            losses.append(obj.loss)
            l_grads.append(obj.l_grad)
            l_l2s.append(obj.l_l2)
            if obj.loss < best_loss:
                best_loss, best_E = obj.loss, E.copy()
            E = np.clip(adam.step(E, grad), 0.0, 1.0)
            bar.set_postfix(loss=f"{obj.loss:.4g}")
            if callback is not None and callback(k, E, obj.loss):
                stopped = True
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    final = best_E if (interrupted or stopped) else E
    return OptimizationResult(envmap=final.astype(np.float32), best_envmap=best_E.astype(np.float32),
                              loss=losses, l_grad=l_grads, l_l2=l_l2s,
                              time_s=time.perf_counter() - t0, interrupted=interrupted,
                              stopped=stopped, adam=adam)
