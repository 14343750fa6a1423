"""The paper's claims and how each is checked: :data:`CLAIMS` (id, figure, text, check),
the rules in words (:data:`CLAIM_RULES`), :func:`evaluate_claims` (per-surface findings and
an overall verdict per claim) and the tally over all claims.

A check takes a surface case and its run records (keyed by experiment, with the light maps
under ``"_arrays"``) and returns findings ``{"verdict", "evidence", "values"}`` with verdict
'agrees', 'partly', 'differs' or 'not testable'."""
from __future__ import annotations

import math

import numpy as np

from .experiments import INITS
from .measures import SPARSE_LEVEL, colourfulness, convergence_stats, pairwise_rms
from .text import pct

__all__ = ["DETECTED_MARGIN", "AUC_MARGIN", "RELATIVE_MARGIN", "compare_visibility", "CLAIMS",
           "CLAIM_RULES", "evaluate_claims", "claim_class", "tally"]


# How large a difference must be to count (smaller ones are "about equal").
DETECTED_MARGIN = 0.2      # fraction of planted defects (one of up to five)
AUC_MARGIN = 0.02
RELATIVE_MARGIN = 0.05     # for mean gradient, RMS contrast and ratios


def _sign(a: float, b: float, relative: bool = True, margin: float = RELATIVE_MARGIN) -> int:
    """+1 if a is clearly above b, -1 if clearly below, 0 if about equal (or undefined)."""
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return 0
    tol = margin * max(abs(a), abs(b)) if relative else margin
    return 0 if abs(a - b) <= tol else (1 if a > b else -1)


def compare_visibility(case: dict, a: dict, b: dict) -> tuple[int | None, str]:
    """Is the render with metrics ``a`` more visible than the one with ``b``?

    With ground truth: the fraction of planted defects seen (Weber contrast >= 2 %) decides;
    when equal, the defect AUC (how much more local gradient the defects have than the rest
    of the surface, machining marks included). Without: mean gradient and RMS contrast must
    agree; when they point in opposite directions the answer is None (mixed).

    Returns (+1 | 0 | -1 | None, a short text with the numbers).
    """
    if case["kind"] == "synthetic" and math.isfinite(a.get("auc", float("nan"))):
        d = _sign(a["detected_fraction"], b["detected_fraction"], False, DETECTED_MARGIN)
        auc = _sign(a["auc"], b["auc"], False, AUC_MARGIN)
        text = (f"defects seen {pct(a['detected_fraction'])} vs {pct(b['detected_fraction'])}, "
                f"AUC {a['auc']:.3f} vs {b['auc']:.3f}, CNR {a['cnr']:.2f} vs {b['cnr']:.2f}")
        return (d if d else auc), text
    g = _sign(a["mean_gradient"], b["mean_gradient"])
    r = _sign(a["rms_contrast"], b["rms_contrast"])
    text = (f"mean gradient {a['mean_gradient']:.3g} vs {b['mean_gradient']:.3g}, RMS contrast "
            f"{a['rms_contrast']:.3g} vs {b['rms_contrast']:.3g}")
    return (None if g * r < 0 else (g or r)), text


_WORD = {1: "more visible", 0: "about as visible", -1: "less visible", None: "mixed"}


def _finding(verdict: str, evidence: str, **values) -> dict:
    return {"verdict": verdict, "evidence": evidence, "values": values}


def _claim_better_than_common(case, recs):
    if not {"rgb", "init_file"} <= set(recs):
        return []
    opt, common = recs["init_file"]["metrics_after"], recs["rgb"]["metrics_before"]
    c, text = compare_visibility(case, opt, common)
    verdict = {1: "agrees", 0: "partly", -1: "differs", None: "partly"}[c]
    ev = f"optimized gray light vs common light: {_WORD[c]} ({text})"
    if case["kind"] == "synthetic" and (_sign(opt["auc"], common["auc"], False, AUC_MARGIN) < 0
                                        or _sign(opt["cnr"], common["cnr"]) < 0):
        ev += ("; but the optimized light brings out the machining marks too, so the defects "
               "stand out less from the rest of the surface (lower AUC or CNR) than on the "
               "common light's nearly featureless render")
    return [_finding(verdict, ev, comparison=c)]


def _claim_rgb_gray(case, recs):
    if "rgb" not in recs:
        return []
    c0 = recs["rgb"]["map_before"]["colourfulness"]
    c1 = recs["rgb"]["map_after"]["colourfulness"]
    E = recs["rgb"]["_arrays"]["E"]
    means = E.reshape(-1, E.shape[-1]).mean(axis=0)
    bright = E.max(axis=2) >= 0.5
    core = colourfulness(E[bright][None]) if bright.any() else float("nan")
    verdict = "agrees" if c1 <= 0.5 * c0 else ("partly" if c1 < c0 else "differs")
    change = f"{100 * (c1 / c0 - 1):+.0f} %" if c0 > 0 else "n/a"
    return [_finding(verdict, f"colourfulness of the light {c0:.3f} (studio map) -> {c1:.3f} "
                              f"after RGB optimization ({change}; 0 = gray); channel means R "
                              f"{means[0]:.3f} G {means[1]:.3f} B {means[2]:.3f}; texels "
                              f"brighter than 0.5: {int(bright.sum())}, their colourfulness "
                              f"{core:.3f}", before=c0, after=c1, bright_core=core)]


def _claim_gray_preferable(case, recs):
    if not {"rgb", "init_file"} <= set(recs):
        return []
    c, text = compare_visibility(case, recs["init_file"]["metrics_after"],
                                 recs["rgb"]["metrics_after"])
    verdict = {1: "agrees", 0: "agrees", -1: "differs", None: "partly"}[c]
    return [_finding(verdict, f"gray light vs RGB light: {_WORD[c]} ({text})", comparison=c)]


def _claim_no_l2_saturates(case, recs):
    if not {"l2_none", "base"} <= set(recs):
        return []
    none, env = recs["l2_none"], recs["base"]
    E0, E = none["_arrays"]["E0"], none["_arrays"]["E"]
    moved = np.abs(E - E0).max(axis=2) > SPARSE_LEVEL
    mean_moved = float(E.max(axis=2)[moved].mean()) if moved.any() else float("nan")
    at_one = float(np.mean(E.max(axis=2)[moved] >= 1 - SPARSE_LEVEL)) if moved.any() else 0.0
    white_n = none["metrics_after"]["near_white"]
    white_e = env["metrics_after"]["near_white"]
    sat_n = none["metrics_after"]["clipped_fraction"]
    to_one = mean_moved >= 0.8
    saturates = white_n >= white_e + 0.05
    verdict = "agrees" if to_one and saturates else ("partly" if to_one or saturates else "differs")
    ev = (f"without L2 the {int(moved.sum())} texels the optimizer moved average "
          f"{mean_moved:.2f} ({pct(at_one)} of them at 1; whole map "
          f"{none['map_after']['mean']:.2f} vs {env['map_after']['mean']:.2f} with L2 on E); "
          f"surface pixels at >= 90 % of their "
          f"white-light brightness {pct(white_n)} vs {pct(white_e)} with L2 on E; pixels >= 1: "
          f"{pct(sat_n)} (brightest surface pixel Y = "
          f"{none['image_after']['max_luminance']:.2f}: under a light capped at 1 the metal "
          f"cannot pass its reflectance)")
    return [_finding(verdict, ev, mean_moved=mean_moved, near_white_none=white_n,
                     near_white_env=white_e)]


def _claim_env_equals_image(case, recs):
    if not {"l2_image", "base"} <= set(recs):
        return []
    c, text = compare_visibility(case, recs["base"]["metrics_after"],
                                 recs["l2_image"]["metrics_after"])
    verdict = {0: "agrees", None: "partly", 1: "differs", -1: "differs"}[c]
    word = {1: "more visible than", 0: "about as visible as", -1: "less visible than",
            None: "mixed against"}[c]
    return [_finding(verdict, f"L2 on E {word} L2 on I ({text})", comparison=c)]


def _claim_env_sparse(case, recs):
    if not {"l2_image", "base"} <= set(recs):
        return []
    se, si = recs["base"]["map_after"]["sparsity"], recs["l2_image"]["map_after"]["sparsity"]
    s0 = recs["base"]["map_before"]["sparsity"]
    sparse, sparser = se >= 0.5, se >= si
    verdict = "agrees" if sparse and sparser else ("partly" if sparse or sparser else "differs")
    return [_finding(verdict, f"{pct(se)} of texels below {SPARSE_LEVEL} with L2 on E "
                              f"(initially {pct(s0)}), {pct(si)} with L2 on I",
                     env=se, image=si)]


def _focus(r: dict, who: str) -> float | None:
    """Mean gradient inside the region over that outside it, after the run ``who``."""
    i, o = r.get(f"{who}_after_inside"), r.get(f"{who}_after_outside")
    return i / o if i is not None and o else None


def _claim_mask_focuses(case, recs):
    out = []
    for key, what in (("scratch", "scratch map"), ("roi", "user region")):
        r = recs.get(key, {}).get("region")
        if not r:
            continue
        f_mask, f_base = _focus(r, key), _focus(r, "base")
        if r["coverage"] >= 0.99 or f_mask is None or f_base is None:
            out.append(_finding("not testable", f"the {what} covers {pct(r['coverage'])} of the "
                                                f"surface pixels: nothing to focus on",
                                mask=what, coverage=r["coverage"]))
            continue
        c = _sign(f_mask, f_base)
        verdict = {1: "agrees", 0: "partly", -1: "differs"}[c]
        g_mask = r[f"{key}_after_inside"] / r[f"{key}_before_inside"]
        g_base = r["base_after_inside"] / r["base_before_inside"]
        ev = (f"{what} ({pct(r['coverage'])} of the surface): mean gradient inside / outside it "
              f"{f_mask:.2f} with the mask vs {f_base:.2f} without; inside it grew x{g_mask:.1f} "
              f"with the mask vs x{g_base:.1f} without")
        if case["kind"] == "synthetic":
            m, b = recs[key]["metrics_after"], recs["base"]["metrics_after"]
            ev += (f"; defects: CNR {m['cnr']:.2f} vs {b['cnr']:.2f}, AUC {m['auc']:.3f} vs "
                   f"{b['auc']:.3f}, seen {pct(m['detected_fraction'])} vs "
                   f"{pct(b['detected_fraction'])}")
        out.append(_finding(verdict, ev, mask=what, focus_masked=f_mask, focus_unmasked=f_base,
                            coverage=r["coverage"]))
    return out


def _init_maps(recs, which: str) -> dict:
    return {label: recs[key]["_arrays"][which] for key, label in INITS if key in recs}


def _claim_inits_similar(case, recs):
    maps0, maps1 = _init_maps(recs, "E0"), _init_maps(recs, "E")
    if len(maps0) < 3:
        return []
    d0, d1 = pairwise_rms(maps0), pairwise_rms(maps1)
    shrunk = sum(d1[p] <= 0.5 * d0[p] for p in d0)
    m0, m1 = float(np.mean(list(d0.values()))), float(np.mean(list(d1.values())))
    verdict = "agrees" if shrunk > len(d0) / 2 else ("partly" if m1 < m0 else "differs")
    losses = [recs[k]["objective_after"]["loss"] for k, _ in INITS if k in recs]
    spread = (max(losses) - min(losses)) / min(losses)
    far = max(d1, key=d1.get)
    return [_finding(verdict, f"mean pairwise RMS difference of the maps {m0:.3f} initially -> "
                              f"{m1:.3f} after; {shrunk} of {len(d0)} pairs at least halved "
                              f"(farthest pair after: {far}, {d1[far]:.3f}); final high-spp "
                              f"objectives spread by {100 * spread:.0f} % ((max - min) / min)",
                     initial=m0, final=m1, pairs_halved=shrunk, pairs=len(d0))]


def _claim_specular_faster(case, recs):
    curves = {label: recs[k]["loss"] for k, label in INITS if k in recs}
    if "specular" not in curves or len(curves) < 2:
        return []
    st = convergence_stats(curves)
    n = max(len(c) for c in curves.values())
    t = {k: (v["iterations_to_converge"] if v["iterations_to_converge"] is not None else n + 1)
         for k, v in st.items()}
    others = [k for k in st if k != "specular"]
    faster = t["specular"] <= min(t[k] for k in others)
    stabler = st["specular"]["jitter"] <= (1 + 2 * RELATIVE_MARGIN) * min(st[k]["jitter"]
                                                                          for k in others)
    verdict = "agrees" if faster and stabler else ("partly" if faster or stabler else "differs")
    fmt = lambda k: "never" if st[k]["iterations_to_converge"] is None else str(t[k])  # noqa: E731
    ev = ("iterations to come within 10 % of the best final loss: "
          + ", ".join(f"{k} {fmt(k)}" for k in st)
          + "; jitter: " + ", ".join(f"{k} {st[k]['jitter']:.3f}" for k in st))
    return [_finding(verdict, ev, stats=st)]


# (id, figure, the paper's claim, rule)
CLAIMS = (
    ("optimized-beats-common", "3",
     "The optimized light makes scratches clearly more visible than a common environment map.",
     _claim_better_than_common),
    ("rgb-drifts-gray", "3", "Optimizing in RGB drifts towards a gray light.", _claim_rgb_gray),
    ("gray-preferable", "3", "A gray light shows the scratches at least as well as an RGB one.",
     _claim_gray_preferable),
    ("no-l2-saturates", "4", "Without the L2 term the light goes to 1 and the render saturates.",
     _claim_no_l2_saturates),
    ("l2-env-equals-image", "4", "L2 on E gives the same visibility as L2 on I.",
     _claim_env_equals_image),
    ("l2-env-sparse", "4", "L2 on E makes the light sparse.", _claim_env_sparse),
    ("mask-focuses", "6", "The scratch-map mask focuses the improvement on the scratch region "
                          "(the paper adds: often without a large change).", _claim_mask_focuses),
    ("inits-converge-similar", "7", "Most initial states converge to similar maps.",
     _claim_inits_similar),
    ("specular-faster", "8", "The specular init converges faster and more stably.",
     _claim_specular_faster),
)
_VISIBILITY_RULE = ("visibility = fraction of planted defects seen (Weber contrast >= 2 %, "
                    f"margin {DETECTED_MARGIN:g}), ties broken by defect AUC (margin "
                    f"{AUC_MARGIN:g}) on synthetic surfaces; on real maps mean gradient and RMS "
                    f"contrast (margin {100 * RELATIVE_MARGIN:g} %), 'mixed' when they disagree")
CLAIM_RULES = {
    "optimized-beats-common": _VISIBILITY_RULE + "; agrees when the optimized gray light is "
                                                 "more visible",
    "rgb-drifts-gray": "colourfulness = sum over texels of std(R,G,B) / sum of mean(R,G,B); "
                       "agrees when it at least halves, partly when it falls",
    "gray-preferable": _VISIBILITY_RULE + "; agrees when gray is not less visible",
    "no-l2-saturates": "the texels the optimizer moved (by more than 0.02) average >= 0.8, and "
                       "the share of surface pixels at >= 90 % of their brightness under a "
                       "white light (E = 1) is at least 5 points above the L2-on-E run",
    "l2-env-equals-image": _VISIBILITY_RULE + "; agrees when about equal",
    "l2-env-sparse": f"at least half of the texels below {SPARSE_LEVEL}, and no fewer than with "
                     f"L2 on I",
    "mask-focuses": "ratio of the mean gradient inside the mask's region to that outside it, "
                    f"with vs without the mask (margin {100 * RELATIVE_MARGIN:g} %); not "
                    "testable when the mask covers the whole surface",
    "inits-converge-similar": "more than half of the pairs of maps at least halve their RMS "
                              "difference",
    "specular-faster": "iterations until the trailing mean loss is within 10 % of the best final "
                       "loss (fewest), and jitter (RMS of loss minus its moving average, over "
                       "the final loss; lowest, 10 % margin)",
}


def evaluate_claims(cases: list[dict], records: dict) -> list[dict]:
    """One entry per claim: the per-surface findings and an overall verdict."""
    out = []
    for cid, fig, text, rule in CLAIMS:
        per = []
        for case in cases:
            for f in rule(case, records.get(case["name"], {})):
                per.append({"surface": case["name"], **f})
        out.append({"id": cid, "figure": fig, "claim": text, "rule": CLAIM_RULES[cid],
                    "findings": per, "overall": _overall(per)})
    return out


def _overall(findings: list[dict]) -> str:
    """'agrees on 3 of 4 (partly: x; not testable: y)': the most common verdict over the
    tested findings (agrees first on ties), then the others by name."""
    def name(f):
        return f["surface"] + (f" ({f['values']['mask']})" if "mask" in f["values"] else "")

    tested = [f for f in findings if f["verdict"] != "not testable"]
    untested = ", ".join(name(f) for f in findings if f["verdict"] == "not testable")
    if not tested:
        return "not testable here" + (f" ({untested})" if untested else "")
    verdicts = [f["verdict"] for f in tested]
    top = max(("agrees", "partly", "differs"), key=verdicts.count)
    others = ([f"{f['verdict']}: {name(f)}" for f in tested if f["verdict"] != top]
              + ([f"not testable: {untested}"] if untested else []))
    return (f"{top} on {verdicts.count(top)} of {len(tested)}"
            + (f" ({'; '.join(others)})" if others else ""))


def claim_class(claim: dict) -> str:
    """'agree' when every tested surface agrees, 'differ' when every one differs,
    'not testable' when none could be tested, else 'partly' (partial or mixed)."""
    tested = {f["verdict"] for f in claim["findings"] if f["verdict"] != "not testable"}
    if not tested:
        return "not testable"
    if tested == {"agrees"}:
        return "agree"
    return "differ" if tested == {"differs"} else "partly"


def tally(res: dict) -> str:
    """'N agree, M partly, K differ' over the claims."""
    classes = [claim_class(c) for c in res["claims"]]
    parts = [f"{classes.count(k)} {k}" for k in ("agree", "partly", "differ", "not testable")
             if k in classes]
    return f"of {len(classes)} claims of the paper, " + ", ".join(parts)
