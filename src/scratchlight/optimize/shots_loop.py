"""The optimization loop of a K-shot sequence (``optimize.shots`` has the objective).

An engine keeps one pending gradient render (``render(E, seed, grad=True)`` then
``backprop``), so the K shots take turns within an iteration::

    images_j <- render(E_j) for every shot (once, before the first iteration)
    repeat: for shot j = 1..K:
                images_j = render(E_j, seed_jk, grad=True)
                L, dL/dI_j, dL/dE_j = sequence_objective(images, E, regions)
                E_j <- clamp(Adam_j(E_j, backprop(dL/dI_j) + dL/dE_j), 0, 1)

Shot j's gradient is exact for the images the others have then (those of this iteration
for the shots before it, of the last one for those after it): block-coordinate Adam, one
gradient render and one backprop per shot and iteration (with the transport engine: K
products T E and K products T^T g). The loss recorded for an iteration is the one after
its last shot, when every image is of this iteration. Shot j renders iteration k with
seed ``iteration_seed(seed + j, k)``: shot 1 has the seeds of a single-light run, and each
shot's seeds alternate in parity (the transport engine swaps its two matrices by it).
Ctrl-C ends the loop cleanly with the best sequence seen so far.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from .adam import Adam
from .config import LightConfig, OptimizerConfig
from .loop import iteration_seed
from .shots import sequence_objective

__all__ = ["SequenceResult", "optimize_sequence"]


@dataclasses.dataclass
class SequenceResult:
    """envmaps: (K, H, W, C) float32 in [0, 1], the final (or, when interrupted, best)
    sequence; loss, l_grad, l_l2: per iteration (the sequence objective); share: per
    iteration, each shot's fraction of the mask's pixels whose region it shows best;
    time_s: wall time of the loop, seconds."""

    envmaps: np.ndarray
    best_envmaps: np.ndarray
    loss: list
    l_grad: list
    l_l2: list
    share: list
    time_s: float
    interrupted: bool


def optimize_sequence(engine, E0s: np.ndarray, labels: np.ndarray,
                      light: LightConfig | None = None, optimizer: OptimizerConfig | None = None,
                      *, seed: int = 0, progress: bool = False) -> SequenceResult:
    """Optimize K lights together for the multi-shot objective (module docstring).

    Args:
        engine: any engine (``render(E, seed, grad)``, ``backprop(dL_dI)``); an engine with
            ``begin_run`` has it called once with shot 1's map.
        E0s: initial maps (K, H, W, C), values in [0, 1] (``shots.shot_starts``).
        labels: (h, w) int regions of the mask (``shots.shot_regions``).
        light: ``effective_lam``, ``l2_target`` and ``shot_power`` of the objective.
        optimizer: Adam's ``lr`` and the number of ``iterations``.
        seed: base seed (see the module docstring).
        progress: a progress bar with the current loss.
    """
    from tqdm.auto import tqdm

    light = LightConfig() if light is None else light
    optimizer = OptimizerConfig() if optimizer is None else optimizer
    lam, target, power = light.effective_lam, light.l2_target, float(light.shot_power)
    E = [np.clip(np.asarray(x, np.float64), 0.0, 1.0) for x in E0s]
    K = len(E)
    adams = [Adam(optimizer.lr) for _ in range(K)]
    losses, l_grads, l_l2s, shares = [], [], [], []
    best, best_loss = [x.copy() for x in E], np.inf
    interrupted = False
    t0 = time.perf_counter()
    begin = getattr(engine, "begin_run", None)
    if begin is not None:
        begin(E[0].astype(np.float32), seed=iteration_seed(seed, 0), resume=False,
              first_iteration=0)
    # the others' images before their first gradient render (transport: noise-free T E)
    images = [engine.render(x.astype(np.float32), seed=iteration_seed(seed + j, 0))
              for j, x in enumerate(E)]
    bar = tqdm(range(int(optimizer.iterations)), desc=f"optimize {K} shots", unit="it",
               disable=not progress, dynamic_ncols=True)
    try:
        for k in bar:
            start = [x.copy() for x in E]
            for j in range(K):
                images[j] = engine.render(E[j].astype(np.float32),
                                          seed=iteration_seed(seed + j, k), grad=True)
                obj = sequence_objective(images, E, labels, lam, target, power)
                grad = engine.backprop(obj.dL_dI[j]) + obj.dL_dE[j]
                if not np.isfinite(obj.loss) or not np.isfinite(grad).all():
                    raise FloatingPointError(f"non-finite loss or gradient at iteration {k}, "
                                             f"shot {j + 1}")
                E[j] = np.clip(adams[j].step(E[j], grad), 0.0, 1.0)
            losses.append(obj.loss)
            l_grads.append(obj.l_grad)
            l_l2s.append(obj.l_l2)
            shares.append(obj.share)
            if obj.loss < best_loss:
                best_loss, best = obj.loss, start
            bar.set_postfix(loss=f"{obj.loss:.4g}")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    final = best if interrupted else E
    return SequenceResult(envmaps=np.stack(final).astype(np.float32),
                          best_envmaps=np.stack(best).astype(np.float32), loss=losses,
                          l_grad=l_grads, l_l2=l_l2s, share=shares,
                          time_s=time.perf_counter() - t0, interrupted=interrupted)
