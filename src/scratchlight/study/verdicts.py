"""Verdicts with uncertainty: a claim's numbers are measured once per seed, and a verdict
follows from the confidence interval of their mean, not from one run.

The interval is Student's t-interval over the seeds (:func:`interval`): mean +- t(0.975,
n - 1) * sd / sqrt(n), sd with n - 1 degrees of freedom, at 95 % (:data:`LEVEL`). Each
seed is one independent replicate: a new synthetic surface (and its defect-free twin) and
new seeds for every run; on a real map the surface stays and the runs' seeds change. With
one seed there is no interval, and nothing is decided.

A claim is split into parts, each a quantity per seed and what the paper says about it
(:func:`judge`, kinds in :data:`KINDS`):

- ``above`` threshold t: agrees when the whole interval is above t, differs when it is
  wholly below, else inconclusive (``below`` mirrors it);
- ``not_below`` (non-inferiority, "at least as well"), with a margin m >= 0: agrees when the
  interval lies above t - m, differs when it lies wholly below t, else inconclusive;
- ``equal`` (equivalence), margin m: agrees when the interval lies inside (t - m, t + m),
  differs when it excludes t (and is not inside), else inconclusive.

The parts of a claim combine (:func:`combine`): every part agrees -> agrees; every part
differs -> differs; no part decided -> inconclusive; otherwise partly.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["LEVEL", "KINDS", "EQUIVALENCE_MARGIN", "interval", "judge", "combine",
           "relative_margin", "show"]

LEVEL = 0.95
# Equality and "at least as well" allow this share of the compared quantities' mean size.
EQUIVALENCE_MARGIN = 0.10
KINDS = {"above": "above {t}", "below": "below {t}", "not_below": "not below {t} - {m}",
         "equal": "within {t} +- {m}"}


def interval(values, level: float = LEVEL) -> dict:
    """Mean and two-sided t-interval of the finite ``values``: ``{"n", "mean", "lo", "hi",
    "values"}``; lo and hi are NaN with fewer than two finite values."""
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], np.float64)
    out = {"n": int(v.size), "mean": float(v.mean()) if v.size else float("nan"),
           "lo": float("nan"), "hi": float("nan"),
           "values": [None if x is None or not math.isfinite(x) else float(x) for x in values]}
    if v.size >= 2:
        half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
        out["lo"], out["hi"] = out["mean"] - half, out["mean"] + half
    return out


def _decide(kind: str, lo: float, hi: float, t: float, m: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    if kind == "above":
        return "agrees" if lo > t else ("differs" if hi < t else "inconclusive")
    if kind == "below":
        return "agrees" if hi < t else ("differs" if lo > t else "inconclusive")
    if kind == "not_below":
        return "agrees" if lo > t - m else ("differs" if hi < t else "inconclusive")
    if kind == "equal":
        if t - m < lo and hi < t + m:
            return "agrees"
        return "differs" if lo > t or hi < t else "inconclusive"
    raise ValueError(f"unknown kind {kind!r}")


def judge(name: str, values, kind: str, threshold: float = 0.0, margin: float = 0.0,
          level: float = LEVEL) -> dict:
    """One part of a claim: the interval of ``values`` (one per seed) and its verdict
    against ``threshold`` (and ``margin``) for ``kind`` (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    ci = interval(values, level)
    return {"name": name, "kind": kind, "threshold": float(threshold), "margin": float(margin),
            **ci, "level": level,
            "verdict": _decide(kind, ci["lo"], ci["hi"], threshold, margin)}


def combine(verdicts: list[str]) -> str:
    """The verdict of a claim from those of its parts (module docstring)."""
    v = set(verdicts)
    if not v:
        return "not testable"
    if v == {"agrees"}:
        return "agrees"
    if v == {"differs"}:
        return "differs"
    if v == {"inconclusive"}:
        return "inconclusive"
    return "partly"


def relative_margin(a, b, share: float = EQUIVALENCE_MARGIN) -> float:
    """``share`` of the mean size of two quantities measured per seed (finite values)."""
    vals = [abs(x) for x in list(a) + list(b) if x is not None and math.isfinite(x)]
    return share * float(np.mean(vals)) if vals else 0.0


def _g(x: float, digits: int) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}g}"


def show(part: dict, digits: int = 3) -> str:
    """'name mean [lo, hi] (n seeds; claim: above 0) -> verdict'."""
    rule = KINDS[part["kind"]].format(t=_g(part["threshold"], digits), m=_g(part["margin"], 2))
    ci = (f"[{_g(part['lo'], digits)}, {_g(part['hi'], digits)}]"
          if math.isfinite(part["lo"]) else "[no interval]")
    return (f"{part['name']} {_g(part['mean'], digits)} {ci} ({part['n']} seeds; claim: "
            f"{rule}) -> {part['verdict']}")
