"""Writing the study's results: ``summary.md`` (findings, tables, figures),
``report.html`` (findings, then each surface's figures with their numbers) and
``results.json`` (everything, JSON-safe)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from .claims import VERDICT_RULE, tally
from .experiments import INITS
from .figures import FIGURE_PANELS, FIGURE_TITLES
from .measures import SPARSE_LEVEL, convergence_stats
from .text import fmt

__all__ = ["RUN_HEADER", "METRIC_COLUMNS", "MAP_COLUMNS", "write_summary", "write_report",
           "write_results"]


def _finite(x):
    """JSON-safe copy: NaN and infinities become None, NumPy scalars plain numbers."""
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _all_seeds(res: dict) -> list[tuple[int, dict]]:
    """(seed, records) of every seed, the first one first."""
    return [(res["seeds"][0], res["records"])] + [(int(s), r) for s, r in
                                                   res.get("seed_records", {}).items()]


def _run_rows(res: dict) -> list[list[str]]:
    """The runs table: the numbers of each run.json, every seed."""
    rows = []
    for seed, records in _all_seeds(res):
        for surface, recs in records.items():
            for key, r in recs.items():
                b, a = r["objective_before"], r["objective_after"]
                rows.append([surface, str(seed), key, r["folder"], fmt(b["loss"], 6),
                             fmt(a["loss"], 6), fmt(b["l_grad"], 6), fmt(a["l_grad"], 6),
                             fmt(r["seconds"], 3)])
    return rows


RUN_HEADER = ["surface", "seed", "experiment", "folder", "objective before", "objective after",
              "L_grad before", "L_grad after", "seconds"]
DPRIME_HEADER = ["surface", "figure", "render", "experiment", "d' NPW", "d' CHO", "seeds"]


def ci_text(c: dict, digits: int = 3) -> str:
    """'mean [lo, hi]' of an interval dictionary (:func:`.verdicts.interval`)."""
    if not c or not c["n"]:
        return "n/a"
    if c["lo"] is None or not math.isfinite(c["lo"]):
        return fmt(c["mean"], digits)
    return f"{fmt(c['mean'], digits)} [{fmt(c['lo'], digits)}, {fmt(c['hi'], digits)}]"


def _dprime_rows(res: dict) -> list[list[str]]:
    return [[surface, e["figure"], e["label"], f"{e['experiment']} {e['render']}",
             ci_text(e["npw"]), ci_text(e["cho"]), str(e["npw"]["n"])]
            for surface, entries in res.get("dprime", {}).items() for e in entries]


DPRIME_NOTE = ("d' = detectability index of a model observer deciding 'defect present' vs "
               "'absent' on the displayed image (8-bit sRGB, internal noise), the surface "
               "against its defect-free twin under the same light and render seeds: NPW = "
               "non-prewhitening matched filter, CHO = channelized Hotelling observer "
               "(Laguerre-Gauss channels); mean over seeds and its 95 % t-interval in "
               "brackets")
METRIC_COLUMNS = (("auc", "AUC"), ("cnr", "CNR"), ("detected_fraction", "detected"),
                  ("mean_gradient", "mean gradient"), ("rms_contrast", "RMS contrast"),
                  ("clipped_fraction", ">= 1"), ("near_white", "near white"),
                  ("black_fraction", "black"))
MAP_COLUMNS = (("mean", "mean"), ("sparsity", f"sparsity (< {SPARSE_LEVEL})"),
               ("at_one", "at 1"), ("colourfulness", "colourfulness"))


def _metric_rows(records: dict) -> list[list[str]]:
    rows = []
    for surface, recs in records.items():
        for key, r in recs.items():
            for when in ("before", "after"):
                m = r[f"metrics_{when}"]
                rows.append([surface, key, when] + [fmt(m.get(k), 3) for k, _ in METRIC_COLUMNS])
    return rows


def _map_rows(records: dict) -> list[list[str]]:
    rows = []
    for surface, recs in records.items():
        for key, r in recs.items():
            rows.append([surface, key] + [fmt(r["map_before"][k], 3) for k, _ in MAP_COLUMNS]
                        + [fmt(r["map_after"][k], 3) for k, _ in MAP_COLUMNS])
    return rows


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _settings_line(res: dict) -> str:
    s = res["settings"]
    return (f"{s['mode']} mode: {s['resolution']} x {s['resolution']} images, {s['iterations']} "
            f"iterations at {s['spp']} spp, judged on {s['final_spp']} spp renders, "
            f"{s['envmap_size'][0]} x {s['envmap_size'][1]} light, engine {res['engine']}, "
            f"{len(res['seeds'])} seeds ({', '.join(str(x) for x in res['seeds'])}; tables and "
            f"figures show seed {res['seed']}, verdicts and d' use all); d' from "
            f"{s['dprime_renders']} renders with and without the defects per light, "
            f"{s['window']} x {s['window']} observer window; synthetic surfaces {s['size']} x {s['size']} points with "
            f"{s['scratches']} planted scratches; {res['run_seconds']:.0f} s of optimization "
            f"runs, {res['seconds']:.0f} s for this invocation")


def write_summary(path: Path, res: dict) -> None:
    """``summary.md``: findings, then the tables of numbers, then the figures."""
    md = ["# Reproducing the scratch-visibility paper", "", _settings_line(res), ""]
    for case in res["cases"]:
        md.append(f"- **{case['name']}** ({case['kind']}, {case['source']}): grid "
                  f"{case['grid'][1]} x {case['grid'][0]}, {case['surface_pixels']} surface pixels"
                  + (f", {case['truth_pixels']} defect pixels" if case["truth_pixels"] else "")
                  + f", exaggeration {case['exaggeration']:.3g}, scratch map covers "
                    f"{100 * case['scratch_coverage']:.0f} % of the surface")
    for note in res["notes"] + [n for c in res["cases"] for n in c["notes"]]:
        md.append(f"- note: {note}")
    md += ["", "## Findings", "", f"Overall: {tally(res)}.", "",
           f"How verdicts are reached: {VERDICT_RULE}.", ""]
    for c in res["claims"]:
        md.append(f"**Figure {c['figure']}: {c['claim']}** Result: {c['overall']}. "
                  f"(Rule: {c['rule']}.)")
        md += [f"- {f['surface']}: {f['verdict']} - {f['evidence']}" for f in c["findings"]]
        md.append("")
    md += ["## Detectability d' of every figure's renders (synthetic surfaces)", "",
           DPRIME_NOTE + ".", "", _md_table(DPRIME_HEADER, _dprime_rows(res)), "",
           *[f"- [{name}: d' with error bars]({rel})" for name, rel in
             res.get("dprime_charts", {}).items() if rel], "",
           "## Runs", "", _md_table(RUN_HEADER, _run_rows(res)), "",
           f"## Visibility metrics (high-spp renders, seed {res['seed']})", "",
           _md_table(["surface", "experiment", "render"] + [h for _, h in METRIC_COLUMNS],
                     _metric_rows(res["records"])), "",
           "## Lights", "",
           _md_table(["surface", "experiment"] + [f"initial {h}" for _, h in MAP_COLUMNS]
                     + [f"final {h}" for _, h in MAP_COLUMNS], _map_rows(res["records"])), "",
           "## Figures", ""]
    for name, figs in res["figures"].items():
        md += [f"![figure {k}, {name}]({rel})" for k, rel in sorted(figs.items())] + [""]
    with atomic_path(str(path), suffix=".md") as tmp:
        Path(tmp).write_text("\n".join(md) + "\n", encoding="utf-8")


def _verdict_html(v: str) -> str:
    from ..report.html import escape

    return f'<span class="{escape(v.replace(" ", "-"))}">{escape(v)}</span>'


def _findings_html(res: dict) -> str:
    from ..report.html import escape, table

    rows = []
    for c in res["claims"]:
        for f in c["findings"] or [{"surface": "-", "verdict": "not testable", "evidence": ""}]:
            rows.append([f"figure {c['figure']}", c["claim"], f["surface"],
                         ("raw", _verdict_html(f["verdict"])), f["evidence"]])
    overall = "".join(f"<li>Figure {escape(c['figure'])}: {escape(c['claim'])} "
                      f"<b>{escape(c['overall'])}</b>.<br><span class=\"note\">Rule: "
                      f"{escape(c['rule'])}.</span></li>" for c in res["claims"])
    return (f"<ul>{overall}</ul>"
            + table(["figure", "paper's claim", "surface", "ours", "evidence"], rows))


def _column_html(rec: dict, when: str, with_mask: bool) -> list:
    """Render, light and metrics of one panel entry, as table cells (top to bottom)."""
    from ..report.html import img

    folder = rec["folder"]
    light = f"{folder}/init.png" if when == "before" else f"{folder}/envmap.png"
    cells = [("raw", img(f"{folder}/{when}.png", f"{rec['experiment']} {when}", 192)),
             ("raw", img(light, "light", 192))]
    if with_mask:
        cells.append(("raw", img(f"{folder}/mask.png", "mask", 192)))
    m = rec[f"metrics_{when}"]
    cells += [fmt(m.get(k), 3) for k, _ in METRIC_COLUMNS]
    stats = rec["map_before" if when == "before" else "map_after"]
    cells += [fmt(stats[k], 3) for k, _ in MAP_COLUMNS]
    obj = rec[f"objective_{when}"]
    cells.append(fmt(obj["loss"], 4))
    return cells


def _figure_table_html(recs: dict, fig: str, dprime: list | None = None) -> str:
    from ..report.html import table

    entries = [(label, key, when) for label, key, when in FIGURE_PANELS[fig] if key in recs]
    if not entries:
        return ""
    with_mask = fig == "6"
    labels = (["render", "light"] + (["objective mask"] if with_mask else [])
              + [h for _, h in METRIC_COLUMNS] + [f"light {h}" for _, h in MAP_COLUMNS]
              + ["objective (high spp)"])
    cols = [_column_html(recs[key], when, with_mask) for _, key, when in entries]
    rows = [[labels[i]] + [c[i] for c in cols] for i in range(len(labels))]
    found = {(e["figure"], e["label"]): e for e in dprime or []}
    for o, name in (("npw", "NPW"), ("cho", "CHO")):
        rows.append([f"d' {name}, all seeds: mean [95 % CI]"]
                    + [ci_text(found[(fig, label)][o]) if (fig, label) in found else "n/a"
                       for label, _, _ in entries])
    return table([""] + [label for label, _, _ in entries], _drop_empty(rows))


def _drop_empty(rows: list[list]) -> list[list]:
    """Rows minus those whose every value is 'n/a' (truth metrics on real maps)."""
    return [r for r in rows if any(c != "n/a" for c in r[1:])]


def _init_table_html(recs: dict, dprime: list | None = None) -> str:
    from ..report.html import img, table

    keys = [(k, label) for k, label in INITS if k in recs]
    if not keys:
        return ""
    st = convergence_stats({label: recs[k]["loss"] for k, label in keys})
    rows = [["initial light"] + [("raw", img(f"{recs[k]['folder']}/init.png", "init", 192))
                                 for k, _ in keys],
            ["optimized light"] + [("raw", img(f"{recs[k]['folder']}/envmap.png", "light", 192))
                                   for k, _ in keys],
            ["render"] + [("raw", img(f"{recs[k]['folder']}/after.png", "after", 192))
                          for k, _ in keys]]
    rows += _drop_empty([[h] + [fmt(recs[k]["metrics_after"].get(m), 3) for k, _ in keys]
                         for m, h in METRIC_COLUMNS])
    rows += [["light sparsity"] + [fmt(recs[k]["map_after"]["sparsity"], 3) for k, _ in keys],
             ["loop loss: first"] + [fmt(st[label]["start"], 4) for _, label in keys],
             ["loop loss: final"] + [fmt(st[label]["final"], 4) for _, label in keys],
             ["iterations to converge"] + [fmt(st[label]["iterations_to_converge"])
                                           for _, label in keys],
             ["jitter"] + [fmt(st[label]["jitter"], 3) for _, label in keys]]
    found = {e["label"]: e for e in dprime or [] if e["figure"] == "7"}
    if found:
        rows += [[f"d' {name}, all seeds: mean [95 % CI]"]
                 + [ci_text(found[label][o]) if label in found else "n/a" for _, label in keys]
                 for o, name in (("npw", "NPW"), ("cho", "CHO"))]
    return table([""] + [label for _, label in keys], rows)


def _surface_html(res: dict, case: dict) -> str:
    from ..report.html import img, paragraph, section

    recs = res["records"].get(case["name"], {})
    figs = res["figures"].get(case["name"], {})
    parts = [paragraph(f"{case['kind']} surface, {case['source']}; grid {case['grid'][1]} x "
                       f"{case['grid'][0]}; exaggeration {case['exaggeration']:.3g}; the scratch "
                       f"map covers {100 * case['scratch_coverage']:.0f} % of the surface. "
                       f"Under a white light (E = 1, the reference of 'near white'):"),
             img(f"{case['name']}/white.png", "white-light render", 192),
             paragraph(f"Images and their metrics: seed {res['seed']}; d' rows: all "
                       f"{len(res['seeds'])} seeds.", "note")]
    for fig in ("3", "4", "6"):
        body = _figure_table_html(recs, fig, res.get("dprime", {}).get(case["name"]))
        if body:
            parts.append(section(FIGURE_TITLES[fig], body, level=3))
    parts.append(section(FIGURE_TITLES["7"] + " (and 8)",
                         _init_table_html(recs, res.get("dprime", {}).get(case["name"])),
                         img(figs["8"], "loss curves") if "8" in figs else "", level=3))
    panels = [img(figs[k], f"figure {k}") for k in ("3", "4", "6", "7") if k in figs]
    parts.append(section("Panels", *panels, level=3))
    return section(f"Surface: {case['name']}", *parts)


def write_report(path: Path, res: dict) -> None:
    """``report.html``: findings first, then every surface's figures with their metrics."""
    from ..report.html import bullet_list, img, paragraph, section, table, write_page

    notes = res["notes"] + [n for c in res["cases"] for n in c["notes"]]
    body = [paragraph(_settings_line(res)),
            paragraph("Every image is a separate high-spp render (not the optimization loop's "
                      "own), scored inside the object mask. With ground truth (synthetic "
                      "surfaces): defect AUC, CNR and the fraction of planted defects with "
                      "2 % Weber contrast; always: mean gradient (the objective's own term), "
                      "RMS local contrast, saturated and black pixel fractions.", "note")]
    if notes:
        body.append(bullet_list(notes))
    body.append(section("Where we agree with the paper, and where not",
                        paragraph(f"Overall: {tally(res)}."),
                        paragraph(f"How verdicts are reached: {VERDICT_RULE}.", "note"),
                        _findings_html(res)))
    for case in res["cases"]:
        body.append(_surface_html(res, case))
    if res.get("dprime"):
        body.append(section("Detectability d' of every figure's renders",
                            paragraph(DPRIME_NOTE + ".", "note"),
                            table(DPRIME_HEADER, _dprime_rows(res)),
                            *[img(rel, f"d' of {name}") for name, rel in
                              res.get("dprime_charts", {}).items() if rel]))
    body.append(section("All runs", table(RUN_HEADER, _run_rows(res))))
    write_page(path, "Reproducing the scratch-visibility paper", "\n".join(body))


def write_results(path: Path, res: dict) -> None:
    """``results.json``: the results dictionary, NaN as null, keys starting with '_' left out."""
    with atomic_path(str(path), suffix=".json") as tmp:
        with open(tmp, "w") as f:
            json.dump(_finite({k: v for k, v in res.items()}), f, indent=1)
            f.write("\n")
