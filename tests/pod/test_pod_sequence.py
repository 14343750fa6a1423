"""A sequence of shots detects a defect when any shot does (``pod.sequence``)."""
from __future__ import annotations

import pytest

from scratchlight.pod.sequence import sequence_rows


def _row(light, defect, dprime, threshold=2.0):
    return {"light": light, "defect": defect, "size_um": 1.0 + defect, "dprime": dprime,
            "dprime_npw": dprime, "dprime_cho": None,
            "hit": None if dprime is None else int(dprime >= threshold)}


def test_a_sequence_takes_each_defects_best_shot_and_hits_when_any_shot_hits():
    rows = [_row("a", 0, 0.5), _row("b", 0, 3.0),    # only b sees defect 0
            _row("a", 1, 2.5), _row("b", 1, 1.0),    # only a sees defect 1
            _row("a", 2, 0.1), _row("b", 2, 1.9),    # neither
            _row("a", 3, None), _row("b", 3, 0.7)]   # a could not measure it
    seq = {r["defect"]: r for r in sequence_rows(rows, {"a+b": ["a", "b"]})}
    assert [seq[d]["hit"] for d in range(4)] == [1, 1, 0, 0]
    assert [seq[d]["dprime"] for d in range(4)] == [3.0, 2.5, 1.9, 0.7]
    assert [seq[d]["shot"] for d in range(4)] == ["b", "a", "b", "b"]
    assert {r["light"] for r in seq.values()} == {"a+b"}
    # each shot alone finds 1 of 4; together 2: the union, not either one
    alone = {name: sum(r["hit"] or 0 for r in sequence_rows(rows, {name: [name]}))
             for name in "ab"}
    assert alone == {"a": 1, "b": 1}


def test_no_shot_measured_keeps_the_row_unmeasured_and_unknown_shots_are_refused():
    rows = [_row("a", 0, None), _row("b", 0, None)]
    (row,) = sequence_rows(rows, {"s": ["a", "b"]})
    assert row["hit"] is None and row["shot"] is None
    with pytest.raises(ValueError, match="no rows for c"):
        sequence_rows(rows, {"s": ["a", "c"]})
