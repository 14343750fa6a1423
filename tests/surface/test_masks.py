"""Image-space masks of a prepared surface (surface.masks), on a grid where image pixels
are the height map's cells (to_image = the identity), so no scene is needed."""
import numpy as np
import pytest
from PIL import Image

from scratchlight.errors import InputError
from scratchlight.io import check_heightmap
from scratchlight.surface.masks import SurfaceMasks
from scratchlight.surface.scratchmap import scratch_map


def _masks(truth=None, crop=None, raw_shape=(20, 30)):
    ny, nx = (20, 30) if crop is None else (crop[3], crop[2])
    rng = np.random.default_rng(0)
    h = 1e-7 * rng.standard_normal((ny, nx))
    h[:, 12:14] -= 2e-6  # a groove
    hm = check_heightmap(h, 5e-6, 5e-6, source="test")
    if truth is not None:
        hm = hm.replace(truth=truth)
    obj = np.ones((ny, nx), bool)
    obj[0] = False  # a row off the surface
    return SurfaceMasks(obj, lambda cells: np.asarray(cells, bool).copy(), hm, raw_shape, crop)


def test_object_scratch_and_array_regions():
    m = _masks()
    assert np.array_equal(m.region("object"), m.object_mask)
    expected = scratch_map(m.heightmap.heights, 5, 5, 0.5) & m.object_mask
    got = m.region("scratch", 5, 5, 0.5)
    assert got.dtype == bool and got.shape == (20, 30) and np.array_equal(got, expected)
    assert got[1:, 11:15].all() and not got[:, :6].any() and not got[0].any()  # the groove only
    region = np.zeros((20, 30), bool)
    region[:5, :5] = True
    assert np.array_equal(m.region(region), region & m.object_mask)
    with pytest.raises(InputError, match="does not match the image"):
        m.region(np.ones((5, 5), bool))
    tiny = np.zeros((20, 30), bool)
    tiny[0, :10] = True  # off the surface entirely
    with pytest.raises(InputError, match="fewer than 4"):
        m.region(tiny)


def test_png_region_is_cropped_like_the_heights(tmp_path):
    raw = np.zeros((20, 40), np.uint8)
    raw[:, 10:15] = 255  # columns 10-14 of the file's grid
    Image.fromarray(raw).save(tmp_path / "roi.png")
    m = _masks(crop=(5, 0, 30, 20), raw_shape=(20, 40))
    got = m.region(str(tmp_path / "roi.png"))
    assert np.array_equal(np.flatnonzero(got[5]), np.arange(5, 10))  # shifted by the crop
    Image.fromarray(raw[:, :20]).save(tmp_path / "small.png")
    with pytest.raises(InputError, match="20 x 20 but the height map is 40 x 20"):
        m.region(str(tmp_path / "small.png"))


def test_truth_is_none_without_defects_and_within_the_object_mask():
    assert _masks().truth() is None
    assert _masks(truth=np.zeros((20, 30), bool)).truth() is None
    t = np.zeros((20, 30), bool)
    t[0:3, 2] = True
    got = _masks(truth=t).truth()
    assert got.sum() == 2 and not got[0].any()
