"""Planted scratches: depth, width, length and orientation as asked, one per cell, and the
inspection camera's noise."""
from __future__ import annotations

import math

import numpy as np
import pytest

from scratchlight.errors import InputError
from scratchlight.pod.camera import CameraModel, camera_frames
from scratchlight.pod.plant import Defect, plant_plate

SPACING = 5e-6


@pytest.mark.parametrize("angle", [0.0, 35.0, 90.0, 150.0])
def test_a_scratch_has_its_depth_width_and_orientation(angle):
    fine = 1e-6  # a 1 um grid resolves the 30 um groove
    d = Defect(0, 2e-6, 30e-6, angle, 0)
    removal, labels = plant_plate((301, 301), fine, [d], grid=1, length_fraction=0.6)
    assert removal.max() == pytest.approx(2e-6, rel=0.01)  # the V's tip on the centre line
    assert set(np.unique(labels)) == {0, 1}
    # principal axis of the truth cells: the scratch's direction
    iy, ix = np.nonzero(labels)
    w, v = np.linalg.eigh(np.cov(np.stack([ix, iy])))
    axis = math.degrees(math.atan2(v[1, 1], v[0, 1])) % 180
    assert min(abs(axis - angle), 180 - abs(axis - angle)) < 1.0
    length = 0.6 * 301 * fine
    along = ix * v[0, 1] + iy * v[1, 1]
    assert np.ptp(along) * fine == pytest.approx(length, rel=0.03)
    # the truth's area: full width over 80 % of the length, the tapered ends half as wide
    assert labels.sum() * fine ** 2 / length == pytest.approx(0.9 * 30e-6, rel=0.05)


def test_each_cell_holds_its_own_scratch_and_nothing_crosses_cells():
    ds = [Defect(k, 1e-6, 20e-6, 30.0 * k, 0) for k in range(4)]
    removal, labels = plant_plate((96, 96), SPACING, ds, grid=2, rng=np.random.default_rng(0))
    for k, (rs, cs) in enumerate([(slice(0, 48), slice(0, 48)), (slice(0, 48), slice(48, 96)),
                                  (slice(48, 96), slice(0, 48)), (slice(48, 96), slice(48, 96))]):
        assert set(np.unique(labels[rs, cs])) == {0, k + 1}
    assert np.all(removal >= 0) and np.all((removal > 0) >= (labels > 0))


def test_too_many_or_too_wide_scratches_are_refused():
    with pytest.raises(InputError, match="cells"):
        plant_plate((96, 96), SPACING, [Defect(k, 1e-6, 20e-6, 0, 0) for k in range(5)], grid=2)
    with pytest.raises(InputError, match="does not fit"):
        plant_plate((96, 96), SPACING, [Defect(0, 1e-6, 200e-6, 0, 0)], grid=2)


def test_camera_frames_have_photon_and_read_noise_and_saturate():
    cam = CameraModel(exposure=2.0, full_well=400.0, read_noise=5.0, frames=64)
    Y = np.full((32, 32), 0.2)
    frames = np.stack(camera_frames(Y, cam, np.random.default_rng(0)))
    n = 0.2 * 2.0 * 400.0  # electrons
    assert frames.mean() == pytest.approx(n / 400.0, rel=0.01)
    assert frames.var() == pytest.approx((n + 25.0) / 400.0 ** 2, rel=0.05)
    bright = np.stack(camera_frames(np.full((8, 8), 3.0), cam, np.random.default_rng(1)))
    assert np.all(bright == 1.0)
