"""The paper's claims and how each is checked: :data:`CLAIMS` (id, figure, text, check),
the rules in words (:data:`CLAIM_RULES`), :func:`evaluate_claims` (per-surface findings and
an overall verdict per claim) and the tally over all claims.

A check takes a surface case and its run records for every seed (a list, one dict per
seed keyed by experiment, with the light maps under ``"_arrays"``) and returns findings
``{"verdict", "evidence", "parts", "values"}``. Each part is one quantity measured per
seed with its mean, 95 % t-interval and verdict (:mod:`.verdicts`); the finding's verdict
combines its parts: 'agrees', 'partly', 'differs', 'inconclusive' or 'not testable'."""
from __future__ import annotations

import math

import numpy as np

from .detect import OBSERVERS, dprime_values
from .experiments import INITS
from .measures import SPARSE_LEVEL, colourfulness, convergence_stats, pairwise_rms
from .verdicts import EQUIVALENCE_MARGIN, combine, interval, judge, relative_margin, show

__all__ = ["CLAIMS", "CLAIM_RULES", "VISIBILITY_RULE", "VERDICT_RULE", "visibility_parts",
           "evaluate_claims", "claim_class", "tally"]

# The colourfulness ratio (after / before RGB optimization) at or below which the light
# has "drifted to gray" in full; a ratio below 1 alone is a drift in part.
HALVED = 0.5


def _finding(parts: list[dict], evidence: str, **values) -> dict:
    verdict = combine([p["verdict"] for p in parts])
    text = evidence + ("; " if evidence else "") + "; ".join(show(p) for p in parts)
    return {"verdict": verdict, "evidence": text, "parts": parts, "values": values}


def _metric(seq, key, when, name):
    return [r[key][f"metrics_{when}"].get(name) if key in r else None for r in seq]


def _diffs(a, b):
    return [x - y if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
            else None for x, y in zip(a, b)]


def visibility_parts(case: dict, seq: list[dict], a: tuple, b: tuple, kind: str) -> list[dict]:
    """Parts comparing the visibility of render ``a`` = (experiment, when) with ``b``, one
    value per seed of a - b, judged by ``kind`` ('above', 'not_below' or 'equal', margin
    :data:`.verdicts.EQUIVALENCE_MARGIN` of their mean size). Synthetic surfaces: d' of the
    NPW and CHO observers; real maps: mean gradient and RMS contrast."""
    if case["kind"] == "synthetic":
        pairs = [(f"d' {label}", dprime_values(seq, *a, o), dprime_values(seq, *b, o))
                 for o, label in OBSERVERS]
    else:
        pairs = [(label, _metric(seq, *a, m), _metric(seq, *b, m))
                 for m, label in (("mean_gradient", "mean gradient"),
                                  ("rms_contrast", "RMS contrast"))]
    out = []
    for label, va, vb in pairs:
        ia, ib = interval(va), interval(vb)
        margin = relative_margin(va, vb) if kind != "above" else 0.0
        part = judge(f"{label} difference ({ia['mean']:.3g} vs {ib['mean']:.3g})",
                     _diffs(va, vb), kind, 0.0, margin)
        out.append(part)
    return out


def _mean_text(seq, key, when, names=(("auc", "AUC"), ("cnr", "CNR"))) -> str:
    return ", ".join(f"{label} {interval(_metric(seq, key, when, m))['mean']:.3g}"
                     for m, label in names)


def _claim_better_than_common(case, seq):
    if not all({"rgb", "init_file"} <= set(r) for r in seq):
        return []
    parts = visibility_parts(case, seq, ("init_file", "after"), ("rgb", "before"), "above")
    ev = "optimized gray light vs common light (means over seeds)"
    if case["kind"] == "synthetic":
        ev += (f": {_mean_text(seq, 'init_file', 'after')} vs "
               f"{_mean_text(seq, 'rgb', 'before')}")
    return [_finding(parts, ev)]


def _claim_rgb_gray(case, seq):
    if not all("rgb" in r for r in seq):
        return []
    ratio = []
    for r in seq:
        c0, c1 = r["rgb"]["map_before"]["colourfulness"], r["rgb"]["map_after"]["colourfulness"]
        ratio.append(c1 / c0 if c0 > 0 else None)
    E = seq[0]["rgb"]["_arrays"]["E"]
    means = E.reshape(-1, E.shape[-1]).mean(axis=0)
    bright = E.max(axis=2) >= 0.5
    core = colourfulness(E[bright][None]) if bright.any() else float("nan")
    c0 = seq[0]["rgb"]["map_before"]["colourfulness"]
    parts = [judge("colourfulness after / before", ratio, "below", 1.0),
             judge("colourfulness after / before (halved)", ratio, "below", HALVED)]
    return [_finding(parts, f"colourfulness of the studio map {c0:.3f} (0 = gray); first seed: "
                            f"channel means R {means[0]:.3f} G {means[1]:.3f} B {means[2]:.3f}, "
                            f"{int(bright.sum())} texels brighter than 0.5 with colourfulness "
                            f"{core:.3f}", before=c0, bright_core=core)]


def _claim_gray_preferable(case, seq):
    if not all({"rgb", "init_file"} <= set(r) for r in seq):
        return []
    parts = visibility_parts(case, seq, ("init_file", "after"), ("rgb", "after"), "not_below")
    return [_finding(parts, "gray light vs RGB light")]


def _no_l2(r: dict) -> tuple[float, float]:
    """(mean of the texels the optimizer moved without L2, share of them at 1)."""
    E0, E = r["l2_none"]["_arrays"]["E0"], r["l2_none"]["_arrays"]["E"]
    moved = np.abs(E - E0).max(axis=2) > SPARSE_LEVEL
    if not moved.any():
        return float("nan"), 0.0
    peak = E.max(axis=2)[moved]
    return float(peak.mean()), float(np.mean(peak >= 1 - SPARSE_LEVEL))


def _claim_no_l2_saturates(case, seq):
    if not all({"l2_none", "base"} <= set(r) for r in seq):
        return []
    moved = [_no_l2(r) for r in seq]
    white_n = [r["l2_none"]["metrics_after"]["near_white"] for r in seq]
    white_e = [r["base"]["metrics_after"]["near_white"] for r in seq]
    parts = [judge("mean of the moved texels without L2", [m for m, _ in moved], "above", 0.8),
             judge("near-white share, no L2 minus L2 on E", _diffs(white_n, white_e), "above",
                   0.05)]
    at_one = interval([a for _, a in moved])["mean"]
    clipped = interval([r["l2_none"]["metrics_after"]["clipped_fraction"] for r in seq])["mean"]
    top = interval([r["l2_none"]["image_after"]["max_luminance"] for r in seq])["mean"]
    ev = (f"means over seeds: {100 * at_one:.0f} % of the moved texels at 1; near white "
          f"{100 * interval(white_n)['mean']:.0f} % vs {100 * interval(white_e)['mean']:.0f} %; "
          f"pixels >= 1: {100 * clipped:.0f} % (brightest surface pixel Y = {top:.2f}: under a "
          f"light capped at 1 the metal cannot pass its reflectance)")
    return [_finding(parts, ev)]


def _claim_env_equals_image(case, seq):
    if not all({"l2_image", "base"} <= set(r) for r in seq):
        return []
    return [_finding(visibility_parts(case, seq, ("base", "after"), ("l2_image", "after"),
                                      "equal"), "L2 on E vs L2 on I")]


def _claim_env_sparse(case, seq):
    if not all({"l2_image", "base"} <= set(r) for r in seq):
        return []
    se = [r["base"]["map_after"]["sparsity"] for r in seq]
    si = [r["l2_image"]["map_after"]["sparsity"] for r in seq]
    s0 = seq[0]["base"]["map_before"]["sparsity"]
    parts = [judge(f"share of texels below {SPARSE_LEVEL} with L2 on E", se, "above", 0.5),
             judge("that share minus the one with L2 on I", _diffs(se, si), "not_below", 0.0,
                   0.01)]
    return [_finding(parts, f"initially {100 * s0:.0f} % below {SPARSE_LEVEL}")]


def _focus(r: dict, who: str) -> float | None:
    """Mean gradient inside the region over that outside it, after the run ``who``."""
    i, o = r.get(f"{who}_after_inside"), r.get(f"{who}_after_outside")
    return i / o if i is not None and o else None


def _claim_mask_focuses(case, seq):
    out = []
    for key, what in (("scratch", "scratch map"), ("roi", "user region")):
        regions = [r.get(key, {}).get("region") for r in seq]
        if not any(regions):
            continue
        ratio, cover = [], []
        for reg in regions:
            if reg:
                cover.append(reg["coverage"])
            f_mask = _focus(reg, key) if reg else None
            f_base = _focus(reg, "base") if reg else None
            ok = reg and reg["coverage"] < 0.99 and f_mask is not None and f_base
            ratio.append(f_mask / f_base - 1 if ok else None)
        coverage = float(np.mean(cover))
        if all(v is None for v in ratio):
            out.append({"verdict": "not testable", "parts": [],
                        "evidence": f"the {what} covers {100 * coverage:.0f} % of the surface "
                                    f"pixels: nothing to focus on",
                        "values": {"mask": what, "coverage": coverage}})
            continue
        parts = [judge("inside/outside gradient ratio, with over without the mask, minus 1",
                       ratio, "above", 0.0)]
        ev = f"{what} ({100 * coverage:.0f} % of the surface)"
        if case["kind"] == "synthetic":
            ev += "; d' (means over seeds) " + ", ".join(
                f"{label} {interval(dprime_values(seq, key, 'after', o))['mean']:.3g} with the "
                f"mask vs {interval(dprime_values(seq, 'base', 'after', o))['mean']:.3g} "
                f"without" for o, label in OBSERVERS)
        out.append(_finding(parts, ev, mask=what, coverage=coverage))
    return out


def _init_maps(recs, which: str) -> dict:
    return {label: recs[key]["_arrays"][which] for key, label in INITS if key in recs}


def _inits(recs) -> tuple[float, float, float]:
    """(share of map pairs whose RMS difference at least halved, mean RMS after / before,
    spread of final objectives (max - min) / min) of one seed."""
    d0, d1 = pairwise_rms(_init_maps(recs, "E0")), pairwise_rms(_init_maps(recs, "E"))
    shrunk = sum(d1[p] <= 0.5 * d0[p] for p in d0) / len(d0)
    m0, m1 = float(np.mean(list(d0.values()))), float(np.mean(list(d1.values())))
    losses = [recs[k]["objective_after"]["loss"] for k, _ in INITS if k in recs]
    return shrunk, (m1 / m0 if m0 > 0 else float("nan")), (max(losses) - min(losses)) / min(losses)


def _claim_inits_similar(case, seq):
    if not all(len(_init_maps(r, "E")) >= 3 for r in seq):
        return []
    st = [_inits(r) for r in seq]
    parts = [judge("share of map pairs whose RMS difference at least halves",
                   [s[0] for s in st], "above", 0.5),
             judge("mean pairwise RMS, after / before", [s[1] for s in st], "below", 1.0)]
    spread = interval([s[2] for s in st])["mean"]
    return [_finding(parts, f"final high-spp objectives spread by {100 * spread:.0f} % "
                            f"((max - min) / min, mean over seeds)")]


def _specular(recs) -> tuple[float, float, dict] | None:
    """(fastest other's iterations minus specular's, specular jitter over the lowest other,
    stats) of one seed."""
    curves = {label: recs[k]["loss"] for k, label in INITS if k in recs}
    if "specular" not in curves or len(curves) < 2:
        return None
    st = convergence_stats(curves)
    n = max(len(c) for c in curves.values())
    t = {k: (v["iterations_to_converge"] if v["iterations_to_converge"] is not None else n + 1)
         for k, v in st.items()}
    others = [k for k in st if k != "specular"]
    jit = min(st[k]["jitter"] for k in others)
    return (min(t[k] for k in others) - t["specular"],
            st["specular"]["jitter"] / jit if jit > 0 else float("nan"), st)


def _claim_specular_faster(case, seq):
    st = [_specular(r) for r in seq]
    if any(s is None for s in st):
        return []
    parts = [judge("iterations to converge, fastest other init minus specular",
                   [s[0] for s in st], "not_below", 0.0, 0.5),
             judge("specular jitter / lowest other jitter", [s[1] for s in st], "below", 1.1)]
    return [_finding(parts, "converged = trailing mean loss within 10 % of the best final "
                            "loss", stats=st[0][2])]


# (id, figure, the paper's claim, check)
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
VISIBILITY_RULE = ("visibility = d' of the NPW and CHO model observers on the displayed image "
                   "(synthetic surfaces, the defect-free twin as 'absent'); on real maps mean "
                   "gradient and RMS contrast; one part per measure, on the per-seed "
                   "difference, margin of equality / 'at least' "
                   f"{100 * EQUIVALENCE_MARGIN:g} % of the mean size")
CLAIM_RULES = {
    "optimized-beats-common": VISIBILITY_RULE + "; agrees when the optimized gray light is "
                                                "more visible (interval above 0)",
    "rgb-drifts-gray": "colourfulness = sum over texels of std(R,G,B) / sum of mean(R,G,B); "
                       "parts: the after / before ratio below 1, and below 0.5",
    "gray-preferable": VISIBILITY_RULE + "; agrees when gray is not less visible (interval "
                                         "above -margin)",
    "no-l2-saturates": "parts: the texels the optimizer moved (by more than 0.02) average above "
                       "0.8; the share of surface pixels at >= 90 % of their brightness under a "
                       "white light (E = 1) is more than 5 points above the L2-on-E run",
    "l2-env-equals-image": VISIBILITY_RULE + "; agrees when the interval lies within +-margin",
    "l2-env-sparse": f"parts: more than half of the texels below {SPARSE_LEVEL}; no fewer than "
                     f"with L2 on I (margin 0.01)",
    "mask-focuses": "ratio of the mean gradient inside the mask's region to that outside it, "
                    "with over without the mask, above 1; not testable when the mask covers "
                    "the whole surface",
    "inits-converge-similar": "parts: more than half of the pairs of maps at least halve their "
                              "RMS difference; the mean pairwise RMS falls",
    "specular-faster": "parts: iterations until the trailing mean loss is within 10 % of the "
                       "best final loss, specular no more than the fastest other (margin 0.5); "
                       "jitter (RMS of loss minus its moving average, over the final loss) "
                       "below 1.1 x the lowest other",
}
VERDICT_RULE = ("each part: mean over seeds and its 95 % t-interval; agrees / differs only when "
              "the interval lies wholly on one side, else inconclusive; a claim agrees when "
              "every part does, differs when every part does, is inconclusive when none is "
              "decided, else partly (t-interval over the seeds, see scratchlight.study.verdicts)")


def evaluate_claims(cases: list[dict], runs: list[dict]) -> list[dict]:
    """One entry per claim: the per-surface findings and an overall verdict. ``runs`` holds
    one ``{surface: {experiment: record}}`` per seed."""
    out = []
    for cid, fig, text, rule in CLAIMS:
        per = []
        for case in cases:
            seq = [r[case["name"]] for r in runs if case["name"] in r]
            for f in (rule(case, seq) if seq else []):
                per.append({"surface": case["name"], **f})
        out.append({"id": cid, "figure": fig, "claim": text,
                    "rule": CLAIM_RULES[cid], "findings": per,
                    "overall": _overall(per)})
    return out


_ORDER = ("agrees", "partly", "differs", "inconclusive")


def _overall(findings: list[dict]) -> str:
    """'agrees on 3 of 4 (partly: x; not testable: y)': the most common verdict over the
    tested findings (in the order of :data:`_ORDER` on ties), then the others by name."""
    def name(f):
        return f["surface"] + (f" ({f['values']['mask']})" if "mask" in f["values"] else "")

    tested = [f for f in findings if f["verdict"] != "not testable"]
    untested = ", ".join(name(f) for f in findings if f["verdict"] == "not testable")
    if not tested:
        return "not testable here" + (f" ({untested})" if untested else "")
    verdicts = [f["verdict"] for f in tested]
    top = max(_ORDER, key=verdicts.count)
    others = ([f"{f['verdict']}: {name(f)}" for f in tested if f["verdict"] != top]
              + ([f"not testable: {untested}"] if untested else []))
    return (f"{top} on {verdicts.count(top)} of {len(tested)}"
            + (f" ({'; '.join(others)})" if others else ""))


def claim_class(claim: dict) -> str:
    """'agree' when every tested surface agrees, 'differ' when every one differs,
    'inconclusive' when none is decided, 'not testable' when none could be tested, else
    'partly' (partial or mixed)."""
    tested = [f["verdict"] for f in claim["findings"] if f["verdict"] != "not testable"]
    if not tested:
        return "not testable"
    verdict = combine(tested)  # the rule that combines a claim's parts, over its surfaces
    return {"agrees": "agree", "differs": "differ"}.get(verdict, verdict)


def tally(res: dict) -> str:
    """'N agree, M partly, K differ' over the claims."""
    classes = [claim_class(c) for c in res["claims"]]
    parts = [f"{classes.count(k)} {k}" for k in ("agree", "partly", "differ", "inconclusive",
                                                 "not testable") if k in classes]
    return f"of {len(classes)} claims of the paper, " + ", ".join(parts)
