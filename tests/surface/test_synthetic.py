"""Synthetic surfaces: kinematic invariants, ground-truth mask, determinism, units, CLI."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from scratchlight.cli import main
from scratchlight.errors import InputError
from scratchlight.io import read_heightmap, write_npz
from scratchlight.surface import SYNTHETIC_KINDS, prepare, synthesize
from scratchlight.surface.synthetic import (TRUTH_FRACTION, face_mill_marks, plant_scratches,
                                            self_affine_roughness, turning_marks)

SMALL = 96


@pytest.mark.parametrize("feed,radius", [(100e-6, 0.8e-3), (200e-6, 0.4e-3)])
def test_turning_peak_to_valley_is_f2_over_8r(feed, radius):
    hm = synthesize("turning", size=256, roughness=0.0, feed=feed, tool_radius=radius)
    pv = np.ptp(hm.heights)
    assert pv == pytest.approx(feed ** 2 / (8 * radius), rel=0.02)
    # marks are straight along y and repeat with the feed along x
    assert np.ptp(hm.heights, axis=0).max() < 1e-15
    period = int(round(feed / hm.dx))
    np.testing.assert_allclose(hm.heights[0, period:], hm.heights[0, :-period], atol=1e-12)


def test_turning_marks_exact_cusp():
    z = turning_marks((4, 41), spacing=5e-6, feed=100e-6, tool_radius=0.8e-3)
    r = 0.8e-3
    assert z.max() == pytest.approx(r - np.sqrt(r * r - (50e-6) ** 2), rel=1e-9)
    assert z.min() == 0.0


def test_face_mill_every_nth_arc_differs():
    teeth, runout = 4, 0.5e-6
    z = face_mill_marks((200, 400), spacing=5e-6, teeth=teeth, runout=runout)
    row = z[100]
    valleys = [j for j in range(1, row.size - 1) if row[j] < row[j - 1] and row[j] <= row[j + 1]]
    depth = row[valleys]
    assert len(depth) >= 3 * teeth
    # the pattern of valley depths repeats after `teeth` arcs, and differs within a period
    np.testing.assert_allclose(depth[teeth:], depth[:-teeth], atol=0.05e-6)
    assert np.ptp(depth[:teeth]) > 0.5 * runout
    # arcs are curved: the mark positions shift along x from row to row
    assert not np.allclose(z[0], z[-1])


@pytest.mark.parametrize("kind", SYNTHETIC_KINDS)
def test_physical_units_are_sane(kind):
    hm = synthesize(kind, size=SMALL, seed=1)
    assert hm.heights.shape == (SMALL, SMALL) and hm.heights.dtype == np.float64
    assert hm.dx == hm.dy == 5e-6
    assert hm.size_m[0] == pytest.approx((SMALL - 1) * 5e-6)
    assert hm.valid.all() and np.isfinite(hm.heights).all()
    assert 0.2e-6 < np.ptp(hm.heights) < 20e-6        # micrometre relief
    assert abs(hm.heights.mean()) < 1e-9
    assert hm.truth is not None and not hm.truth.any()   # no defects asked for


@pytest.mark.parametrize("kind", ["face-mill", "ground"])
def test_truth_covers_exactly_the_planted_defects(kind):
    depth = 2e-6
    clean = synthesize(kind, size=160, seed=7)
    hm = synthesize(kind, size=160, seed=7, scratches=3, dents=2, scratch_depth=depth,
                    dent_depth=depth)
    removed = clean.heights - hm.heights
    thr = TRUTH_FRACTION * depth
    assert hm.truth.any() and hm.truth.mean() < 0.2
    assert (removed[hm.truth] > thr).all()
    assert (removed[~hm.truth] <= thr + 1e-15).all()
    assert (removed >= -1e-15).all()                   # defects only remove material
    assert removed.max() == pytest.approx(depth, rel=0.05)
    _, n = ndimage.label(hm.truth, structure=np.ones((3, 3)))
    assert 1 <= n <= 5


@pytest.mark.parametrize("profile", ["v", "round"])
def test_scratch_width_and_depth(profile):
    width, depth, spacing = 40e-6, 2e-6, 2e-6
    removal, truth = plant_scratches((200, 200), spacing, 1, width, depth, profile, seed=3)
    assert removal.max() == pytest.approx(depth, rel=0.02)
    # the mask is as wide as the groove: its deepest interior point is half a width from the rim
    dist = ndimage.distance_transform_edt(truth) * spacing
    assert dist.max() == pytest.approx(width / 2, abs=1.5 * spacing)


def test_same_seed_same_surface_and_other_seed_differs():
    a = synthesize("face-mill", size=SMALL, seed=4, scratches=2, chatter=0.3e-6)
    b = synthesize("face-mill", size=SMALL, seed=4, scratches=2, chatter=0.3e-6)
    c = synthesize("face-mill", size=SMALL, seed=5, scratches=2, chatter=0.3e-6)
    np.testing.assert_array_equal(a.heights, b.heights)
    np.testing.assert_array_equal(a.truth, b.truth)
    assert not np.array_equal(a.heights, c.heights)
    assert not np.array_equal(a.truth, c.truth)


def test_chatter_is_a_sinusoid_along_the_feed():
    amp = 1e-6
    a = synthesize("turning", size=SMALL, seed=2, chatter=amp)
    b = synthesize("turning", size=SMALL, seed=2)
    d = a.heights - b.heights
    assert np.ptp(d, axis=0).max() < 1e-15           # constant along y
    assert np.ptp(d) == pytest.approx(2 * amp, rel=0.05)


def test_roughness_rms_and_zero_mean():
    z = self_affine_roughness((64, 80), spacing=5e-6, rms=30e-9, hurst=0.7, seed=0)
    assert z.std() == pytest.approx(30e-9, rel=1e-9)
    assert abs(z.mean()) < 1e-20
    np.testing.assert_array_equal(z, self_affine_roughness((64, 80), 5e-6, 30e-9, 0.7, seed=0))


def test_bad_parameters_name_the_parameter():
    with pytest.raises(InputError, match="kind"):
        synthesize("planing")
    with pytest.raises(InputError, match="size"):
        synthesize("turning", size=8)
    with pytest.raises(InputError, match="scratches"):
        synthesize("turning", size=32, scratches=-1)
    with pytest.raises(InputError, match="chatter"):
        synthesize("turning", size=32, chatter=-1e-6)
    with pytest.raises(InputError, match="stepover"):
        synthesize("turning", size=32, stepover=1e-4)


def test_npz_round_trip_and_prepare_keeps_truth(tmp_path):
    hm = synthesize("ball-end", size=SMALL, seed=0, scratches=2)
    path = tmp_path / "s.npz"
    write_npz(str(path), hm)
    back = read_heightmap(path)
    np.testing.assert_array_equal(back.heights, hm.heights)
    np.testing.assert_array_equal(back.truth, hm.truth)
    assert back.dx == hm.dx and back.dy == hm.dy
    small = prepare(back, max_size=48)
    assert small.truth.shape == small.shape and small.truth.any()


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "fm.npz"
    assert main(["synth", "--kind", "face-mill", "--size", "64", "--scratches", "2",
                 "--chatter", "0.2", "--seed", "3", "--out", str(out)]) == 0
    hm = read_heightmap(out)
    ref = synthesize("face-mill", size=64, seed=3, scratches=2, chatter=0.2e-6)
    np.testing.assert_allclose(hm.heights, ref.heights)
    np.testing.assert_array_equal(hm.truth, ref.truth)
    assert main(["synth", "--size", "8", "--out", str(tmp_path / "x.npz")]) == 2
    assert main(["synth", "--size", "32", "--scratches", "-1",
                 "--out", str(tmp_path / "x.npz")]) == 2
    assert main(["synth", "--size", "32", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [e.split(":")[2].strip() for e in err] == ["--size", "--scratches", "--out"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fm.npz"]
