"""The surfaces of a set (``optimize --over``): one prepared height map, scene and session
per member.

A member's surface (:func:`member_surfaces`) is, before its pose:

- synthetic sets (``seeds``, ``synth.*``): ``SynthConfig`` with the member's synth values
  (``seeds`` as ``synth.seed``), generated with its defect-free twin when it has planted
  defects;
- ``files``: the member's file; otherwise the run's own height map (and ``--twin``);

each prepared as the run's ``surface`` options say (crop, fill, level, resample). Then the
pose (``surface.pose``): every member is turned by its ``rotation`` and cut to the central
window that every angle of the set and the held-out set keeps, and tilted by its ``tilt``
as rendered with the exaggeration of the first member (resolved once: every member is
rendered with it, so their objectives compare). Twins get the very same pose.

:func:`member_sessions` writes each member's map (and twin) as ``.npz`` into a folder and
opens a ``Session`` on it (prepared already: no levelling, no resampling), with the run's
scene and mask. Memory: each in-set member keeps its own scene and two transport matrices;
:func:`check_memory` refuses a set whose matrices (``engines.choice.transport_bound_bytes``,
at their largest) exceed the budget.
"""
from __future__ import annotations

import dataclasses
import os
import types

from ..errors import InputError

__all__ = ["member_surfaces", "member_sessions", "check_memory", "set_exaggeration"]


def _prepare(cfg, hm):
    from ..surface.prepare import prepare

    s = cfg.surface
    crop = None if s.crop is None else tuple(int(v) for v in s.crop)
    return prepare(hm, level=s.level, crop_box=crop,
                   max_size=s.max_size if s.max_size and s.max_size > 0 else None)


def _source(cfg, member, cache: dict):
    """(heights, twin or None) of ``member`` before its pose, prepared; ``cache`` keeps the
    maps read or generated so far by their origin."""
    from ..io import read_heightmap
    from ..optimize.robust_set import is_synthetic, synth_config

    if is_synthetic([member]):
        synth = synth_config(member)[0]
        key = repr(synth)
        if key not in cache:
            twin = None
            if synth.scratches or synth.dents:
                twin = _prepare(cfg, synth.synthesize(defects=False))
            cache[key] = (_prepare(cfg, synth.synthesize()), twin)
        return cache[key]
    path = member.get("files") or cfg.surface.path
    twin_path = None if member.get("files") else cfg.twin
    if path not in cache:
        try:
            hm = read_heightmap(os.fspath(path))
        except InputError as e:
            raise InputError("over", f"{path}: {e.problem}") from None
        twin = _prepare(cfg, read_heightmap(twin_path)) if twin_path else None
        cache[path] = (_prepare(cfg, hm), twin)
    return cache[path]


def set_exaggeration(cfg, first) -> float:
    """The exaggeration every member is rendered with: the scene's number, or 'auto'
    resolved on the first member's posed map ``first`` (``scene.mesh.auto_exaggeration``)."""
    from ..scene.mesh import auto_exaggeration

    e = cfg.scene.exaggeration
    return float(auto_exaggeration(first) if e == "auto" else e)


def member_surfaces(cfg, members: list, held_out: list) -> tuple[list, list, float]:
    """(maps, twins, exaggeration): the posed ``HeightMap`` of every member of ``members``
    then ``held_out`` (module docstring), their twins (None where there is none) and the
    set's exaggeration."""
    from ..surface.pose import central_window, rotate_heightmap, rotation_window, tilt_heightmap

    everyone = [*members, *held_out]
    angles = sorted({float(m.get("rotation", 0.0)) for m in everyone})
    cache: dict = {}
    posed, twins = [], []
    for m in everyone:
        hm, twin = _source(cfg, m, cache)
        if any(a != 0.0 for a in angles):
            side = rotation_window(hm.shape, angles)
            if side < 8:
                raise InputError("over", f"rotations of {max(map(abs, angles)):g} degrees leave "
                                         f"a window of {side} points")
            turn = lambda x: central_window(rotate_heightmap(x, m.get("rotation", 0.0)), side)
            hm, twin = turn(hm), None if twin is None else turn(twin)
        posed.append(hm)
        twins.append(twin)
    e = set_exaggeration(cfg, posed[0])
    for k, m in enumerate(everyone):
        t = float(m.get("tilt", 0.0))
        posed[k] = tilt_heightmap(posed[k], t, e)
        twins[k] = None if twins[k] is None else tilt_heightmap(twins[k], t, e)
    return posed, twins, e


def check_memory(cfg, n: int) -> tuple[str, int]:
    """(engine, bytes): the engine of a set of ``n`` in-set members ('transport' unless the
    run asks for 'ad') and the bytes its transport matrices may take at their largest
    (``n`` resident pairs plus one build's extra); InputError when over the budget."""
    from ..engines.choice import default_memory_budget, transport_bound_bytes

    opt = cfg.optimizer
    if opt.engine == "ad":
        return "ad", 0
    shape = types.SimpleNamespace(image_shape=(cfg.scene.height, cfg.scene.width),
                                  envmap_shape=tuple(cfg.light.envmap_size))
    resident, peak = transport_bound_bytes(shape, opt.spp)
    need = (n - 1) * resident + peak
    budget = opt.memory_budget_bytes or default_memory_budget()
    if need > budget:
        raise InputError("over", f"{n} members' transport matrices may take "
                                 f"{need / 2 ** 30:.2f} GiB, over the budget of "
                                 f"{budget / 2 ** 30:.2f} GiB; use fewer members, a smaller "
                                 "image, --memory-budget or --engine ad")
    return "transport", need


def member_sessions(session_class, cfg, maps: list, twins: list, exaggeration: float,
                    folder: str, progress: bool = False) -> tuple[list, list]:
    """(sessions, twin files): a ``session_class`` (``session.Session``) per map, read from
    ``folder``/member_NN.npz (written here, twins as member_NN_twin.npz), with the run's
    scene at ``exaggeration`` and the mask of ``cfg.light``."""
    from tqdm.auto import tqdm

    from ..io import write_npz
    from ..scene import constant_envmap
    from ..surface import SurfaceConfig

    os.makedirs(folder, exist_ok=True)
    spec = dataclasses.replace(cfg.scene, exaggeration=float(exaggeration))
    sessions, twin_files = [], []
    for k, (hm, twin) in enumerate(tqdm(list(zip(maps, twins)), desc="set's scenes",
                                        disable=not progress, dynamic_ncols=True)):
        path = os.path.join(folder, f"member_{k:02d}.npz")
        write_npz(path, hm)
        twin_path = None
        if twin is not None:
            twin_path = os.path.join(folder, f"member_{k:02d}_twin.npz")
            write_npz(twin_path, twin)
        s = session_class(SurfaceConfig(path=path, max_size=0, level=False), spec,
                          device=cfg.device,
                          envmap=constant_envmap(0.5, tuple(cfg.light.envmap_size)))
        s.set_mask(cfg.light.mask, cfg.light)
        sessions.append(s)
        twin_files.append(twin_path)
    return sessions, twin_files
