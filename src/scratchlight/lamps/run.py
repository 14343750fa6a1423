"""``scratchlight lamps`` in one call: from a light to a buildable rig and its files.

``run_lamps(cfg, out_dir)`` reads the light and the surface, builds the transport engine
(two matrices of ``cfg.spp`` paths per pixel, from the cache when it can), and then

- lamp mode: for K = 1 .. ``max_count`` lamps, starts from the light's K brightest
  clusters, fits the lamps' footprints to the light itself (the best K-lamp copy of it),
  then fits them to the scratch objective through T; every rig and the full map are
  judged on independent Mitsuba renders; the smallest K within ``tolerance`` of the full
  map is recommended and K = ``count`` (default: the recommended) is exported;
- dome mode (``lamps.dome``): optimizes the layout's channel levels (``dome.py``).

The folder receives ``lamps.csv``/``lamps.json`` (or ``channels.csv``/``.json``),
``scene.xml`` + ``surface.ply`` + ``rig_envmap.exr`` (Mitsuba), ``blender_rig.py`` +
``blender_world.exr`` (Blender: sun lights or the rig's map as the world),
``rig.png``/``.exr`` and ``full.png``/``.exr`` (the judged renders), ``compare.png``,
``rig_envmap.png``, ``report.csv``/``report.png`` and ``run.json``.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time

import numpy as np

from ..config import config_to_dict
from ..io import write_exr, write_json, write_png
from ..report.figures import envmap_preview, side_by_side
from .config import LampsConfig, read_light
from .fit import RigBounds, cap_rig, fit_to_map
from .powers import fit_to_objective
from .footprint import rig_footprint
from .objective import LinearLight, RigObjective
from .report import judge_light, recommend, write_report

__all__ = ["run_lamps", "lamps_with_power"]


def _bounds(rig) -> RigBounds:
    return RigBounds(min_elevation_deg=rig.min_elevation, min_diameter_deg=rig.min_diameter,
                     max_diameter_deg=rig.max_diameter, max_length_deg=rig.max_length)


def _direction(lamp) -> np.ndarray:
    return np.array([math.sin(lamp.theta) * math.cos(lamp.alpha),
                     math.sin(lamp.theta) * math.sin(lamp.alpha), math.cos(lamp.theta)])


def _new_lamp(candidates, rig):
    """Of ``candidates``, the lamp whose direction is farthest from every lamp of ``rig``."""
    return max(candidates, key=lambda c: min(np.arccos(np.clip(_direction(c) @ _direction(l),
                                                               -1.0, 1.0)) for l in rig))


def lamps_with_power(lamps, relative: float = 1e-3) -> list:
    """The lamps whose power is above ``relative`` times the brightest's (a lamp at 0 is
    switched off: it is neither counted, listed nor exported)."""
    top = max((l.power for l in lamps), default=0.0)
    return [l for l in lamps if top > 0 and l.power > relative * top]


def _lamp_rigs(cfg, E, objective, log):
    """{K: (start rig, fitted rig)} for every K of the report.

    Each K is fitted from two starts, the light's K brightest clusters and the fitted
    (K - 1)-lamp rig plus the cluster lamp farthest from its lamps, and keeps the better;
    when neither beats the (K - 1)-lamp rig, K is that rig with one lamp off. So the
    objective of the best K-lamp rig never rises with K."""
    from .clusters import initial_lamps
    from .fit import LampFit

    rig, bounds = cfg.lamps, _bounds(cfg.lamps)
    fits, prev = {}, None
    for K in rig.counts:
        t0 = time.perf_counter()
        start = initial_lamps(E, K, rig.kind, rig.threshold, math.radians(rig.min_diameter),
                              math.radians(rig.max_diameter), math.radians(rig.max_length),
                              math.radians(rig.min_elevation))
        copy = fit_to_map(start, E, iterations=2 * rig.iterations, lr=rig.lr,
                          bounds=dataclasses.replace(bounds, peak=None)).lamps
        copy = cap_rig([bounds.project(l, E.shape) for l in copy], E.shape, bounds.peak)
        fit = fit_to_objective(copy, objective, iterations=rig.iterations, lr=rig.lr, bounds=bounds)
        how = "from the clusters"
        if prev is not None and len(prev.lamps) == K - 1:
            grown_start = prev.lamps + [_new_lamp(start, prev.lamps)]
            grown = fit_to_objective(grown_start, objective, iterations=rig.iterations,
                                     lr=rig.lr, bounds=bounds)
            if grown.best_loss < fit.best_loss:
                copy, fit, how = grown_start, grown, f"from the {K - 1}-lamp rig plus one"
            if prev.best_loss <= fit.best_loss:
                off = dataclasses.replace(_new_lamp(start, prev.lamps), power=0.0)
                copy = prev.lamps + [off]
                fit = LampFit(copy, prev.footprint, [prev.best_loss], prev.best_loss)
                how = f"the {K - 1}-lamp rig with one lamp off"
        fits[K] = (copy, fit)
        prev = fit
        log(f"K = {K}: objective (transport) {fit.loss[0]:.4g} -> {fit.best_loss:.4g}, "
            f"{how} ({time.perf_counter() - t0:.1f} s)")
    return fits


def run_lamps(cfg: LampsConfig, out_dir: str | os.PathLike, progress: bool = True) -> dict:
    """Run ``cfg`` and write its folder ``out_dir``; returns the ``run.json`` dictionary."""
    from ..report.results import library_versions
    from ..session import Session
    from .dome import channel_footprints, optimize_dome, read_layout
    from .blender import write_blender_files
    from .exports import write_mitsuba_scene
    from .table import camera_info, channel_rows, lamp_rows, write_table

    t_start = time.perf_counter()
    log = print if progress else (lambda *a, **k: None)
    cfg.validate()
    E = read_light(cfg.source)                       # bad input fails before any work
    channels = read_layout(cfg.lamps.dome) if cfg.lamps.dome else None
    out_dir = os.fspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        from ..errors import InputError

        raise InputError(out_dir, "exists and is not a folder")
    shape = E.shape
    session = Session(cfg.surface, cfg.scene, device=cfg.device, progress=progress,
                      envmap=E[..., None].astype(np.float32))
    session.set_mask(cfg.light.mask, cfg.light)
    engine = session.transport_engine(cfg.spp, cfg.seed, shape)  # from the session's pool
    objective = RigObjective(LinearLight.from_engine(engine), session.mask,
                             cfg.light.effective_lam, cfg.light.l2_target)
    full_t = objective(E, grad=False)
    log(f"full map: objective (transport) {full_t.loss:.4g}")
    judge = lambda F: judge_light(session, F, cfg.light, cfg.seeds, cfg.final_spp, cfg.seed)
    full = judge(E)
    full.update(loss_transport=full_t.loss)
    camera = camera_info(session.scene)
    rows, files, extra = [], [], {}
    if channels is None:
        fits = _lamp_rigs(cfg, E, objective, log)
        judged = {}
        for K, (copy, fit) in fits.items():
            j = judge(fit.footprint)
            judged[K] = j
            rows.append({"rig": f"{K} {cfg.lamps.kind}", "count": K,
                         "lamps_with_power": len(lamps_with_power(fit.lamps)),
                         "loss_vs_full": j["loss"] / full["loss"],
                         "loss_transport": fit.best_loss,
                         "loss_start_transport": objective(rig_footprint(copy, shape), grad=False).loss,
                         **{k: v for k, v in j.items() if k != "image"}})
        recommended, within = recommend([r for r in rows if r["count"] <= cfg.lamps.max_count],
                                        full["loss"], cfg.lamps.tolerance)
        K = cfg.lamps.count or recommended
        lamps, F, rig_image = fits[K][1].lamps, fits[K][1].footprint, judged[K]["image"]
        lamps = lamps_with_power(lamps)  # a lamp switched off is not part of the rig
        table = lamp_rows(lamps, camera, shape)
        extra = {"recommended_count": recommended, "recommended_within_tolerance": within,
                 "exported_count": len(lamps)}
        write_table(out_dir, "lamps", table, {"camera": camera, **extra,
                                              "objective": {k: v for k, v in judged[K].items()
                                                            if k != "image"}})
        files += ["lamps.csv", "lamps.json"]
        title = f"{len(lamps)} {cfg.lamps.kind} lamp(s)"
    else:
        feet = channel_footprints(channels, shape)
        images = np.stack([objective.light.image(f) for f in feet])
        t0 = time.perf_counter()
        res = optimize_dome(channels, images, feet, session.mask, cfg.light.effective_lam,
                            cfg.light.l2_target, light=E)
        log(f"dome: {len(channels)} channels, objective (transport) {res.terms['loss']:.4g} "
            f"in {time.perf_counter() - t0:.1f} s")
        if res.gain_limited:
            log(f"dome: {len(res.gain_limited)} channel(s) at full drive would light the "
                f"part better brighter: {', '.join(res.gain_limited)} (raise their gain)")
        F = res.footprint
        j = judge(F)
        rig_image = j["image"]
        rows.append({"rig": "dome", "count": None, "loss_vs_full": j["loss"] / full["loss"],
                     "loss_transport": res.terms["loss"], **{k: v for k, v in j.items() if k != "image"}})
        recommended = None
        extra = {"layout": cfg.lamps.dome, "best_single_channel": dict(zip(
            ("channel", "level", "loss_transport"), res.best_single)),
            "best_uniform": dict(zip(("level", "loss_transport"), res.best_uniform)),
            "gain_limited_channels": res.gain_limited}
        write_table(out_dir, "channels", channel_rows(channels, res.levels, camera),
                    {"camera": camera, **extra, "objective": {k: v for k, v in j.items() if k != "image"}})
        files += ["channels.csv", "channels.json"]
        title = f"dome: {len(channels)} channels"
        lamps = None
    spec = session.scene.spec
    files += write_blender_files(out_dir, lamps, F, camera, spec.material, spec.roughness,
                                 spec.max_depth)
    files += write_mitsuba_scene(out_dir, session.scene, camera, F, cfg.final_spp,
                                 comment=f"scratchlight lamps: {title}; the rig as an "
                                         f"environment map on the light's {shape[0]} x "
                                         f"{shape[1]} texels")
    for name, img in (("rig", rig_image), ("full", full["image"])):
        write_png(os.path.join(out_dir, f"{name}.png"), img)
        write_exr(os.path.join(out_dir, f"{name}.exr"), img)
    write_png(os.path.join(out_dir, "rig_envmap.png"), envmap_preview(F[..., None]))
    side_by_side(os.path.join(out_dir, "compare.png"),
                 [full["image"], rig_image, envmap_preview(E[..., None]), envmap_preview(F[..., None])],
                 ["full map", title, "full map (light)", "rig (footprint)"])
    files += ["rig.png", "rig.exr", "full.png", "full.exr", "rig_envmap.png", "compare.png"]
    files += write_report(out_dir, rows, {k: v for k, v in full.items() if k != "image"},
                          recommended, f"{os.path.basename(cfg.surface.path)}: rigs vs full map")
    summary = {"command": "lamps", "config": config_to_dict(cfg), "device": session.variant,
               "envmap_shape": list(shape), "mode": "dome" if channels else "lamps",
               "full": {k: v for k, v in full.items() if k != "image"}, "rigs": rows, **extra,
               "files": files + ["run.json"], "versions": library_versions(),
               "time_s": round(time.perf_counter() - t_start, 2)}
    write_json(os.path.join(out_dir, "run.json"), summary)
    return summary
