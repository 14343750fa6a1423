"""The reproduction end to end: :func:`reproduce` writes the synthetic surfaces and the
studio map, runs (or reuses) every experiment on every surface for every seed, measures
their results folders (with d' against the defect-free twins), checks the paper's claims
over the seeds, draws the figures (first seed) and writes the report."""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Callable

from ..errors import InputError
from .cases import default_data_dir, studio_envmap, surface_cases
from .claims import evaluate_claims
from .detect import add_dprime, dprime_summary
from .experiments import FULL, QUICK, WHITE_RENDER_SEED, RunSetup, experiments_for
from .figures import dprime_chart, write_figures
from .records import region_stats, run_record
from .runs import run_experiment, scene_facts
from .writing import write_report, write_results, write_summary

__all__ = ["reproduce"]

# The scene facts each surface case carries (into the report and results.json).
CASE_FACTS = ("scratch_coverage", "surface_pixels", "truth_pixels", "exaggeration", "grid")


def _run_case(case: dict, setup: RunSetup, out: Path, fresh: bool, counter: list,
              log: Callable) -> tuple:
    """Every experiment on one surface; returns (records by key, arrays by key)."""
    from ..io import write_png

    facts = scene_facts(case, setup, WHITE_RENDER_SEED)
    write_png(str(out / case["dir"] / "white.png"), facts["white"])
    case.update({k: facts[k] for k in CASE_FACTS})
    records, arrays = {}, {}
    who = case["name"] + (f" (seed {case['seed']})" if case["dir"] != case["name"] else "")
    for exp in experiments_for(case["kind"]):
        counter[0] += 1
        run_dir = out / case["dir"] / exp.key
        t0 = time.perf_counter()
        try:
            summary, reused = run_experiment(case, exp, setup, run_dir, fresh)
        except InputError as e:
            case["notes"].append(f"{exp.key}: not run ({e})")
            log(f"[{counter[0]:2d}/{counter[1]}] {who} / {exp.key}: skipped ({e})")
            continue
        records[exp.key], arrays[exp.key] = run_record(case, exp, summary, run_dir, out, facts,
                                                       reused)
        b, a = summary["objective_before"]["loss"], summary["objective_after"]["loss"]
        how = "reused" if reused else f"{time.perf_counter() - t0:.1f} s"
        log(f"[{counter[0]:2d}/{counter[1]}] {who} / {exp.key} ({exp.label}): {how}, "
            f"objective {b:.4g} -> {a:.4g} at {setup.settings.final_spp} spp")
    region_stats(records, out, facts)
    t0 = time.perf_counter()
    add_dprime(case, setup, facts, records, out)
    if case["kind"] == "synthetic":
        log(f"      {who}: d' of the figures' renders against the defect-free twin "
            f"({time.perf_counter() - t0:.1f} s)")
    return records, arrays


def reproduce(out_dir: str | os.PathLike, quick: bool = False, seed: int = 0, engine: str = "auto",
              data_dir: str | os.PathLike | None = None, device: str = "auto",
              fresh: bool = False, log: Callable[[str], None] = print,
              seeds: int | None = None) -> dict:
    """Run every experiment and write ``report.html``, ``summary.md`` and ``results.json``.

    Args:
        out_dir: results folder (created).
        quick: tiny sizes (one synthetic surface, no real maps), for tests.
        seed: the first seed; seed ``seed + i`` makes the i-th replicate's synthetic
            surfaces and seeds its runs (real maps keep their surface).
        engine: of the optimization runs: 'auto' (transport when its matrices fit a
            quarter of the memory, ``engines.choice``), 'ad' or 'transport'. The judging
            renders are always independent Mitsuba renders.
        data_dir: folder of the real maps (default :func:`default_data_dir`).
        device: 'auto', 'cpu' or 'cuda'.
        fresh: run everything again, even where a folder holds the same config.
        log: called with one progress line per experiment and seed.
        seeds: number of seeds (replicates), default the mode's (2 quick, 5 full).

    Returns:
        The results dictionary saved as ``results.json``.
    """
    from ..io import write_exr
    from ..report.figures import write_envmap_preview

    if engine not in ("auto", "ad", "transport"):
        raise InputError("optimizer.engine", f"must be auto, ad or transport, got {engine!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise InputError("seed", f"must be a whole number >= 0, got {seed}")
    settings = QUICK if quick else FULL
    n_seeds = settings.seeds if seeds is None else seeds
    if isinstance(n_seeds, bool) or int(n_seeds) != n_seeds or n_seeds < 1:
        raise InputError("seeds", f"must be a whole number >= 1, got {n_seeds}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    notes: list[str] = []
    if quick:
        notes.append("quick mode: tiny images and a few iterations, a smoke test of the "
                     "pipeline; its verdicts are not a reproduction of the paper")
    if n_seeds < 2:
        notes.append("one seed: no confidence intervals, so no claim can be decided")
    studio = out / "studio.exr"
    write_exr(str(studio), studio_envmap())
    write_envmap_preview(str(out / "studio.png"), studio_envmap(), scale=3)
    data = Path(data_dir) if data_dir else default_data_dir()
    seed_list = [int(seed) + i for i in range(int(n_seeds))]
    seed_cases = [surface_cases(out, settings, s, data, notes if i == 0 else [], index=i)
                  for i, s in enumerate(seed_list)]
    counter = [0, sum(len(experiments_for(c["kind"])) for cs in seed_cases for c in cs)]
    runs, figures = [], {}
    for i, (s, cases) in enumerate(zip(seed_list, seed_cases)):
        setup = RunSetup(settings, s, engine, device, str(studio.resolve()))
        records = {}
        for case in cases:
            recs, arrays = _run_case(case, setup, out, fresh, counter, log)
            for key in recs:
                recs[key]["_arrays"] = arrays[key]
            records[case["name"]] = recs
            if i == 0:
                figures[case["name"]] = write_figures(out, case, recs, arrays)
            else:
                first = next(c for c in seed_cases[0] if c["name"] == case["name"])
                first["notes"] += [f"seed {s}: {n}" for n in case["notes"]]
        runs.append(records)
    cases = seed_cases[0]
    claims = evaluate_claims(cases, runs)

    def plain(records):
        return {sf: {k: {kk: vv for kk, vv in r.items() if kk != "_arrays"}
                     for k, r in recs.items()} for sf, recs in records.items()}

    res = {"settings": dataclasses.asdict(settings), "engine": engine, "seed": int(seed),
           "seeds": seed_list, "seconds": time.perf_counter() - t0, "notes": notes,
           "cases": cases,
           "run_seconds": sum(r["seconds"] or 0.0 for records in runs
                              for recs in records.values() for r in recs.values()),
           "records": plain(runs[0]),
           "seed_records": {str(s): plain(r) for s, r in zip(seed_list[1:], runs[1:])},
           "dprime": dprime_summary(cases, runs),
           "claims": claims, "figures": figures}
    res["dprime_charts"] = {name: dprime_chart(out, name, entries)
                            for name, entries in res["dprime"].items()}
    write_summary(out / "summary.md", res)
    write_report(out / "report.html", res)
    write_results(out / "results.json", res)
    log(f"wrote {out / 'report.html'}, {out / 'summary.md'} and {out / 'results.json'} "
        f"({res['seconds']:.0f} s)")
    return res
