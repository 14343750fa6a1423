"""d' of every planted scratch under every light: plates, twins, camera frames, observer.

For each surface seed, the defect-free surface (the twin) and its plates (the twin with up
to grid^2 scratches of the sweep, ``plant``) are each one :class:`~scratchlight.session.Session`
with the same scene: the same resolved exaggeration and the camera frozen where the twin
puts it (an oblique camera's distance depends on the relief's height range, which a deep
scratch would change). Each is rendered once per light with the same render seed, so the
Monte Carlo noise of pixels away from the scratches is the same in plate and twin and
cancels in their difference. Near a scratch it does not cancel; with ``renders=2`` (the
default) every plate and twin is rendered with two seeds, and the observer's two halves of
the camera frames come from different renders, so that this noise does not count as
signal (``report.detectability`` estimates s.s from two independent halves). With ``engine='transport'`` a plate's transport matrix is
built once and every light is a relight (T E, milliseconds); with 'ad' every light is a
Mitsuba render (cheaper for one or two lights). The inspection camera (``camera``) draws
its noisy 8-bit frames from each render, and the display observer of
``report.detectability`` gives each scratch's d' against the twin's frames (background
known statistically: the twin's windows hold the machining marks and the camera noise).
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import tempfile

import numpy as np

from ..errors import InputError
from .camera import camera_frames
from .config import PodConfig, light_array, light_label
from .plant import Defect, plant_plate

__all__ = ["RENDER_SEED", "sweep_defects", "plates_of", "measure_defects", "frozen_scene"]

RENDER_SEED = 24_680
"""Seed of every render of a pod run (plates and twins share it: correlated sampling)."""


def sweep_defects(cfg: PodConfig) -> list[Defect]:
    """Every defect of the sweep: depths x widths x orientations on each surface seed."""
    out = []
    for s in range(cfg.seeds):
        for depth, width, angle in itertools.product(cfg.depths_um, cfg.widths_um,
                                                     cfg.orientations_deg):
            out.append(Defect(len(out), depth * 1e-6, width * 1e-6, float(angle), cfg.seed + s))
    return out


def plates_of(cfg: PodConfig, defects: list[Defect]) -> list[list[Defect]]:
    """The defects of each seed, shuffled (so that size and orientation are not tied to a
    place on the surface) and cut into plates of grid^2."""
    per = cfg.grid * cfg.grid
    plates = []
    for s in sorted({d.seed for d in defects}):
        mine = [d for d in defects if d.seed == s]
        order = np.random.default_rng([cfg.seed, s, 1]).permutation(len(mine))
        mine = [mine[i] for i in order]
        plates += [mine[i:i + per] for i in range(0, len(mine), per)]
    return plates


def _base_heightmap(cfg: PodConfig, seed: int):
    """The prepared defect-free surface of ``seed``: synthetic, or the measured map."""
    if cfg.surface.path:
        from ..surface import load_surface

        return load_surface(cfg.surface)[1]
    from ..surface.synthetic import synthesize

    return synthesize(cfg.kind, size=cfg.size, seed=seed)


def frozen_scene(cfg: PodConfig, hm):
    """``cfg.scene`` with its exaggeration resolved and an oblique camera turned into the
    custom camera it is for ``hm`` (the twin), so that every plate is seen from there."""
    from ..scene.camera import CameraSpec, camera_to_world
    from ..scene.mesh import auto_exaggeration, units_per_metre

    spec = cfg.scene
    exaggeration = auto_exaggeration(hm) if spec.exaggeration == "auto" else spec.exaggeration
    spec = dataclasses.replace(spec, exaggeration=float(exaggeration))
    if spec.camera.preset != "oblique":
        return spec
    upm = units_per_metre(hm)
    w, h = hm.size_m
    half_z = float(np.ptp(hm.heights)) * upm * spec.exaggeration / 2 + 1e-6
    _, origin, target, _, fov = camera_to_world(spec.camera, w * upm / 2, h * upm / 2, half_z,
                                                spec.width / spec.height)
    camera = CameraSpec(preset="custom", origin=tuple(float(v) for v in origin),
                        target=tuple(float(v) for v in target), fov_deg=float(fov))
    return dataclasses.replace(spec, camera=camera)


def _images(session, lights: list[np.ndarray], engine: str, spp: int,
            renders: int) -> list[list[np.ndarray]]:
    """Per light, ``renders`` linear images (h, w, 3) with the render seeds RENDER_SEED + k."""
    out = [[] for _ in lights]
    for k in range(renders):
        for i, E in enumerate(lights):
            if engine == "transport":
                T = session.transport_engine(spp, RENDER_SEED + k, np.shape(E)[:2],
                                             decorrelate=False)
                out[i].append(T.relight(E))
            else:
                out[i].append(session.render_final(E, spp, seed=RENDER_SEED + k))
        if engine == "transport":
            session.drop_engines()  # this seed's matrix is not needed again in this run
    return out


def _frames(images: list[np.ndarray], camera, rng) -> list[np.ndarray]:
    """``camera.frames`` frames, frame j drawn from render j mod len(images): the observer's
    two halves of the frames (even, odd) then come from different renders when there are
    two, so their Monte Carlo noise is independent."""
    n = len(images)
    per = [camera_frames(I, camera, rng, frames=len(range(k, camera.frames, n)))
           for k, I in enumerate(images)]
    return [per[j % n][j // n] for j in range(camera.frames)]


def _noise(cfg: PodConfig, seed: int, render: int) -> np.random.Generator:
    """The camera-noise generator of one render (0: the twin of surface ``seed``, p + 1:
    plate p), fresh for every light."""
    return np.random.default_rng([cfg.seed, seed, 2, render])


def measure_defects(cfg: PodConfig, progress: bool = True, lights: dict | None = None) -> dict:
    """Plant, render and observe the whole sweep of ``cfg``.

    Args:
        cfg: the run's config (validated here).
        progress: a tqdm bar over the renders.
        lights: {name: (H, W, C) envmap} to use instead of ``cfg.lights``.

    Returns ``{"rows": [...], "engine", "scene", "device", "lights", "renders"}``: one row per
    defect and light with ``light``, ``seed``, ``defect``, ``plate``, ``depth_um``,
    ``width_um``, ``orientation_deg``, ``size_um`` (the a of POD(a)), ``pixels`` (image
    pixels of its truth), ``dprime_npw``, ``dprime_cho``, ``dprime`` (the chosen observer's)
    and ``hit`` (1, 0, or None when the scratch covers no usable pixel, ``note`` says why).
    """
    from tqdm.auto import tqdm

    from ..io import write_npz
    from ..report.detectability import detectability
    from ..session import Session
    from ..surface import SurfaceConfig

    cfg.validate()
    if lights is None:
        lights = {light_label(t): light_array(t) for t in cfg.lights}
    names, maps = list(lights), [np.asarray(v, np.float32) for v in lights.values()]
    engine = cfg.engine if cfg.engine != "auto" else ("transport" if len(maps) >= 3 else "ad")
    defects = sweep_defects(cfg)
    plates = plates_of(cfg, defects)
    seeds = sorted({d.seed for d in defects})
    rows, facts, bar = [], {}, None
    with tempfile.TemporaryDirectory(prefix="scratchlight-pod-") as tmp:
        for s in seeds:
            hm = _base_heightmap(cfg, s)
            path = os.path.join(tmp, f"surface-{s}.npz")
            write_npz(path, hm.replace(truth=None))
            mine = [(p, pl) for p, pl in enumerate(plates) if pl[0].seed == s]
            # planted before anything is rendered: a scratch that does not fit fails first
            planted = [plant_plate(hm.shape, hm.dx, plate, cfg.grid, profile=cfg.profile,
                                   rng=np.random.default_rng([cfg.seed, s, 3, p]))
                       for p, plate in mine]
            if bar is None:  # (after the first planting: its error is the only output)
                bar = tqdm(total=len(plates) + len(seeds), desc="pod renders", unit="render",
                           disable=not progress)
            spec = frozen_scene(cfg, hm)
            surface = SurfaceConfig(path=path, max_size=0, level=False)
            twin = Session(surface, spec, device=cfg.device, envmap=maps[0])
            facts.setdefault("scene", spec)
            facts.setdefault("device", twin.variant)
            mask = twin.object_mask
            # every light's frames of a render get their own generator, the same for every
            # light (common random numbers): a light's noise does not depend on which
            # lights were measured before it (Poisson draws a number of values that
            # depends on the image)
            twin_frames = [_frames(imgs, cfg.camera, _noise(cfg, s, 0))
                           for imgs in _images(twin, maps, engine, cfg.spp, cfg.renders)]
            bar.update(1)
            for (p, plate), (removal, labels) in zip(mine, planted):
                session = Session(surface, spec, device=cfg.device, envmap=maps[0],
                                  before_prepare=lambda h, r=removal: h.replace(heights=h.heights - r))
                if session.heightmap.shape != hm.shape:
                    raise InputError("surface", "the plate's grid differs from its twin's")
                frames = [_frames(imgs, cfg.camera, _noise(cfg, s, p + 1))
                          for imgs in _images(session, maps, engine, cfg.spp, cfg.renders)]
                for k, defect in enumerate(plate):
                    truth = session.scene.cell_mask_to_image(labels == k + 1) & mask
                    for li, name in enumerate(names):
                        rows.append(_row(cfg, defect, p, name, truth, frames[li],
                                         twin_frames[li], mask, detectability))
                bar.update(1)
    bar.close()
    rows.sort(key=lambda r: (names.index(r["light"]), r["defect"]))
    return {"rows": rows, "engine": engine, "scene": facts["scene"], "device": facts["device"],
            "lights": names,
            "renders": (len(plates) + len(seeds)) * cfg.renders * (len(maps) if engine == "ad" else 1)}


def _row(cfg: PodConfig, defect: Defect, plate: int, light: str, truth, with_frames,
         without_frames, mask, detectability) -> dict:
    size = defect.depth if cfg.size_by == "depth" else defect.width
    row = {"light": light, "seed": defect.seed, "defect": defect.index, "plate": plate,
           "depth_um": round(defect.depth * 1e6, 9), "width_um": round(defect.width * 1e6, 9),
           "orientation_deg": defect.orientation_deg, "size_um": round(size * 1e6, 9),
           "pixels": int(truth.sum()), "dprime_npw": None, "dprime_cho": None, "dprime": None,
           "hit": None, "note": ""}
    if not truth.any():
        row["note"] = "the scratch covers no pixel of the surface's image"
        return row
    d = detectability(with_frames, without_frames, truth, mask, window=cfg.window)
    if d["npw"]["overall"] is None:
        row["note"] = d["note"]
        return row
    row["dprime_npw"], row["dprime_cho"] = d["npw"]["overall"], d["cho"]["overall"]
    row["dprime"] = row[f"dprime_{cfg.observer}"]
    row["hit"] = int(row["dprime"] >= cfg.threshold)
    return row
