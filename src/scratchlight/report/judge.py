"""The judge of a light: independent Mitsuba renders until its objective is precise.

Method. The light is rendered ``R`` times by Mitsuba's path tracer with the seeds ``seed``,
``seed + 1``, ... at ``spp`` with Mitsuba's ``sampler`` (by default the low-discrepancy
``ldsampler``: at 64 spp its image error is at most that of 256 independent samples, equal
under a uniform light and 2.5 x smaller under an optimized one, at about a third of the
time; ``benchmarks/judge_samplers.py``). Every render gives the objective's
terms (loss, L_grad, L_l2, mean gradient); the judged value of a term is their mean over
the renders and its standard error ``s / sqrt(R)`` (``s`` the sample standard deviation).
The judge renders at least ``min_renders`` (2) and adds renders until the loss's standard
error is at most ``precision`` x |loss|, or ``max_renders`` (8) are done; precision None
is the paper's judge, one render. The judged image is the mean of the renders.

The judged objective is the mean of single renders' objectives, not the objective of the
mean image: L_grad reads Monte Carlo noise as image gradient, so its value depends on the
noise of the image it is computed on, and the mean over renders keeps the value of one
render at ``spp`` whatever ``R`` the precision needed.

The renders are independent of the optimization (other seeds, Mitsuba itself, never the
engine that was optimized).
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Judgement", "judge_light", "judge_run", "MIN_RENDERS", "MAX_RENDERS"]

MIN_RENDERS = 2
MAX_RENDERS = 8
TERMS = ("loss", "l_grad", "l_l2", "mean_gradient")


@dataclasses.dataclass
class Judgement:
    """A judged light: ``image`` (h, w, 3) linear float32, the mean of the ``images`` (one
    per seed of ``seeds``); ``terms`` the mean of each objective term over the renders,
    ``std_err`` its standard error (None from a single render); ``spp``; ``sampler``."""

    image: np.ndarray
    images: list[np.ndarray]
    terms: dict[str, float]
    std_err: dict[str, float | None]
    seeds: list[int]
    spp: int
    sampler: str
    precision: float | None = None

    @property
    def precise(self) -> bool | None:
        """Whether the loss's standard error is at most ``precision`` of it (None: no
        precision was asked, one render)."""
        err = self.std_err["loss"]
        if self.precision is None or err is None:
            return None
        return err <= self.precision * abs(self.terms["loss"])

    def summary(self) -> dict:
        """The ``run.json`` form: the terms, ``<term>_std_err``, ``renders``, ``seeds``,
        ``spp``, ``sampler`` and ``precise`` (False: the most renders did not reach the
        asked precision)."""
        out = dict(self.terms)
        out.update({f"{k}_std_err": v for k, v in self.std_err.items()})
        out.update(renders=len(self.seeds), seeds=list(self.seeds), spp=self.spp,
                   sampler=self.sampler, precise=self.precise)
        return out


def _stats(rows: list[dict]) -> tuple[dict, dict]:
    terms, errs = {}, {}
    for k in TERMS:
        v = np.array([r[k] for r in rows], np.float64)
        terms[k] = float(v.mean())
        errs[k] = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None
    return terms, errs


def judge_light(session, envmap: np.ndarray, light, mask: np.ndarray, spp: int, seed: int,
                sampler: str = "ldsampler", precision: float | None = 0.01,
                label: str = "render",
                cache: bool = False, min_renders: int = MIN_RENDERS,
                max_renders: int = MAX_RENDERS) -> Judgement:
    """Judge ``envmap`` (H, W, C) on ``session`` (module docstring).

    ``light``: the ``LightConfig`` whose objective is judged, over the pixels ``mask`` (h, w)
    bool. ``precision`` None: exactly one render, no standard error (the paper's judge).
    ``cache``: take the renders from (and add them to) the on-disk cache of judging renders
    (``engines.render_cache``), for a run's initial light."""
    from tqdm.auto import tqdm

    if precision is None:
        min_renders = max_renders = 1
    rows, images, seeds = [], [], []
    objective = session.objective_function(light, mask)
    # one bar per light: an ldsampler render is one pass, so the renders are the steps
    bar = tqdm(desc=f"judge {label} ({spp} spp)", unit="render", leave=False,
               disable=not getattr(session, "progress", False) or sampler == "independent")
    while True:
        s = int(seed) + len(seeds)
        n = len(seeds) + 1
        image = session.render_final(envmap, spp, seed=s, sampler=sampler, cache=cache,
                                     label=f"{label} ({spp} spp, render {n})")
        obj = objective(image, envmap)
        rows.append({"loss": obj.loss, "l_grad": obj.l_grad, "l_l2": obj.l_l2,
                     "mean_gradient": obj.mean_gradient})
        images.append(image)
        seeds.append(s)
        bar.update()
        if n < min_renders:
            continue
        terms, errs = _stats(rows)
        if n >= max_renders or (errs["loss"] is not None and precision is not None
                                and errs["loss"] <= precision * abs(terms["loss"])):
            break
    bar.close()
    mean = np.mean(np.stack(images), axis=0, dtype=np.float64).astype(np.float32)
    return Judgement(image=mean, images=images, terms=terms, std_err=errs, seeds=seeds,
                     spp=int(spp), sampler=sampler, precision=precision)


def judge_run(session, run, config, seed: int) -> tuple[dict, dict, dict | None]:
    """Judge a single-light run (``session.OptimizationRun``) of ``session``: its initial
    light (renders cached: every run from that start shares them) and its optimized light,
    with the settings of ``run.optimizer`` and the seeds ``seed``, ``seed + 1``, ...; with
    ``config.twin``, also d' against the twin (``report.twin``) on the first three seeds.

    Returns ``(renders, objectives, detectability)``: the judged images and the
    ``run.json`` summaries by name ('before', 'after'), and the d' dict or None."""
    opt = run.optimizer
    judged = {}
    for name, light in (("before", run.initial_envmap), ("after", run.envmap)):
        with session.phases.timed(f"judge_{name}"):
            judged[name] = judge_light(session, light, run.light, run.mask, opt.final_spp, seed,
                                       opt.judge_sampler, opt.final_precision, label=name,
                                       cache=name == "before")
    detect = None
    if getattr(config, "twin", None):  # d' of the light against the defect-free twin
        from .twin import twin_detectability

        with session.phases.timed("judge_twin"):
            seeds = [seed + k for k in range(3)]
            images = judged["after"].images[:3]
            images += [session.render_final(run.envmap, opt.final_spp, seed=s,
                                            sampler=opt.judge_sampler)
                       for s in seeds[len(images):]]
            detect = twin_detectability(session, config.twin, run.envmap, images, opt.final_spp,
                                        seeds, sampler=opt.judge_sampler)
    return ({k: j.image for k, j in judged.items()}, {k: j.summary() for k, j in judged.items()},
            detect)
