"""Issue 15, the rig's files and the command: the Mitsuba XML renders T x the rig's map,
LED-dome levels, the lamps command end to end with --config replay, and bad input."""
import csv
import dataclasses
import json
import math
import os

import numpy as np
import pytest

import scratchlight as sl
from scratchlight.cli import main
from scratchlight.lamps.dome import BUILTIN_LAYOUTS, channel_footprints, optimize_dome, read_layout
from scratchlight.lamps.exports import write_mitsuba_scene
from scratchlight.lamps.footprint import rig_footprint, texel_masses
from scratchlight.lamps.geometry import Lamp
from scratchlight.lamps.objective import LinearLight, RigObjective
from scratchlight.lamps.table import camera_info, lamp_rows
from scratchlight.objectives import scratch_objective

SHAPE = (8, 16)  # texels of the lights (fixtures `part`, `session`: conftest.py)
rad = math.radians


@pytest.mark.slow
def test_mitsuba_xml_renders_T_times_the_rig(session, tmp_path):
    import mitsuba as mi

    lamps = [Lamp("disc", rad(40), rad(100), rad(20), 0.1),
             Lamp("bar", rad(55), rad(250), rad(10), 0.1, rad(60), 0.3)]
    F = rig_footprint(lamps, SHAPE)
    camera = camera_info(session.scene)
    files = write_mitsuba_scene(str(tmp_path), session.scene, camera, F, spp=64)
    assert all((tmp_path / f).is_file() for f in files)
    scene = mi.load_file(str(tmp_path / "scene.xml"))
    k, spp = 6, 64
    xml = np.array([np.array(mi.render(scene, seed=s, spp=spp)) for s in range(k)], np.float64)
    engine = session.engine("transport", 256, 5, SHAPE)   # 2 x 256 paths per pixel
    TF = engine.relight(F[..., None].astype(np.float32)).astype(np.float64)
    halves = np.array([T.apply(F[..., None].astype(np.float32)) for T in engine.matrices], np.float64)
    mean = xml.mean(0)
    assert abs(mean.mean() - TF.mean()) / TF.mean() < 0.02
    assert np.abs(mean - TF).sum() / TF.sum() < 0.08
    # per-pixel z-scores: the XML's variance from its seeds, T's from its two halves
    var = xml.var(0, ddof=1) / k + halves.var(0, ddof=1) / 2 + (1e-3 * TF.mean()) ** 2
    z = (mean - TF) / np.sqrt(var)
    assert np.mean(np.abs(z) > 3) < 0.05 and abs(z.mean()) < 0.2
    # the in-memory scene under the same map agrees as well (same mesh, camera, metal)
    ref = session.render_final(F[..., None].astype(np.float32), spp=k * spp, seed=77)
    assert abs(ref.mean() - mean.mean()) / ref.mean() < 0.02
    # a rig map shifted by one texel column does not match
    shifted = engine.relight(np.roll(F, 1, axis=1)[..., None].astype(np.float32))
    assert np.abs(mean - shifted).sum() / shifted.sum() > 2 * np.abs(mean - TF).sum() / TF.sum()


@pytest.mark.slow
def test_dome_levels_beat_single_channels_and_uniform_settings(session, tmp_path):
    layout = tmp_path / "dome.csv"
    layout.write_text("channel,elevation_min,elevation_max,azimuth_min,azimuth_max,elevation,azimuth,diameter,gain\n"
                      "north,20,60,45,135,,,,\n"
                      "south,20,60,225,315,,,,\n"
                      "east-west,10,40,315,45,,,,0.8\n"
                      "top,70,90,0,360,,,,\n"
                      "spot,,,,,35,180,15,\n")
    channels = read_layout(str(layout))
    feet = channel_footprints(channels, SHAPE)
    m = texel_masses(SHAPE)
    # known footprints: each patch keeps its solid angle (x gain); the sector wraps
    omega = 2 * math.pi * (math.sin(rad(60)) - math.sin(rad(20))) / 4
    assert (feet[0] * m).sum() == pytest.approx(omega, rel=0.03)
    assert (feet[2] * m).sum() == pytest.approx(0.8 * 2 * math.pi * (math.sin(rad(40)) - math.sin(rad(10))) / 4, rel=0.03)
    assert (feet[4] * m).sum() == pytest.approx(2 * math.pi * (1 - math.cos(rad(7.5))), rel=1e-6)
    obj = RigObjective(LinearLight.from_engine(session.engine("transport", 16, 0, SHAPE)), session.mask)
    images = np.stack([obj.light.image(f) for f in feet])
    res = optimize_dome(channels, images, feet, session.mask, lam=30.0, iterations=150)
    assert np.all((res.levels >= 0) & (res.levels <= 1))
    best = res.terms["loss"]

    def loss(x):
        return scratch_objective(np.tensordot(x, images, 1), np.tensordot(x, feet, 1)[..., None],
                                 session.mask, lam=30.0).loss

    assert best == pytest.approx(loss(res.levels), rel=1e-9)
    grid = np.linspace(0.0025, 1, 400)
    assert best <= min(loss(np.full(len(channels), s)) for s in grid) + 1e-12
    for c in range(len(channels)):
        assert best <= min(loss(s * np.eye(len(channels))[c]) for s in grid) + 1e-12
    assert best <= res.best_uniform[1] and best <= res.best_single[2]
    # the levels are optimized jointly: a stationary point within [0, 1] (KKT, checked by
    # central finite differences of the loss), not a best single channel left as it was
    x = res.levels
    for c in range(len(channels)):
        e, h = np.eye(len(channels))[c], 1e-5
        g = (loss(np.clip(x + h * e, 0, 1)) - loss(np.clip(x - h * e, 0, 1))) / \
            (np.clip(x + h * e, 0, 1) - np.clip(x - h * e, 0, 1))[c]
        scale = 1e-3 * abs(best)
        if 1e-4 < x[c] < 1 - 1e-4:
            assert abs(g) < scale, (c, x[c], g)
        elif x[c] <= 1e-4:
            assert g > -scale, (c, x[c], g)
        else:
            assert g < scale, (c, x[c], g)
            assert (channels[c].name in res.gain_limited) == (g < 0)
    # a dim dome: every channel at full drive still wants more light, and says so
    dim = [dataclasses.replace(ch, gain=0.02) for ch in channels]
    dim_feet = channel_footprints(dim, SHAPE)
    dim_res = optimize_dome(dim, np.stack([obj.light.image(f) for f in dim_feet]), dim_feet,
                            session.mask, lam=30.0, iterations=50)
    assert dim_res.gain_limited and all(dim_res.levels[[c.name in dim_res.gain_limited
                                                        for c in dim]] == 1.0)
    # the built-in layout reads and covers the upper hemisphere once
    builtin = read_layout("ring-dome")
    assert len(builtin) == 21 and "ring-dome" in BUILTIN_LAYOUTS


def _light(tmp_path, H=8):
    E = rig_footprint([Lamp("disc", rad(45), rad(95), rad(15), 0.1),
                       Lamp("disc", rad(60), rad(260), rad(10), 0.05)], (H, 2 * H))
    path = tmp_path / "light.exr"
    sl.write_exr(str(path), E.astype(np.float32))
    return path


FAST = ["--resolution", "24", "--spp", "8", "--final-spp", "8", "--iterations", "15",
        "--roughness", "0.1", "--quiet"]


@pytest.mark.slow
def test_lamps_command_writes_the_rig_and_replays(part, tmp_path, capsys):
    light = _light(tmp_path)
    out = tmp_path / "rig"
    assert main(["lamps", str(light), str(part), "--out", str(out), "--max-count", "2",
                 "--count", "2", *FAST]) == 0
    for name in ("lamps.csv", "lamps.json", "scene.xml", "surface.ply", "rig_envmap.exr",
                 "blender_rig.py", "blender_world.exr", "rig.png", "full.png", "compare.png", "report.csv",
                 "report.png", "run.json"):
        assert (out / name).is_file(), name
    run = json.loads((out / "run.json").read_text())
    assert run["command"] == "lamps"
    assert [r["count"] for r in run["rigs"]] == [1, 2]
    assert run["rigs"][1]["loss_transport"] <= run["rigs"][0]["loss_transport"]
    assert run["recommended_count"] in (1, 2)
    rows = list(csv.DictReader(open(out / "lamps.csv")))
    # only lamps with power are exported (the best 2-lamp rig may be 1 lamp and one off)
    assert len(rows) == run["exported_count"] == run["rigs"][1]["lamps_with_power"]
    assert float(rows[0]["relative_intensity"]) == 1.0
    assert all(float(r["relative_intensity"]) > 0 for r in rows)
    for row in rows:
        assert 0 <= float(row["elevation_deg"]) <= 90
        assert -180 <= float(row["azimuth_from_camera_deg"]) <= 180
    # the oblique camera sits at azimuth 270 (-y), so azimuth_from_camera = azimuth - 270
    r = rows[0]
    diff = float(r["azimuth_deg"]) - 270 - float(r["azimuth_from_camera_deg"])
    assert (diff + 180) % 360 - 180 == pytest.approx(0, abs=0.02)
    report = list(csv.DictReader(open(out / "report.csv")))
    assert report[0]["rig"] == "full map" and len(report) == 3
    assert "recommended" in capsys.readouterr().out
    again = tmp_path / "again"
    assert main(["lamps", "--config", str(out / "run.json"), "--out", str(again), "--quiet"]) == 0
    assert (again / "lamps.csv").read_text() == (out / "lamps.csv").read_text()
    # dome mode with the built-in layout
    dome = tmp_path / "dome"
    assert main(["lamps", str(light), str(part), "--out", str(dome), "--dome", "ring-dome", *FAST]) == 0
    ch = list(csv.DictReader(open(dome / "channels.csv")))
    assert len(ch) == 21 and all(0 <= float(c["level"]) <= 1 for c in ch)
    assert all((dome / f).is_file() for f in ("scene.xml", "blender_rig.py", "blender_world.exr"))
    assert "LIGHTING = 'world'" in (dome / "blender_rig.py").read_text()


@pytest.mark.parametrize("case", ["count", "column", "horizon", "shape", "zenith", "azimuth"])
def test_bad_input_is_one_line_and_writes_nothing(part, tmp_path, capsys, case):
    light = _light(tmp_path)
    args = [str(light), str(part)]
    if case == "count":
        args += ["--count", "0"]
        expect = "--count"
    elif case in ("column", "horizon", "zenith", "azimuth"):
        layout = tmp_path / "layout.csv"
        layout.write_text({"column": "channel,elevation_min,elevation_max,colour\na,10,20,red\n",
                           "horizon": "channel,elevation_min,elevation_max\na,10,20\nb,-5,20\n",
                           "zenith": "channel,elevation,azimuth,diameter\na,95,0,5\n",
                           "azimuth": "channel,elevation_min,elevation_max,azimuth_min,"
                                      "azimuth_max\na,10,20,0,400\n"}[case])
        args += ["--dome", str(layout)]
        expect = {"column": "unknown column", "horizon": "below the horizon",
                  "zenith": "above the zenith", "azimuth": "azimuth_max: must be in [0, 360]"}[case]
    else:
        bad = tmp_path / "square.exr"
        sl.write_exr(str(bad), np.full((8, 8, 3), 0.5, np.float32))
        args = [str(bad), str(part)]
        expect = "8 x 8 texels"
    out = tmp_path / "out"
    assert main(["lamps", *args, "--out", str(out), *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("scratchlight: error: ") and expect in err[0]
    assert not out.exists()
