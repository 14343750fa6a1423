"""``scratchlight lamps`` on the folder of a multi-shot run: one rig per shot, one table."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from scratchlight.lamps.sequence import sequence_lights


def test_sequence_lights_are_the_shots_in_numeric_order(tmp_path):
    for k in (1, 2, 10):
        (tmp_path / f"envmap_shot{k}.exr").write_bytes(b"")
    (tmp_path / "envmap_shot1.png").write_bytes(b"")
    assert [p.rsplit("/", 1)[1] for p in sequence_lights(str(tmp_path))] == \
        ["envmap_shot1.exr", "envmap_shot2.exr", "envmap_shot10.exr"]
    (tmp_path / "envmap.exr").write_bytes(b"")  # a single-light folder is not a sequence
    assert sequence_lights(str(tmp_path)) is None
    assert sequence_lights(str(tmp_path / "envmap_shot1.exr")) is None


@pytest.mark.slow
def test_lamps_of_a_two_shot_folder_write_one_row_per_shot(tmp_path):
    from surface_helpers import feed_marks

    from scratchlight.cli import main
    from scratchlight.io import write_npz

    surface = tmp_path / "fm.npz"
    write_npz(str(surface), feed_marks())
    shots = tmp_path / "shots"
    assert main(["optimize", str(surface), "--out", str(shots), "--shots", "2",
                 "--resolution", "32", "--iterations", "3", "--final-spp", "8", "--spp", "4",
                 "--engine", "transport", "--quiet", "--device", "cpu"]) == 0
    rig = tmp_path / "rig"
    assert main(["lamps", str(shots), "--out", str(rig), "--count", "1", "--max-count", "1",
                 "--iterations", "3", "--final-spp", "8", "--seeds", "1", "--quiet"]) == 0
    with open(rig / "sequence.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["shot"] for r in rows] == ["1", "2"]  # one lamp per shot: one row each
    for k, row in enumerate(rows, start=1):
        with open(rig / f"shot{k}" / "lamps.csv", newline="") as f:
            (lamp,) = list(csv.DictReader(f))
        assert {key: row[key] for key in lamp} == lamp  # the shot's own table, shot first
        assert json.loads((rig / f"shot{k}" / "run.json").read_text())["config"]["source"] \
            .endswith(f"envmap_shot{k}.exr")
    doc = json.loads((rig / "sequence.json").read_text())
    assert doc["shots"] == 2 and all(np.isfinite(s["rig_loss"]) for s in doc["per_shot"])
