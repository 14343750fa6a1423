"""Scene geometry, a physically checkable render, seeding, and surface preparation."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import scratchlight as sl
from scratchlight.engines import ADEngine
from scratchlight.io.heightmap import check_heightmap
from scratchlight.scene import (MATERIALS, CameraSpec, SceneSpec, build_scene, constant_envmap,
                                heightmap_to_mesh, units_per_metre)
from scratchlight.scene.mesh import heightmap_faces
from scratchlight.surface import fill_missing, resample


@pytest.fixture(scope="module", autouse=True)
def _cpu():
    sl.use_device("cpu")


def _rough_map(ny=6, nx=7, dx=2e-6, dy=1e-6, seed=0):
    rng = np.random.default_rng(seed)
    return check_heightmap(rng.normal(0, 2e-7, (ny, nx)), dx, dy, source="random")


@pytest.mark.parametrize("dx, dy", [(1e-6, 1e-6), (2e-6, 1e-6), (1e-6, 3e-6)])
def test_mesh_vertices_and_extents_have_true_proportions(dx, dy):
    hm = _rough_map(dx=dx, dy=dy)
    mesh = heightmap_to_mesh(hm)
    ny, nx = hm.shape
    assert mesh.vertex_count() == ny * nx
    assert mesh.face_count() == 2 * (ny - 1) * (nx - 1)
    bb = mesh.bbox()
    ext = np.array(bb.max) - np.array(bb.min)
    upm = units_per_metre(hm)
    w, h = hm.size_m
    assert w == pytest.approx((nx - 1) * dx) and h == pytest.approx((ny - 1) * dy)
    assert ext[0] == pytest.approx(w * upm, rel=1e-6)
    assert ext[1] == pytest.approx(h * upm, rel=1e-6)
    assert max(ext[0], ext[1]) == pytest.approx(2.0, rel=1e-6)  # longer side spans -1..1
    assert ext[0] / ext[1] == pytest.approx(w / h, rel=1e-6)
    # heights scale with the same factor: slopes are the real slopes
    assert ext[2] == pytest.approx(np.ptp(hm.heights) * upm, rel=1e-5)


@pytest.mark.parametrize("ny, nx", [(2, 2), (3, 5), (6, 4)])
def test_faces_are_two_counter_clockwise_triangles_per_cell(ny, nx):
    faces = heightmap_faces(ny, nx)
    want = []
    for i in range(ny - 1):
        for j in range(nx - 1):
            a, b, c, d = i * nx + j, i * nx + j + 1, (i + 1) * nx + j, (i + 1) * nx + j + 1
            want += [(a, b, d), (a, d, c)]
    assert faces.dtype == np.uint32
    np.testing.assert_array_equal(faces, np.array(want, np.uint32))
    # counter-clockwise seen from +z: positive signed area in the (x = j, y = i) plane
    xy = np.stack(np.divmod(np.arange(ny * nx), nx)[::-1], axis=1).astype(float)
    p, q, r = xy[faces[:, 0]], xy[faces[:, 1]], xy[faces[:, 2]]
    cross = (q - p)[:, 0] * (r - p)[:, 1] - (q - p)[:, 1] * (r - p)[:, 0]
    assert (cross > 0).all()


def _conductor_reflectance(eta, k):
    """Fresnel reflectance of a conductor at normal incidence, per channel."""
    eta, k = np.asarray(eta, float), np.asarray(k, float)
    return ((eta - 1) ** 2 + k ** 2) / ((eta + 1) ** 2 + k ** 2)


def _flat_steel_mirror_render(spp=4, seed=1):
    hm = check_heightmap(np.zeros((5, 6)), 2e-6, 1e-6, source="flat")
    spec = SceneSpec(material="steel", roughness=0.0, camera=CameraSpec(preset="top"),
                     width=16, height=16, max_depth=3)
    E = constant_envmap(0.5, (8, 16), channels=3)
    scene = build_scene(hm, spec, envmap=E)
    return scene, ADEngine(scene, spp=spp).render(E, seed=seed)


def test_flat_mirror_reflects_fresnel_weighted_constant():
    scene, img = _flat_steel_mirror_render()
    expect = 0.5 * _conductor_reflectance(MATERIALS["steel"]["eta"], MATERIALS["steel"]["k"])
    # pixels whose whole 3 x 3 neighbourhood is on the surface: certainly fully covered
    inner = ndimage.binary_erosion(scene.object_mask)
    assert inner.sum() >= 20
    np.testing.assert_allclose(img[inner], np.broadcast_to(expect, img[inner].shape), rtol=2e-3)
    # the background sees the constant light directly
    far = ~ndimage.binary_dilation(scene.pixel_cell[..., 0] >= 0, iterations=2)
    assert far.sum() > 0
    np.testing.assert_allclose(img[far], 0.5, rtol=2e-3)


def test_every_object_mask_pixel_shows_only_the_surface():
    scene, img = _flat_steel_mirror_render()
    expect = 0.5 * _conductor_reflectance(MATERIALS["steel"]["eta"], MATERIALS["steel"]["k"])
    m = scene.object_mask
    np.testing.assert_allclose(img[m], np.broadcast_to(expect, img[m].shape), rtol=2e-3)


def test_same_seed_same_image_different_seed_different_image():
    hm = _rough_map()
    scene = build_scene(hm, SceneSpec(material="aluminium", roughness=0.3, width=12, height=12))
    engine = ADEngine(scene, spp=2)
    E = constant_envmap(0.5)
    a = engine.render(E, seed=3)
    b = engine.render(E, seed=3)
    c = engine.render(E, seed=4)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_fill_missing_leaves_no_nan_and_keeps_valid():
    h = np.arange(30, dtype=float).reshape(5, 6) * 1e-7
    h[1:3, 2:4] = np.nan
    h[4, 5] = np.nan
    hm = check_heightmap(h, 1e-6, 1e-6, source="holes")
    before = hm.heights.copy()
    filled = fill_missing(hm)
    assert np.isfinite(filled.heights).all()
    np.testing.assert_array_equal(filled.valid, hm.valid)
    np.testing.assert_array_equal(filled.heights[hm.valid], hm.heights[hm.valid])
    lo, hi = np.nanmin(h), np.nanmax(h)
    assert filled.heights.min() >= lo and filled.heights.max() <= hi
    np.testing.assert_array_equal(hm.heights, before)  # the input is not modified


@pytest.mark.parametrize("shape, dx, dy, max_size", [((40, 61), 1e-6, 1e-6, 16),
                                                      ((50, 23), 2e-6, 0.5e-6, 10)])
def test_resample_keeps_the_physical_extent(shape, dx, dy, max_size):
    rng = np.random.default_rng(2)
    hm = check_heightmap(rng.normal(0, 1e-7, shape), dx, dy, source="big")
    small = resample(hm, max_size)
    assert max(small.shape) < max(hm.shape)
    assert small.size_m[0] == pytest.approx(hm.size_m[0], rel=1e-12)
    assert small.size_m[1] == pytest.approx(hm.size_m[1], rel=1e-12)
    assert small.valid.shape == small.shape and small.heights.shape == small.shape


def test_resample_respects_max_size():
    hm = check_heightmap(np.zeros((40, 61)), 1e-6, 1e-6, source="big")
    assert max(resample(hm, 16).shape) <= 16


def test_studio_light_puts_row_zero_at_the_zenith_and_the_last_row_at_the_nadir():
    """The studio preset follows Mitsuba's rows (polar angle r / (H - 1) * pi): row 0 is the
    sky straight up, the last row the floor straight down, the same in every column."""
    from scratchlight.scene import studio_envmap
    from scratchlight.studio.lights import studio_light
    from scratchlight.study import studio_envmap as study_light

    E = studio_envmap((8, 16))
    assert E.shape == (8, 16, 3) and E.dtype == np.float32
    np.testing.assert_allclose(E[0], np.broadcast_to([0.25, 0.42, 0.8], (16, 3)), atol=1e-4)
    np.testing.assert_allclose(E[-1], np.broadcast_to([0.12, 0.09, 0.07], (16, 3)), atol=1e-4)
    # the softbox (35 deg up, azimuth 120 deg) is brightest in the row nearest 55 deg polar
    excess = E.sum(axis=2) - np.median(E.sum(axis=2), axis=1, keepdims=True)
    row, col = np.unravel_index(np.argmax(excess), excess.shape)
    assert row == round(55 / 180 * 7) and col == int(120 / 360 * 16)
    np.testing.assert_array_equal(studio_light((8, 16)), E)  # the page and the study share it
    np.testing.assert_array_equal(study_light((8, 16)), E)



def _studio_light(elevation_rad, azimuth_rad):
    """The studio preset's light towards an elevation and azimuth, written out from its
    description: a sky from [0.85, 0.88, 0.9] at the horizon to [0.25, 0.42, 0.8] straight
    up over a floor from [0.42, 0.36, 0.3] to [0.12, 0.09, 0.07] straight down, blended by a
    logistic of width 0.05 rad across the horizon, plus a softbox [0.6, 0.5, 0.35] with a
    Gaussian falloff of 14 degrees around 35 degrees up at azimuth 120 degrees; clipped to
    [0, 1]. (N, 3)."""
    e = np.asarray(elevation_rad, np.float64)[:, None]
    a = np.asarray(azimuth_rad, np.float64)[:, None]
    up, down = np.clip(np.sin(e), 0, 1), np.clip(-np.sin(e), 0, 1)
    sky = (1 - up) * np.array([0.85, 0.88, 0.9]) + up * np.array([0.25, 0.42, 0.8])
    floor = (1 - down) * np.array([0.42, 0.36, 0.3]) + down * np.array([0.12, 0.09, 0.07])
    blend = 1 / (1 + np.exp(-e / 0.05))
    box_el, box_az = np.radians(35.0), np.radians(120.0)
    cos_box = np.sin(e) * np.sin(box_el) + np.cos(e) * np.cos(box_el) * np.cos(a - box_az)
    box = np.exp(-(np.arccos(np.clip(cos_box, -1, 1)) / np.radians(14.0)) ** 2)
    return np.clip(blend * sky + (1 - blend) * floor + box * np.array([0.6, 0.5, 0.35]), 0, 1)


def _mitsuba_radiance(E, elevation_rad, azimuth_rad):
    """What Mitsuba's envmap emitter (built as every scene builds it) returns towards world
    directions at these elevations and azimuths (azimuth from +y towards +x), (N, 3)."""
    import mitsuba as mi

    from scratchlight.scene.emitter import envmap_dict

    emitter = mi.load_dict(envmap_dict(E))
    e, a = np.asarray(elevation_rad, float), np.asarray(azimuth_rad, float)
    d = np.stack([np.cos(e) * np.sin(a), np.cos(e) * np.cos(a), np.sin(e)], 1).ravel()
    si = mi.SurfaceInteraction3f()
    si.wi = mi.Vector3f(-d[0::3], -d[1::3], -d[2::3])
    return np.array(emitter.eval(si)).reshape(3, -1).T


@pytest.mark.parametrize("shape", [(64, 128), (25, 50)])
def test_studio_preset_seen_through_mitsuba_is_the_light_it_describes(shape):
    """Mitsuba's own lookup of the preset, not our reading of its convention: towards the
    direction of every texel centre (row r at elevation 90 - 180 r / (H - 1) degrees,
    column c at azimuth 360 (c + 0.5) / W degrees) the emitter returns the light the preset
    describes there. A map half a row off (rows at (r + 0.5) / H * pi) misses it by up to
    0.05 near the horizon, one half a column off by as much at the softbox."""
    from scratchlight.scene import studio_envmap

    H, W = shape
    rows, cols = np.mgrid[0:H, 0:W]
    elevation = np.pi / 2 - rows.ravel() / (H - 1) * np.pi
    azimuth = (cols.ravel() + 0.5) / W * 2 * np.pi
    np.testing.assert_allclose(_mitsuba_radiance(studio_envmap(shape), elevation, azimuth),
                               _studio_light(elevation, azimuth), atol=2e-4)


def _angle_weighted_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Vertex normals as the sum of the face normals weighted by the face's angle at the
    vertex (Thürmer and Wüthrich), normalized: computed here in float64."""
    v = verts.astype(np.float64)
    out = np.zeros_like(v)
    p = v[faces]  # (F, 3 corners, 3)
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    for k in range(3):
        a, b = p[:, (k + 1) % 3] - p[:, k], p[:, (k + 2) % 3] - p[:, k]
        cos = np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        np.add.at(out, faces[:, k], n * np.arccos(np.clip(cos, -1, 1))[:, None])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_mesh_normals_are_the_angle_weighted_face_normals():
    """heightmap_to_mesh leaves the normals to Mitsuba's own update (no second pass): they
    equal an independent angle-weighted computation and Mitsuba's explicit recompute."""
    import mitsuba as mi

    hm = _rough_map(ny=9, nx=11, seed=3)
    mesh = heightmap_to_mesh(hm, exaggeration=20.0)
    params = mi.traverse(mesh)
    got = np.array(params["vertex_normals"]).reshape(-1, 3)
    verts = np.array(params["vertex_positions"]).reshape(-1, 3)
    faces = np.array(params["faces"]).reshape(-1, 3)
    ref = _angle_weighted_normals(verts, faces)
    assert np.abs(got - ref).max() < 1e-4  # float32 in Mitsuba against float64 here
    # the check tells weightings apart: area-weighted face normals differ by far more
    p = verts.astype(np.float64)[faces]
    area_n = np.zeros_like(ref)
    for k in range(3):
        np.add.at(area_n, faces[:, k], np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]))
    area_n /= np.linalg.norm(area_n, axis=1, keepdims=True)
    assert np.abs(area_n - ref).max() > 1e-2
    assert np.abs(got[:, 2]).min() < 0.999  # the relief tilts them: not a flat-plane check
    mesh.recompute_vertex_normals()
    assert np.abs(np.array(mi.traverse(mesh)["vertex_normals"]).reshape(-1, 3) - got).max() < 1e-6


def test_a_scene_that_would_not_fit_in_memory_is_refused_before_it_is_built(monkeypatch):
    """The mesh and Mitsuba's BVH take ~250 bytes a point; a grid whose scene would need
    more than the process can still have is one InputError naming --max-size, not a
    process killed by the kernel halfway through."""
    import scratchlight.io.guards as guards
    from scratchlight.errors import InputError
    from scratchlight.scene.build import SCENE_BYTES_PER_POINT

    small, big = _rough_map(ny=40, nx=50), _rough_map(ny=200, nx=300)
    budget = 100 * 100 * SCENE_BYTES_PER_POINT  # fits 40 x 50, not 200 x 300
    monkeypatch.setattr(guards, "available_memory", lambda: budget)
    spec = SceneSpec(width=16, height=16)
    with pytest.raises(InputError, match="300 x 200 grid needs about") as e:
        build_scene(big, spec)
    assert e.value.path == "surface.max_size" and "--max-size" in str(e.value)
    assert build_scene(small, spec).image_shape == (16, 16)
    monkeypatch.setattr(guards, "available_memory", lambda: None)  # unknown: not refused
    assert build_scene(big, spec).image_shape == (16, 16)
