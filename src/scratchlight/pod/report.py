"""The files of a ``pod`` run: ``pod.csv`` (one row per defect and light) and ``pod.html``."""
from __future__ import annotations

import csv

from ..io.atomic import atomic_path
from ..report import html

__all__ = ["CSV_COLUMNS", "write_pod_csv", "write_pod_page"]

CSV_COLUMNS = ("light", "seed", "defect", "plate", "depth_um", "width_um", "orientation_deg",
               "size_um", "pixels", "dprime_npw", "dprime_cho", "dprime", "hit", "note")


def write_pod_csv(path, rows: list[dict]) -> None:
    """One row per defect and light; empty cells where a value is None."""
    with atomic_path(path, suffix=".csv") as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(CSV_COLUMNS)
            for r in rows:
                w.writerow(["" if r[c] is None else
                            (f"{r[c]:.6g}" if isinstance(r[c], float) else r[c])
                            for c in CSV_COLUMNS])


def _num(v, fmt: str = ".3g") -> str:
    return "-" if v is None else format(v, fmt)


def write_pod_page(path, doc: dict, figures: dict[str, str]) -> None:
    """``pod.html``: the verdict per light, the settings, the figures and the blind
    orientations; the figures are referenced by their names beside the page."""
    cfg = doc["config"]
    unit = f"{doc['size_by']} (um)"
    rows = []
    for name, res in doc["lights"].items():
        hm, ah = res["hit_miss"], res["ahat"]
        rows.append([name, res["measured"], res["hits"], hm["status"], _num(hm["a50"]),
                     _num(hm["a90"]), _num(hm["a90_95"]), _num(ah["a90"]), _num(ah["a90_95"]),
                     ", ".join(f"{v:g}" for v in res["blind"]) or "none",
                     "-" if not res.get("weakest") else
                     f"{res['weakest']['orientation_deg']:g} (d' {res['weakest']['median_dprime']:.2g}"
                     f" vs {res['weakest']['best_median_dprime']:.2g})"])
    verdict = html.table(["light", "defects", "hits", "hit/miss fit", "a50", "a90", "a90/95",
                          "â a90", "â a90/95", "blind orientations (deg)",
                          "weakest orientation (deg, median d')"], rows,
                         caption=f"sizes: {unit}; hit/miss: {doc['method']['hit_miss']}")
    notes = [f"{name}, {kind}: {res[key]['note']}" for name, res in doc["lights"].items()
             for key, kind in (("hit_miss", "hit/miss"), ("ahat", "â")) if res[key].get("note")]
    settings = html.bullet_list([
        f"surface: {doc['surface']}",
        f"sweep: depths {cfg['depths_um']} um, widths {cfg['widths_um']} um, orientations "
        f"{cfg['orientations_deg']} deg, {cfg['seeds']} seed(s) from {cfg['seed']}: "
        f"{doc['defects']} defects per light on {doc['plates']} plates",
        f"render: {doc['scene']['width']} x {doc['scene']['height']} px, {cfg['renders']} seed(s) "
        f"x {cfg['spp']} spp, "
        f"engine {doc['engine']}, {doc['device']}; exaggeration {doc['scene']['exaggeration']:g}",
        f"camera: {doc['camera']}",
        f"observer: {cfg['observer'].upper()} d' on the display (8-bit sRGB, internal noise), "
        f"window {cfg['window']} px; hit when d' >= {cfg['threshold']:g}",
        f"hit/miss: {doc['method']['hit_miss']}; â: {doc['method']['ahat']}",
        f"time: {doc['seconds']:.1f} s",
    ])
    orient = []
    for name, res in doc["lights"].items():
        orient.append(html.table(
            ["orientation (deg)", "defects", "hits", "hit rate", "95 % CI", "median d'", "a90"],
            [[o["orientation_deg"], o["defects"], o["hits"], _num(o["hit_rate"], ".2f"),
              f"{o['hit_rate_ci95'][0]:.2f}-{o['hit_rate_ci95'][1]:.2f}",
              _num(o["median_dprime"]), _num(o["a90"]) if o["a90"] else o["note"] or "-"]
             for o in res["orientation"]], caption=name))
    body = "\n".join([
        html.section("Verdict", verdict, *(html.paragraph(n, "note") for n in notes)),
        html.section("POD against size", html.img(figures["pod"], "POD curves")),
        html.section("Signal response (â = d')", html.img(figures["ahat"], "ahat vs a")),
        html.section("Orientation", html.img(figures["orientation"], "POD by orientation"),
                     *orient),
        html.section("Settings", settings,
                     html.paragraph("Every defect is in pod.csv; the fits and the config in "
                                    "pod.json; run.json repeats the run (--config).", "note")),
    ])
    html.write_page(path, "Probability of detection", body)
