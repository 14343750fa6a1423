"""A multi-shot run (``optimize --shots K``, K >= 2) and its results folder.

``run_sequence`` is what ``session.run_optimization`` runs for K >= 2. The session is the single-light run's (``Session.from_config``: the surface, the scene,
the mask of ``light.mask``); the engine is chosen and built as ``Session.optimize`` does,
with the transport engine's warm-up scaled by K so that every shot gets its
``transport_warmup`` Mitsuba-rendered first iterations. The regions are
``shots.shot_regions(mask, light.shot_tiles)``, the starts ``shots.shot_starts`` of
``light.init``. The result is judged on independent high-spp Mitsuba renders (the seeds of
``Session.render_final``): the sequence objective of the K shots with the maximum over
shots (``objective_after``; p = inf, so that K copies of one light judge as that light), the
paper's objective of each shot alone (``shots`` in run.json) and, as ``objective_before``,
the single initial light as a one-shot sequence (the paper's objective of E0).

The folder:

``out_dir`` receives, for every shot k = 1..K: ``envmap_shot{k}.exr`` (linear float RGB),
``envmap_shot{k}.png`` (preview) and ``after_shot{k}.png`` / ``.exr`` (its light rendered
at ``final_spp`` by Mitsuba's path tracer); and ``envmap_initial.exr`` with ``before.png``
/ ``.exr`` (the single light the shots start from), ``mask.png``, ``best_shot.png`` (each
region of the mask coloured by the shot that shows it best on the final renders),
``compare.png`` (before | every shot | best shot), ``loss.png`` and ``run.json``: the
nested config (``scratchlight optimize --config run.json`` repeats the run), the
per-iteration sequence objective, ``objective_before`` / ``objective_after`` (the sequence
objective, ``optimize.shots``) and ``shots``: each shot's own objective terms (the paper's
objective of that light alone) with its ``share`` of the mask. There is no ``envmap.exr``:
a sequence is not one light. With ``twin`` (``optimize --twin``), ``detectability`` holds
the sequence's d' against the defect-free twin (each defect in its best shot,
:func:`sequence_detectability`) and each shot's entry its own.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from ..io import write_exr, write_json, write_png
from .figures import plot_losses, side_by_side, write_envmap_preview
from .results import library_versions

__all__ = ["run_sequence", "judge_sequence", "sequence_detectability", "write_sequence_results",
           "shot_files", "SHOT_COLOURS"]

SHOT_COLOURS = np.array([[230, 80, 60], [60, 140, 230], [90, 190, 90], [230, 190, 50],
                         [170, 90, 200], [60, 200, 200], [240, 140, 200], [150, 150, 150]],
                        np.uint8)
"""Colour of shot k (row k - 1) in ``best_shot.png``."""


def judge_sequence(images, envmaps, labels, light) -> dict:
    """The sequence objective's terms of (final) renders, each region counted in its best
    shot (the maximum over shots, p = inf: a repeated shot earns nothing; the optimization
    itself uses the smooth ``light.shot_power``): loss, l_grad, l_l2 and each
    shot's share of the mask and each region's best shot (``shots.SequenceValue``)."""
    from ..optimize.shots import sequence_objective

    v = sequence_objective(images, envmaps, labels, light.effective_lam, light.l2_target,
                           float("inf"))
    return {"loss": v.loss, "l_grad": v.l_grad, "l_l2": v.l_l2, "share": v.share,
            "shot_l_grad": v.shot_l_grad, "best_shot": v.best_shot.tolist()}


def _engine(session, cfg):
    """(engine, name, choice) as ``Session.optimize`` picks and sets it up."""
    opt, shape = cfg.optimizer, tuple(cfg.light.envmap_size)
    name, choice = opt.engine, None
    t0 = time.perf_counter()
    if name == "auto":
        made = session.choose_engine(opt.spp, cfg.seed, shape, opt.memory_budget_bytes)
        name, choice = made.engine, made.to_dict()
        if session.progress:
            print(made.summary(), file=sys.stderr, flush=True)
    session.phases.add("engine_choice", time.perf_counter() - t0)
    with session.phases.timed("engine_build"):
        engine = session.engine(name, opt.spp, cfg.seed, shape)
        if name == "transport":
            engine.set_noise(opt.transport_noise)
            engine.set_warmup(opt.transport_warmup * cfg.light.shots)
    return engine, name, choice, time.perf_counter() - t0


def run_sequence(session, cfg, out_dir: str | os.PathLike, final_render_seed: int,
                 progress: bool = True) -> dict:
    """Optimize the ``cfg.light.shots`` lights of ``cfg`` (an ``OptimizeConfig``) together
    on ``session`` (``Session.from_config(cfg)``) and write the results folder (module
    docstring); returns the ``run.json`` dictionary. ``final_render_seed``: the seed of
    the judging renders (``session.FINAL_RENDER_SEED``)."""
    from ..optimize.shots import shot_regions, shot_starts
    from ..optimize.shots_loop import optimize_sequence

    light, opt = cfg.light, cfg.optimizer
    engine, name, choice, setup_s = _engine(session, cfg)
    E0 = session.initial_envmap(light, cfg.seed)
    labels = shot_regions(session.mask, light.shot_tiles)
    res = optimize_sequence(engine, shot_starts(E0, light.shots), labels, light, opt,
                            seed=cfg.seed, progress=progress)
    if name == "transport":
        engine.set_warmup(opt.transport_warmup)  # the pooled engine, as other runs expect it
    session.phases.add("iterations", res.time_s)
    spp, sampler = opt.final_spp, opt.judge_sampler
    with session.phases.timed("judge_before"):
        before = session.render_final(E0, spp, seed=final_render_seed, sampler=sampler,
                                      label=f"before ({spp} spp)", cache=True)
        objective_before = judge_sequence([before], [E0], labels, light)
    with session.phases.timed("judge_after"):
        after = [session.render_final(E, spp, seed=final_render_seed, sampler=sampler,
                                      label=f"shot {k + 1} ({spp} spp)")
                 for k, E in enumerate(res.envmaps)]
        objective_after = judge_sequence(after, list(res.envmaps), labels, light)
        shots = [session.judge(img, E, light, session.mask)
                 for img, E in zip(after, res.envmaps)]
    detect = None
    if getattr(cfg, "twin", None):
        with session.phases.timed("judge_twin"):
            detect = sequence_detectability(session, cfg.twin, list(res.envmaps), after, spp,
                                            [final_render_seed + k for k in range(3)], sampler)
        for shot, d in zip(shots, detect.pop("per_shot")):
            shot["detectability"] = d
    facts = {"engine": name, "engine_choice": choice, "engine_setup_s": setup_s,
             "total_time_s": time.perf_counter() - session.created_at,
             "phases_s": session.phases.rounded(), "final_render_seed": final_render_seed,
             **({"detectability": detect} if detect is not None else {})}
    return write_sequence_results(out_dir, cfg, session, res, E0, labels, before, after,
                                  objective_before, objective_after, shots, facts)


def sequence_detectability(session, twin_path: str, envmaps: list, first_images: list,
                           spp: int, seeds: list[int], sampler: str = "independent") -> dict:
    """d' of a sequence against the surface's defect-free twin (``report.twin``): each
    shot's lights rendered with ``seeds`` (the first render is ``first_images[k]``) and
    judged by the observers; a defect counts in the shot where its d' is largest, so the
    sequence's per-defect d' is the maximum over the shots, and ``overall`` / ``min`` are
    their mean and minimum (``stderr``: None, the jackknife is per light). Returns
    ``{"npw": {...}, "cho": {...}, "best_shot": {"npw": [...], "cho": [...]}, "seeds",
    "window", "per_shot": [each shot's twin_detectability]}``."""
    from .twin import twin_detectability

    per = []
    for E, first in zip(envmaps, first_images):
        images = [first] + [session.render_final(E, spp, seed=s, label=f"seed {s}",
                                                 sampler=sampler) for s in seeds[1:]]
        per.append(twin_detectability(session, twin_path, E, images, spp, seeds,
                                      sampler=sampler))
    out = {"seeds": per[0]["seeds"], "window": per[0]["window"], "best_shot": {},
           "per_shot": per}
    for obs in ("npw", "cho"):
        rows = [p[obs]["per_defect"] for p in per]
        if not rows[0] or len({len(r) for r in rows}) != 1:
            out[obs] = {"overall": None, "stderr": None, "min": None, "per_defect": []}
            continue
        d = np.asarray(rows, np.float64)  # (shots, defects)
        out[obs] = {"overall": float(d.max(0).mean()), "stderr": None,
                    "min": float(d.max(0).min()), "per_defect": d.max(0).tolist()}
        out["best_shot"][obs] = (np.argmax(d, axis=0) + 1).tolist()
    return out


def shot_files(shots: int) -> list[str]:
    """The files a folder of ``shots`` shots holds (module docstring)."""
    per = [f"{stem}{k}.{ext}" for k in range(1, shots + 1)
           for stem, ext in (("envmap_shot", "exr"), ("envmap_shot", "png"),
                             ("after_shot", "png"), ("after_shot", "exr"))]
    return ["run.json", "envmap_initial.exr", "before.png", "before.exr", *per, "mask.png",
            "best_shot.png", "compare.png", "loss.png"]


def _best_shot_image(labels: np.ndarray, best: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8: each region in the colour of its best shot, black outside."""
    colours = np.concatenate([np.zeros((1, 3), np.uint8),
                              SHOT_COLOURS[best % len(SHOT_COLOURS)]])
    return colours[labels]


def write_sequence_results(out_dir, config, session, res, E0, labels, before, after,
                           objective_before, objective_after, shots, facts) -> dict:
    """Write the folder (module docstring); returns the ``run.json`` dictionary.

    Args:
        config: the run's ``OptimizeConfig``; session: its ``Session``;
        res: the ``shots_loop.SequenceResult``; E0: the initial single light (H, W, C);
        labels: (h, w) int regions; before, after: the final renders (h, w, 3) of E0 and
        of each shot; objective_before/after: ``shots_run.judge_sequence`` dictionaries;
        shots: each shot's ``Session.judge`` terms; facts: engine, times and seeds.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    K = len(after)
    best = np.asarray(objective_after["best_shot"])
    for k in range(K):
        write_exr(os.path.join(out_dir, f"envmap_shot{k + 1}.exr"), res.envmaps[k])
        write_envmap_preview(os.path.join(out_dir, f"envmap_shot{k + 1}.png"), res.envmaps[k])
        write_png(os.path.join(out_dir, f"after_shot{k + 1}.png"), after[k])
        write_exr(os.path.join(out_dir, f"after_shot{k + 1}.exr"), after[k])
    write_exr(os.path.join(out_dir, "envmap_initial.exr"), E0)
    write_png(os.path.join(out_dir, "before.png"), before)
    write_exr(os.path.join(out_dir, "before.exr"), before)
    write_png(os.path.join(out_dir, "mask.png"), labels > 0)
    best_image = _best_shot_image(labels, best)
    write_png(os.path.join(out_dir, "best_shot.png"), best_image)
    titles = [f"before (L_grad {objective_before['l_grad']:.3g})"]
    titles += [f"shot {k + 1} ({100 * objective_after['share'][k]:.0f} % of M)" for k in range(K)]
    side_by_side(os.path.join(out_dir, "compare.png"), [before, *after, best_image],
                 titles + [f"best shot (sequence L {objective_after['l_grad']:.3g})"])
    light = config.light
    plot_losses(os.path.join(out_dir, "loss.png"), {"loss": res.loss},
                title=f"{K} shots, {len(res.loss)} iterations, lam = {light.effective_lam:g}, "
                      f"p = {light.shot_power:g}, {facts['engine']} engine")
    for k, s in enumerate(shots):
        s.update(shot=k + 1, share=objective_after["share"][k],
                 envmap=f"envmap_shot{k + 1}.exr", after=f"after_shot{k + 1}.png")
    summary = {
        "command": "optimize", "config": config.to_dict(), "shots": shots,
        "lam": light.effective_lam, "loss": res.loss, "l_grad": res.l_grad, "l_l2": res.l_l2,
        "share": res.share, "iterations_done": len(res.loss), "interrupted": res.interrupted,
        "stopped": False, "time_s": res.time_s, **facts,
        "objective": "multi-shot: 1 / sum_r (n_r/n) (sum_k a_kr^p)^(1/p) + lam mean_k L_l2 "
                     f"(optimize.shots), p = {light.shot_power:g} while optimizing, the "
                     "maximum over shots (p = inf) in objective_before/after",
        "regions": int(labels.max()),
        "objective_before": objective_before, "objective_after": objective_after,
        "exaggeration_used": float(session.scene.spec.exaggeration),
        "mask_pixels": int((labels > 0).sum()), "image_shape": list(session.scene.image_shape),
        "heightmap_shape": list(session.scene.heightmap.shape), "device": session.variant,
        "versions": library_versions(), "files": shot_files(K),
    }
    write_json(os.path.join(out_dir, "run.json"), summary)
    return summary

