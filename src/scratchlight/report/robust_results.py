"""A run of one light for a set of surfaces (``optimize --over SET``) and its folder.

``run_robust`` is what ``session.run_optimization`` runs when ``cfg.over`` is set. The
members and held-out members are ``optimize.robust_set``'s (the grammar), the target and
the loop ``optimize.robust``'s, the members' surfaces and sessions
``report.robust_members``'s. Two lights are optimized from the same start (``light.init``
on the first member) with the same seeds and iterations:

- the robust light, for the target (``--over-target``: mean or cvar:Q) over the in-set
  members, each its own scene and engine (transport: T_m E and T_m^T g per member);
- the single-surface light, for the first member alone (today's run on that surface).

Both are judged on every in-set and held-out member by an independent Mitsuba render at
``final_spp`` (the seed of ``Session.render_final``): the objective (loss, L_grad) of the
member's mask, and where the member has a defect-free twin (synthetic members with planted
defects, or the run's ``--twin``) the display observer's d' from two seeds. The summary
gives, per light, the mean, the worst and the target over the in-set and over the held-out
members, and the held-out gap: single minus robust (objective: lower is better, so a
positive gap favours the robust light).

Cost: N in-set members take N scenes and N engines (N pairs of transport matrices, bounded
by ``robust_members.check_memory``); an iteration renders N images and back-propagates
the members the target counts; the single-surface light adds one engine's iterations;
judging takes 2 (N + H) final renders, 4 (N + H) more for d'.

The folder: ``envmap.exr`` / ``.png`` (the robust light), ``envmap_single.exr`` / ``.png``,
``envmap_initial.exr``, ``robust.csv`` (one row per member and light), ``loss.png`` (both
runs' targets), ``members.png`` (each member's judged objective under both lights, the
held-out members shaded), ``compare.png`` (the first held-out member, or the first member, under both
lights), ``members/`` (each member's posed height map and twin as .npz) and ``run.json``
(the nested config, replayable with ``--config``; ``robust`` holds rows and summary).
"""
from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time

import numpy as np

from ..errors import InputError
from ..io import write_exr, write_json
from ..io.atomic import atomic_path
from .figures import plot_losses, pyplot, side_by_side, write_envmap_preview
from .results import library_versions

__all__ = ["run_robust", "summarize", "summary_lines", "ROBUST_FILES"]

ROBUST_FILES = ["run.json", "envmap.exr", "envmap.png", "envmap_single.exr",
                "envmap_single.png", "envmap_initial.exr", "robust.csv", "loss.png",
                "compare.png", "members.png"]
LIGHTS = ("robust", "single")


def _judge(session, twin, E, light, spp, seed, name, progress, sampler="independent"):
    """The objective terms of ``E`` on ``session`` (and d' against ``twin``), its render
    with Mitsuba's ``sampler``."""
    from .twin import twin_detectability

    image = session.render_final(E, spp, seed=seed, label=f"{name} ({spp} spp)",
                                 sampler=sampler)
    out = session.judge(image, E, light, session.mask)
    out["d_prime"] = out["d_prime_min"] = None
    if twin is not None and session.truth_mask() is not None and session.truth_mask().any():
        seeds = [seed, seed + 1]
        images = [image, session.render_final(E, spp, seed=seeds[1], sampler=sampler)]
        d = twin_detectability(session, twin, E, images, spp, seeds, sampler=sampler)
        out["d_prime"], out["d_prime_min"] = d["npw"]["overall"], d["npw"]["min"]
    return out, image


def _stats(rows, light, part, fraction):
    from ..optimize.robust import set_target

    picked = [r[light] for r in rows if r["set"] == part]
    if not picked:
        return None
    losses = [p["loss"] for p in picked]
    d = [p["d_prime"] for p in picked if p["d_prime"] is not None]
    return {"members": len(picked), "mean": float(np.mean(losses)), "worst": float(max(losses)),
            "target": set_target(losses, fraction)[0],
            "d_prime_mean": float(np.mean(d)) if d else None,
            "d_prime_min": float(min(d)) if d else None}


def summarize(rows: list, fraction: float) -> dict:
    """Per light ('robust', 'single') and part ('in', 'held_out'): members, mean, worst and
    target of the judged objective, mean and least d'; ``gap``: single minus robust of the
    held-out mean and worst objective (positive: the robust light holds better)."""
    out = {light: {"in": _stats(rows, light, "in", fraction),
                   "held_out": _stats(rows, light, "held-out", fraction)} for light in LIGHTS}
    r, s = out["robust"]["held_out"], out["single"]["held_out"]
    out["gap"] = None if r is None else {"held_out_mean": s["mean"] - r["mean"],
                                         "held_out_worst": s["worst"] - r["worst"]}
    return out


def run_robust(session_class, cfg, out_dir: str | os.PathLike, final_render_seed: int,
               progress: bool = True) -> dict:
    """Optimize one light for the set ``cfg.over`` and the first member's own light, judge
    both on the in-set and held-out members and write the folder (module docstring);
    returns the ``run.json`` dictionary. ``session_class``: ``session.Session``."""
    from ..optimize.robust import optimize_over
    from ..optimize.robust_set import held_out_members, parse_set, parse_target
    from .robust_members import check_memory, member_sessions, member_surfaces

    t_start = time.perf_counter()
    cfg.validate()
    light, opt = cfg.light, cfg.optimizer
    members = parse_set(cfg.over)
    held = held_out_members(cfg.over, cfg.held_out)
    fraction = parse_target(cfg.over_target)
    posed = any(m.get("rotation") or m.get("tilt") for m in [*members, *held])
    if posed and light.mask not in ("object", "scratch"):
        raise InputError("over", "a region file in the height map's grid cannot follow a "
                                 "rotation or tilt; use --mask object or scratch")
    engine_name, bound = check_memory(cfg, len(members))
    out_dir = os.fspath(out_dir)
    work = tempfile.mkdtemp(prefix="scratchlight-set-")
    try:
        maps, twins, exaggeration = member_surfaces(cfg, members, held)
        sessions, twin_files = member_sessions(session_class, cfg, maps, twins, exaggeration,
                                               work, progress)
        t0 = time.perf_counter()
        engines = []
        for s in sessions[:len(members)]:
            eng = s.engine(engine_name, opt.spp, cfg.seed, tuple(light.envmap_size))
            if engine_name == "transport":
                eng.set_noise(opt.transport_noise)
                eng.set_warmup(opt.transport_warmup)
            engines.append(eng)
        setup_s = time.perf_counter() - t0
        objectives = [s.objective_function(light, s.mask) for s in sessions[:len(members)]]
        E0 = sessions[0].initial_envmap(light, cfg.seed)
        robust = optimize_over(engines, objectives, E0, light, opt, fraction=fraction,
                               seed=cfg.seed, progress=progress,
                               label=f"optimize {len(members)} surfaces")
        single = optimize_over(engines[:1], objectives[:1], E0, light, opt, seed=cfg.seed,
                               progress=progress, label="optimize the first alone")
        rows, shown = [], []
        everyone = [*members, *held]
        for k, (m, s) in enumerate(zip(everyone, sessions)):
            row = {"member": m.label, "set": "in" if k < len(members) else "held-out",
                   "file": f"members/member_{k:02d}.npz"}
            for name, E in (("robust", robust.envmap), ("single", single.envmap)):
                row[name], image = _judge(s, twin_files[k], E, light, opt.final_spp,
                                          final_render_seed, f"{m.label}, {name} light",
                                          progress, opt.judge_sampler)
                if k == (len(members) if held else 0):
                    shown.append(image)
            rows.append(row)
        summary = summarize(rows, fraction)
        facts = {"engine": engine_name, "engine_setup_s": setup_s,
                 "transport_bound_bytes": bound, "exaggeration_used": exaggeration,
                 "total_time_s": time.perf_counter() - t_start}
        doc = _write(out_dir, cfg, sessions[0], members, held, rows, summary, robust, single,
                     E0, shown, facts, final_render_seed)
        dest = os.path.join(out_dir, "members")
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        shutil.move(work, dest)
        return doc
    finally:
        if os.path.isdir(work):
            shutil.rmtree(work)


def _write_csv(path, rows):
    keys = ("loss", "l_grad", "l_l2", "mean_gradient", "d_prime", "d_prime_min")
    with atomic_path(path, suffix=".csv") as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["member", "set", "light", *keys])
            for r in rows:
                for light in LIGHTS:
                    w.writerow([r["member"], r["set"], light,
                                *("" if r[light].get(k) is None else f"{r[light][k]:.6g}"
                                  for k in keys)])


def _plot_members(path, rows, target):
    """Bars of the judged objective per member under both lights, held-out ones shaded."""
    plt = pyplot()
    n = len(rows)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * n + 2), 3.6), dpi=120)
    x = np.arange(n)
    for k, (light, title) in enumerate((("robust", f"set ({target})"),
                                        ("single", "first member alone"))):
        ax.bar(x + (k - 0.5) * 0.38, [r[light]["loss"] for r in rows], 0.38, label=title)
    for i, r in enumerate(rows):
        if r["set"] == "held-out":
            ax.axvspan(i - 0.5, i + 0.5, color="0.9", zorder=0)
    ax.set_xticks(x, [r["member"] for r in rows], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("objective (lower is better)")
    ax.set_title("judged on each member (shaded: held out)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _write(out_dir, cfg, first, members, held, rows, summary, robust, single, E0, shown,
           facts, final_render_seed) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    for name, E in (("envmap", robust.envmap), ("envmap_single", single.envmap)):
        write_exr(os.path.join(out_dir, f"{name}.exr"), E)
        write_envmap_preview(os.path.join(out_dir, f"{name}.png"), E)
    write_exr(os.path.join(out_dir, "envmap_initial.exr"), E0)
    _write_csv(os.path.join(out_dir, "robust.csv"), rows)
    _plot_members(os.path.join(out_dir, "members.png"), rows, cfg.over_target)
    plot_losses(os.path.join(out_dir, "loss.png"),
                {f"set ({cfg.over_target})": robust.loss, "first member alone": single.loss},
                title=f"{len(members)} surfaces, {len(robust.loss)} iterations")
    where = rows[len(members)]["member"] if held else rows[0]["member"]
    side_by_side(os.path.join(out_dir, "compare.png"), shown,
                 [f"robust light on {where}", f"first member's light on {where}"])
    doc = {
        "command": "optimize", "config": cfg.to_dict(),
        "robust": {"target": cfg.over_target, "members": [m.label for m in members],
                   "held_out": [m.label for m in held], "rows": rows, "summary": summary},
        "lam": cfg.light.effective_lam, "loss": robust.loss, "loss_single": single.loss,
        "member_loss": robust.member_loss, "iterations_done": len(robust.loss),
        "interrupted": robust.interrupted or single.interrupted, "stopped": False,
        "time_s": robust.time_s, "time_single_s": single.time_s, **facts,
        "final_render_seed": final_render_seed, "image_shape": list(first.scene.image_shape),
        "device": first.variant, "versions": library_versions(),
        "files": [*ROBUST_FILES, "members/"],
    }
    write_json(os.path.join(out_dir, "run.json"), doc)
    return doc


def _cell(v, width=10):
    return f"{'-':>{width}}" if v is None else f"{v:>{width}.4g}"


def summary_lines(doc: dict) -> list[str]:
    """The printed summary of a set's run: one line per light with the in-set and held-out
    objective (mean, worst) and d' (mean) side by side, then the held-out gap."""
    rb = doc["robust"]
    s = rb["summary"]
    lines = [f"{len(rb['members'])} surfaces in the set, {len(rb['held_out'])} held out; "
             f"target {rb['target']}; {doc['iterations_done']} iterations in "
             f"{doc['time_s']:.1f} s (+ {doc['time_single_s']:.1f} s for the first alone), "
             f"{doc['engine']} engine",
             f"{'light':<22}{'in mean':>10}{'in worst':>10}{'out mean':>10}{'out worst':>10}"
             f"{'d in':>10}{'d out':>10}"]
    for light, title in (("robust", f"set ({rb['target']})"), ("single", "first member alone")):
        a, b = s[light]["in"], s[light]["held_out"] or {}
        lines.append(f"{title:<22}{_cell(a['mean'])}{_cell(a['worst'])}{_cell(b.get('mean'))}"
                     f"{_cell(b.get('worst'))}{_cell(a['d_prime_mean'])}"
                     f"{_cell(b.get('d_prime_mean'))}")
    if s["gap"]:
        lines.append(f"held-out gap (first alone minus set; objective, lower is better): mean "
                     f"{s['gap']['held_out_mean']:+.4g}, worst {s['gap']['held_out_worst']:+.4g}")
    else:
        lines.append("no held-out members (give --held-out SET)")
    return lines
