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


@pytest.mark.slow
def test_run_pod_analyses_a_sequence_as_the_union_of_its_shots(tmp_path):
    """Two raking lights 90 degrees apart and their sequence: the sequence's hits are the
    defects either light hits, and its d' the larger of the two."""
    import json
    import math

    import numpy as np

    from scratchlight.lamps.footprint import lamp_footprint
    from scratchlight.lamps.geometry import Lamp
    from scratchlight.pod import PodConfig, run_pod

    def raking(az):
        F = lamp_footprint(Lamp(kind="disc", theta=math.radians(60), alpha=math.radians(az),
                                diameter=math.radians(20), power=1.0), (25, 50))
        return (F / F.max())[..., None].astype(np.float32)

    cfg = PodConfig.from_options(kind="face-mill", size=96, grid=2, depths="0.5,4",
                                 orientations="0,90", seeds=1, resolution=64, spp=16,
                                 frames=4, device="cpu", engine="transport")
    doc = run_pod(cfg, tmp_path / "out", progress=False,
                  lights={"x": raking(0), "y": raking(90)}, sequences={"x+y": ["x", "y"]})
    assert set(doc["lights"]) == {"x", "y", "x+y"}
    import csv

    with open(tmp_path / "out" / "pod.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by = {(r["light"], r["defect"]): r for r in rows}
    for d in {r["defect"] for r in rows}:
        x, y, xy = by["x", d], by["y", d], by["x+y", d]
        if x["dprime"] and y["dprime"]:
            assert float(xy["dprime"]) == max(float(x["dprime"]), float(y["dprime"]))
            assert int(xy["hit"]) == max(int(x["hit"]), int(y["hit"]))
    hits = {name: doc["lights"][name]["hits"] for name in ("x", "y", "x+y")}
    assert max(hits["x"], hits["y"]) <= hits["x+y"] <= hits["x"] + hits["y"]
    assert json.loads((tmp_path / "out" / "pod.json").read_text())["lights"]["x+y"]["hits"] \
        == hits["x+y"]
