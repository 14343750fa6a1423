import os
from pathlib import Path

import numpy as np
import pytest

import scratchlight
from scratchlight.io import check_heightmap

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _cpu_variant():
    scratchlight.use_device("auto")


@pytest.fixture(scope="session", autouse=True)
def _transport_cache(tmp_path_factory):
    """Transport matrices built by the tests (engine 'auto' is the default) go to a folder
    of this test session, not the user's cache; CLI subprocesses inherit it."""
    old = os.environ.get("SCRATCHLIGHT_CACHE")
    os.environ["SCRATCHLIGHT_CACHE"] = str(tmp_path_factory.mktemp("scratchlight-cache"))
    yield
    if old is None:
        os.environ.pop("SCRATCHLIGHT_CACHE", None)
    else:
        os.environ["SCRATCHLIGHT_CACHE"] = old


def feed_marks(ny=64, nx=80, spacing=5e-6, period_cells=6.0, amp=1.5e-6, seed=0):
    """Turning-like feed marks along x plus a little noise, heights in metres."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:ny, 0:nx]
    h = amp * np.abs(np.sin(np.pi * xx / period_cells)) + 0.05 * amp * rng.standard_normal((ny, nx))
    return check_heightmap(h, spacing, spacing, source="feed-marks")


@pytest.fixture
def feed_marks_npz(tmp_path):
    from scratchlight.io import write_npz

    path = tmp_path / "feed.npz"
    write_npz(str(path), feed_marks())
    return path
