"""POD of a sequence of shots: a defect is found when any shot of the sequence finds it.

A multi-shot station (``optimize --shots K``, or a fixed set of low-angle lamps) takes K
images and an inspector, or a vision system, looks at all of them; a scratch is detected
when it is detected in at least one. From the rows of ``measure.measure_defects`` (one per
defect and light, each shot measured as a light of its own), :func:`sequence_rows` makes
one row per defect and sequence: the d' of the shot where the defect shows best (the
largest d' over the shots) and its hit, which is then a hit exactly when some shot hits
(all shots share the threshold). The rows go through ``run.pod_of_rows`` like any light's.
"""
from __future__ import annotations

__all__ = ["sequence_rows"]


def sequence_rows(rows: list[dict], sequences: dict[str, list[str]]) -> list[dict]:
    """One row per defect and sequence (module docstring).

    Args:
        rows: the rows of ``measure_defects`` (keys ``light``, ``defect``, ``dprime``,
            ``dprime_npw``, ``dprime_cho``, ``hit``, ...).
        sequences: {sequence name: [light names of its shots]}; one name makes a
            one-shot sequence (its rows renamed).
    Returns rows like the input's, with ``light`` the sequence's name and ``shot`` the
    light whose d' the row took (None when no shot measured the defect).
    """
    by_light: dict[str, dict[int, dict]] = {}
    for r in rows:
        by_light.setdefault(r["light"], {})[r["defect"]] = r
    out = []
    for name, shots in sequences.items():
        missing = [s for s in shots if s not in by_light]
        if missing or not shots:
            raise ValueError(f"sequence {name!r}: no rows for {', '.join(missing) or 'any shot'}")
        for defect in sorted(by_light[shots[0]]):
            per = [by_light[s][defect] for s in shots]
            measured = [r for r in per if r["dprime"] is not None]
            best = max(measured, key=lambda r: r["dprime"]) if measured else per[0]
            row = dict(best, light=name, shot=best["light"] if measured else None)
            if measured:
                row["hit"] = int(any(r["hit"] for r in measured))
            out.append(row)
    return out
