"""From the defects' rows to POD: the hit/miss and â fits of each light, and orientations.

Each light gets the hit/miss GLM of :mod:`.fit` (a50, a90, a90/95 and the lower band on a
grid of sizes, or the stated reason there is no curve), the â-versus-a model of
:mod:`.ahat` on the same defects (d' as â, censored below a tenth of the threshold), and,
per orientation, the hit rate with its Clopper-Pearson 95 % interval, the median d' and,
where the data allow, that orientation's own a90 (Wald, the orientation's defects alone):
an orientation where the light is blind has a low hit rate and no or a large a90. a90 and
a90/95 beyond the largest size swept are flagged as extrapolations.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from ..errors import InputError
from .ahat import fit_ahat
from .fit import PodFitError, fit_hit_miss

__all__ = ["analyse_light", "clopper_pearson", "BAND_POINTS", "AHAT_FLOOR_FRACTION"]

BAND_POINTS = 40
AHAT_FLOOR_FRACTION = 0.1
"""â-versus-a: d' below this fraction of the threshold are censored."""


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial interval of k successes in n trials."""
    alpha = 1.0 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def _none_if_nan(v):
    return None if v is None or not np.isfinite(v) else float(v)


def _hit_miss(a, y, link, method) -> dict:
    try:
        fit = fit_hit_miss(a, y, link, method)
    except PodFitError as e:
        return {"status": e.status, "note": e.problem, "a50": None, "a90": None,
                "a90_95": None, "curve": None}
    out = {"status": "fitted", **fit.summary()}
    grid = np.geomspace(a.min() / 1.5, a.max() * 1.5, BAND_POINTS)
    out["curve"] = {"size_um": grid.tolist(), "pod": fit.pod(grid).tolist(),
                    "pod_lower95": fit.pod_lower(grid).tolist()}
    return out


def _ahat(a, d, threshold) -> dict:
    floor = AHAT_FLOOR_FRACTION * threshold
    try:
        fit = fit_ahat(a, d, threshold, floor)
    except InputError as e:
        return {"status": "not fitted", "note": e.problem, "a50": None, "a90": None,
                "a90_95": None, "curve": None}
    out = {"status": "fitted", **fit.summary()}
    grid = np.geomspace(a.min() / 1.5, a.max() * 1.5, BAND_POINTS)
    out["curve"] = {"size_um": grid.tolist(), "pod": fit.pod(grid).tolist(),
                    "pod_lower95": fit.pod_lower(grid).tolist()}
    out["line"] = {"size_um": [float(a.min()), float(a.max())],
                   "ahat": [float(np.exp(fit.b0 + fit.b1 * np.log(v))) for v in (a.min(), a.max())]}
    return out


def _orientations(rows: list[dict]) -> list[dict]:
    out = []
    for angle in sorted({r["orientation_deg"] for r in rows}):
        mine = [r for r in rows if r["orientation_deg"] == angle]
        k, n = sum(r["hit"] for r in mine), len(mine)
        lo, hi = clopper_pearson(k, n)
        entry = {"orientation_deg": angle, "defects": n, "hits": k, "hit_rate": k / n,
                 "hit_rate_ci95": [lo, hi],
                 "median_dprime": float(np.median([r["dprime"] for r in mine])),
                 "a90": None, "note": ""}
        try:
            fit = fit_hit_miss([r["size_um"] for r in mine], [r["hit"] for r in mine],
                               "logit", "wald")
            entry["a90"] = fit.a_p(0.9)
        except PodFitError as e:
            entry["note"] = e.status
        out.append(entry)
    return out


def analyse_light(rows: list[dict], threshold: float, link: str = "logit",
                  method: str = "lr") -> dict:
    """POD of one light's rows (those with a d'): ``{"defects", "measured", "hits",
    "hit_miss", "ahat", "orientation", "blind"}``; ``blind`` lists the orientations whose
    hit rate is significantly below the overall rate (the top of its 95 % interval under
    it), worst first; ``weakest`` the orientation of lowest median d' (and the best one).
    a90 or a90/95 above the largest size swept are listed in ``extrapolated``."""
    used = [r for r in rows if r["hit"] is not None]
    out = {"defects": len(rows), "measured": len(used), "hits": sum(r["hit"] for r in used)}
    if not used:
        note = "no defect covered a usable part of the image"
        empty = {"status": "no data", "note": note, "a50": None, "a90": None, "a90_95": None,
                 "curve": None}
        return {**out, "hit_miss": empty, "ahat": dict(empty), "orientation": [], "blind": [],
                "weakest": None}
    a = np.array([r["size_um"] for r in used], np.float64)
    y = np.array([r["hit"] for r in used], np.int64)
    d = np.array([r["dprime"] for r in used], np.float64)
    out["hit_miss"] = _hit_miss(a, y, link, method)
    out["ahat"] = _ahat(a, d, threshold)
    out["orientation"] = _orientations(used)
    overall = out["hits"] / len(used)
    # blind: hit rate significantly below the overall rate (the interval's top under it)
    blind = sorted((o for o in out["orientation"] if o["hit_rate_ci95"][1] < overall),
                   key=lambda o: (o["hit_rate"], o["median_dprime"]))
    out["blind"] = [o["orientation_deg"] for o in blind]
    weakest = min(out["orientation"], key=lambda o: o["median_dprime"])
    strongest = max(out["orientation"], key=lambda o: o["median_dprime"])
    out["weakest"] = {"orientation_deg": weakest["orientation_deg"],
                      "median_dprime": weakest["median_dprime"],
                      "best_orientation_deg": strongest["orientation_deg"],
                      "best_median_dprime": strongest["median_dprime"]}
    largest = float(a.max())
    for key in ("hit_miss", "ahat"):
        for name in ("a50", "a90", "a90_95"):
            out[key][name] = _none_if_nan(out[key].get(name))
        beyond = [n for n in ("a90", "a90_95") if (out[key][n] or 0.0) > largest]
        out[key]["extrapolated"] = beyond
        if beyond:
            note = (f"{' and '.join(beyond)} beyond the largest size swept ({largest:g}): "
                    "extrapolated, sweep larger sizes")
            out[key]["note"] = "; ".join(v for v in (out[key].get("note"), note) if v)
    return out
