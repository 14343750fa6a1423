"""The Blender files of a rig: Blender's equirectangular convention (as measured), the world
map baked for it against ``scene.envmap``, the script for a dome, and (with Blender on PATH)
the script rendered in Blender against Mitsuba's render of the same rig."""
import math
import shutil
import sys
import types
from unittest import mock

import numpy as np
import pytest

from scratchlight.lamps.blender import (BLENDER_WORLD_UPSAMPLE, bake_blender_world, blender_directions,
                                        blender_script, blender_texel, blender_uv, write_blender_files)
from scratchlight.lamps.footprint import rig_footprint, texel_masses
from scratchlight.lamps.geometry import Lamp, direction
from scratchlight.scene.envmap import bilinear_lookup, direction_to_texel

rad = math.radians

# Readings in Blender 3.4.1 (Cycles): an Environment Texture of 16 x 32 texels coding each
# texel by (column + 1/2, row + 1/2) in (R, G), Non-Color, Linear interpolation, seen by a
# 1 x 1-pixel camera of 0.05 degrees turned towards (elevation, azimuth from +x towards +y).
# The rendered R and G are W u and H v of Blender's lookup (v from the image's top row).
MEASURED = [((30, 60), 10.66474, 5.33500), ((-20, 200), 30.22045, 9.77944),
            ((60, 315), 19.99667, 2.66833), ((10, 100), 7.10942, 7.11278),
            ((0, 0), 15.99833, 8.00167), ((0, 90), 7.99833, 8.00167),
            ((45, 170), 0.88653, 4.00167), ((5, 275), 23.55388, 7.55722)]


def _dir(elevation, azimuth):
    return direction(rad(90 - elevation), rad(azimuth))


def test_blender_convention_matches_the_measurements():
    d = np.array([_dir(*ea) for ea, _, _ in MEASURED])
    u, v = blender_uv(d)
    np.testing.assert_allclose(u * 32, [m[1] for m in MEASURED], atol=0.01)
    np.testing.assert_allclose(v * 16, [m[2] for m in MEASURED], atol=0.01)
    # the texel centres invert the lookup
    centres = blender_directions((16, 32)).reshape(-1, 3)
    r, c = blender_texel(centres, (16, 32))
    assert (r == np.repeat(np.arange(16), 32)).all() and (c == np.tile(np.arange(32), 16)).all()


@pytest.mark.parametrize("elevation, azimuth", [(30, 60), (60, 315), (10, 100), (-20, 200), (85, 10)])
def test_baked_world_puts_a_texel_where_direction_to_texel_does(elevation, azimuth):
    shape = (25, 50)
    d = _dir(elevation, azimuth)[None]
    r, c = direction_to_texel(d, shape)
    # the direction of that texel's centre in our convention (scene/envmap.py)
    theta, phi = math.pi * r[0] / (shape[0] - 1), 2 * math.pi * (c[0] + 0.5) / shape[1]
    centre = np.array([[math.sin(theta) * math.sin(phi), math.sin(theta) * math.cos(phi), math.cos(theta)]])
    assert direction_to_texel(centre, shape) == (r, c)
    F = np.zeros(shape, np.float32)
    F[r[0], c[0]] = 1.0
    B = bake_blender_world(F)
    assert B.shape == (BLENDER_WORLD_UPSAMPLE * shape[0], BLENDER_WORLD_UPSAMPLE * shape[1])
    br, bc = blender_texel(centre, B.shape)
    assert B[br[0], bc[0]] > 0.75                  # within half a fine texel of the centre
    top = np.unravel_index(np.argmax(B), B.shape)
    assert abs(top[0] - br[0]) <= 1 and min(abs(top[1] - bc[0]), B.shape[1] - abs(top[1] - bc[0])) <= 1
    # the baked map is Mitsuba's lookup of F at Blender's texel centres
    np.testing.assert_allclose(B, bilinear_lookup(F, blender_directions(B.shape).reshape(-1, 3))
                               .reshape(B.shape), atol=1e-6)


def test_baked_lamp_keeps_its_direction_and_power():
    shape = (25, 50)
    lamp = Lamp("disc", rad(50), rad(65), rad(20), 0.3)
    F = rig_footprint([lamp], shape)
    B = bake_blender_world(F).astype(np.float64)
    Hb, Wb = B.shape
    dirs = blender_directions(B.shape)
    theta = math.pi * (np.arange(Hb) + 0.5) / Hb
    omega = np.repeat((math.pi / Hb) * np.sin(theta)[:, None] * (2 * math.pi / Wb), Wb, axis=1)
    assert (B * omega).sum() == pytest.approx((F * texel_masses(shape)).sum(), rel=0.01)
    assert (F * texel_masses(shape)).sum() == pytest.approx(lamp.power, rel=0.02)
    mean = (B * omega)[..., None] * dirs
    mean = mean.sum((0, 1)) / np.linalg.norm(mean.sum((0, 1)))
    assert math.degrees(math.acos(min(1.0, float(mean @ lamp.direction)))) < 2.0


def test_blender_script_for_a_dome_lights_with_the_world_map():
    camera = {"kind": "orthographic", "fov_deg": None, "ortho_half_width": 1.1,
              "origin": [0.0, 0.0, 5.0], "forward": [0.0, 0.0, -1.0], "up": [0.0, 1.0, 0.0],
              "width": 16, "height": 16}
    text = blender_script(None, camera, "steel", 0.01, max_depth=3)
    assert "LIGHTING = 'world'" in text and "LAMPS = []" in text and "MAX_BOUNCES = 1" in text
    bpy = mock.MagicMock()
    created = []
    bpy.data.objects.new.side_effect = lambda name, data: created.append(types.SimpleNamespace(name=name, data=data)) or created[-1]
    with mock.patch.dict(sys.modules, {"bpy": bpy}), mock.patch.object(sys, "argv", ["blender"]):
        exec(compile(text, "blender_rig.py", "exec"), {"__file__": "/tmp/x/blender_rig.py", "__name__": "__main__"})
    assert [o.name for o in created] == ["camera"]
    assert not bpy.data.lights.new.called
    bpy.data.images.load.assert_called_once_with("/tmp/x/blender_world.exr")
    assert created[0].data.ortho_scale == pytest.approx(2.2)


# ---- in Blender -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rig(session, tmp_path_factory):
    """The shared part (conftest.py), its camera, two lamps and Mitsuba's render of them
    (scene.xml)."""
    import mitsuba as mi

    from scratchlight.lamps.exports import write_mitsuba_scene
    from scratchlight.lamps.table import camera_info

    shape = (13, 26)
    lamps = [Lamp("disc", rad(40), rad(65), rad(25), 0.3), Lamp("disc", rad(70), rad(200), rad(25), 0.1)]
    F = rig_footprint(lamps, shape)
    camera = camera_info(session.scene)
    folders = {}
    for name, rig_lamps in (("lamps", lamps), ("dome", None)):
        out = tmp_path_factory.mktemp(name)
        write_mitsuba_scene(str(out), session.scene, camera, F, spp=64)
        spec = session.scene.spec
        write_blender_files(str(out), rig_lamps, F, camera, spec.material, spec.roughness, spec.max_depth)
        folders[name] = out
    scene = mi.load_file(str(folders["lamps"] / "scene.xml"))
    reference = np.mean([np.array(mi.render(scene, seed=s, spp=64)) for s in range(2)], axis=0)
    return folders, reference


@pytest.mark.skipif(shutil.which("blender") is None, reason="Blender is not on PATH")
@pytest.mark.parametrize("mode", ["suns", "world"])
@pytest.mark.slow
def test_blender_render_matches_mitsuba_orientation(rig, mode):
    from scratchlight.lamps.blender_check import VARIANTS, check_orientation

    folders, reference = rig
    folder = folders["lamps" if mode == "suns" else "dome"]     # the dome script lights with the world
    variants = {k: VARIANTS[k] for k in ("as exported", "mirrored x", "rotated +90")}
    res = check_orientation(str(folder), reference, samples=16, variants=variants, threads=2)
    r = res["correlation"]
    assert r["as exported"] > 0.8, res
    assert res["margin"] > 0.3, res
    assert 0.5 < res["mean_ratio"] < 2.0, res


SMALL_RIGS = {
    # a rig like the one the docs' recipe recommends on milled-face.sur: 3.5-14 degree
    # discs on 7.5-degree texels
    "discs": [Lamp("disc", rad(41.3), rad(87), rad(14), 0.052),
              Lamp("disc", rad(41.7), rad(99), rad(3.5), 0.025),
              Lamp("disc", rad(42.0), rad(80), rad(4.4), 0.012),
              Lamp("disc", rad(46.4), rad(91), rad(9.5), 0.0014)],
    # two light bars across the mirror direction (lamps --kind bar)
    "bars": [Lamp("bar", rad(42.0), rad(90), rad(4), 0.03, length=rad(30), orientation=rad(20)),
             Lamp("bar", rad(47.0), rad(84), rad(3), 0.01, length=rad(20), orientation=rad(100))],
}


@pytest.fixture(scope="module", params=sorted(SMALL_RIGS))
def small_lamps(request, part, tmp_path_factory):
    """Small lamps near the mirror direction on a 25 x 50 map (``SMALL_RIGS``), a nearly
    specular part at 48 x 48 pixels, and Mitsuba's render of the rig's map."""
    import mitsuba as mi

    import scratchlight as sl
    from scratchlight.lamps.exports import write_mitsuba_scene
    from scratchlight.lamps.table import camera_info

    session = sl.Session(str(part), sl.SceneSpec(width=48, height=48, roughness=0.02,
                                                 exaggeration="auto"),
                         envmap=np.full((8, 16, 1), 0.5, np.float32), progress=False)
    lamps = SMALL_RIGS[request.param]
    F = rig_footprint(lamps, (25, 50))
    out = tmp_path_factory.mktemp("small-lamps")
    camera = camera_info(session.scene)
    write_mitsuba_scene(str(out), session.scene, camera, F, spp=64)
    spec = session.scene.spec
    write_blender_files(str(out), lamps, F, camera, spec.material, spec.roughness, spec.max_depth)
    scene = mi.load_file(str(out / "scene.xml"))
    reference = np.mean([np.array(mi.render(scene, seed=s, spp=64)) for s in range(2)], axis=0)
    return out, reference


@pytest.mark.skipif(shutil.which("blender") is None, reason="Blender is not on PATH")
@pytest.mark.slow
def test_blender_suns_of_small_lamps_match_mitsuba(small_lamps):
    """Each lamp is exported as the concentric suns that sum to what the map's texels make
    of it, so Blender's render correlates with Mitsuba's at r >= 0.95 and its brightness is
    within 10 % (one sun of the lamp's own size gave r 0.89 and 0.81 on the recipe's rig,
    and 16-18 % more light)."""
    from scratchlight.lamps.blender_check import VARIANTS, check_orientation

    folder, reference = small_lamps
    res = check_orientation(str(folder), reference, samples=64,
                            variants={"as exported": VARIANTS["as exported"]}, threads=2)
    print(f"{folder.name}: r {res['correlation']['as exported']:.3f}, "
          f"Blender / Mitsuba mean {res['mean_ratio']:.3f}")
    assert res["correlation"]["as exported"] >= 0.95, res
    assert 0.9 < res["mean_ratio"] < 1.1, res
