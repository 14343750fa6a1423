"""Fixtures the lamp tests share (test_lamps, test_lamps_cli, test_lamps_blender): one small
face-milled part and one Session on it, built once per test process. The session caches its
engines, so the transport matrices the three files ask for are built once as well."""
import numpy as np
import pytest

import scratchlight as sl

ENVMAP_SHAPE = (8, 16)  # the session's starting light; tests pass their own texel grids


@pytest.fixture(scope="session")
def part(tmp_path_factory):
    """A 48 x 48 face-milled height map with one scratch (.npz path)."""
    folder = tmp_path_factory.mktemp("lamps-part")
    sl.io.write_npz(str(folder / "part.npz"), sl.synthesize("face-mill", size=48, scratches=1, seed=0))
    return folder / "part.npz"


@pytest.fixture(scope="session")
def session(part):
    """The part seen at 24 x 24 pixels, roughness 0.1, under a constant 0.5 light."""
    return sl.Session(str(part), sl.SceneSpec(width=24, height=24, roughness=0.1, exaggeration="auto"),
                      envmap=np.full(ENVMAP_SHAPE + (1,), 0.5, np.float32))
