"""``scratchlight pod`` end to end at a small size: its files, a POD curve that rises, a
bound above its estimate, a better light that finds no fewer defects, the config that
replays, and a user's mistake as one line."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from scratchlight.config import read_config
from scratchlight.pod import PodConfig, run_pod
from scratchlight.pod.run import FILES


@pytest.mark.slow
def test_pod_run_writes_its_files_and_a_rising_curve(tmp_path):
    cfg = PodConfig.from_options(kind="face-mill", size=144, light=("studio", "uniform"),
                                 depths="0.2,0.3,0.45,0.7,1.0,1.5", orientations="0,45,90,135",
                                 seeds=1, grid=3, resolution=96, spp=32, frames=3,
                                 device="cpu")
    doc = run_pod(cfg, tmp_path / "out", progress=False)
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == sorted(FILES)
    with open(out / "pod.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 24 and {r["light"] for r in rows} == {"studio", "uniform:0.5"}
    assert {float(r["depth_um"]) for r in rows} == {0.2, 0.3, 0.45, 0.7, 1.0, 1.5}
    for r in rows:  # the hit is the chosen observer's d' against the threshold
        if r["dprime"]:
            assert int(r["hit"]) == (float(r["dprime"]) >= cfg.threshold)
    studio, uniform = doc["lights"]["studio"], doc["lights"]["uniform:0.5"]
    hm = studio["hit_miss"]
    assert hm["status"] == "fitted", hm
    assert np.all(np.diff(hm["curve"]["pod"]) > 0)
    assert np.all(np.array(hm["curve"]["pod_lower95"]) <= np.array(hm["curve"]["pod"]) + 1e-12)
    assert hm["a50"] < hm["a90"] <= hm["a90_95"]
    # a light that shows scratches finds at least as many as the uniform light that hides
    # them on a mirror-like metal
    assert studio["hits"] >= uniform["hits"]
    if uniform["hit_miss"]["status"] == "fitted":
        assert studio["hit_miss"]["a90"] <= uniform["hit_miss"]["a90"]
    saved = json.loads((out / "pod.json").read_text())
    assert saved["config"]["depths_um"] == [0.2, 0.3, 0.45, 0.7, 1.0, 1.5]
    assert read_config(out / "run.json", PodConfig, command="pod") == cfg
    page = (out / "pod.html").read_text()
    assert "pod.png" in page and "orientation.png" in page and "a90/95" in page


@pytest.mark.slow
def test_pod_command_refuses_one_size_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "scratchlight.cli", "pod", "--depths", "1",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "--depths" in proc.stderr and "two sizes" in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_transport_relighting_and_renders_rank_the_scratches_alike():
    """The same plates judged by relighting one transport matrix per plate and by Mitsuba
    renders: different Monte Carlo noise, the same scratches stand out."""
    from scipy import stats

    from scratchlight.pod import measure_defects

    base = dict(kind="face-mill", size=96, grid=2, light=("studio",), depths="0.3,3",
                orientations="0,90", seeds=1, resolution=64, spp=16, frames=4, device="cpu")
    d = {}
    for engine in ("transport", "ad"):
        rows = measure_defects(PodConfig.from_options(engine=engine, **base), progress=False)
        assert rows["engine"] == engine
        d[engine] = [r["dprime_npw"] or 0.0 for r in rows["rows"]]
    assert len(d["ad"]) == 4
    assert stats.spearmanr(d["ad"], d["transport"]).statistic > 0.7, d


@pytest.mark.slow
def test_plate_and_twin_agree_away_from_the_scratches(tmp_path):
    """The frozen camera and the shared render seed: away from the scratches the plate's
    render is its twin's (the oblique camera left to frame each relief would move)."""
    import dataclasses

    from scipy import ndimage

    from scratchlight.io import write_npz
    from scratchlight.pod.measure import RENDER_SEED, frozen_scene
    from scratchlight.pod.plant import Defect, plant_plate
    from scratchlight.scene import studio_envmap
    from scratchlight.session import Session
    from scratchlight.surface import SurfaceConfig
    from scratchlight.surface.synthetic import synthesize

    cfg = PodConfig.from_options(resolution=96, device="cpu")
    hm = synthesize("face-mill", size=144, seed=0)
    write_npz(tmp_path / "s.npz", hm)
    removal, labels = plant_plate(hm.shape, hm.dx, [Defect(k, 4e-6, 30e-6, 40.0 * k, 0)
                                                    for k in range(4)], 2)
    surface = SurfaceConfig(path=str(tmp_path / "s.npz"), max_size=0, level=False)
    E = studio_envmap((25, 50))
    frozen = frozen_scene(cfg, hm)
    assert frozen.camera.preset == "custom"
    worst = {}
    for name, spec in (("frozen", frozen),
                       ("oblique", dataclasses.replace(frozen, camera=cfg.scene.camera))):
        twin = Session(surface, spec, device="cpu", envmap=E)
        plate = Session(surface, spec, device="cpu", envmap=E,
                        before_prepare=lambda h: h.replace(heights=h.heights - removal))
        a = plate.render_final(E, 16, seed=RENDER_SEED)
        b = twin.render_final(E, 16, seed=RENDER_SEED)
        near = ndimage.binary_dilation(plate.scene.cell_mask_to_image(labels > 0), iterations=6)
        far = plate.object_mask & ~near
        assert far.sum() > 500
        worst[name] = float(np.abs(a - b)[far].max())
    assert worst["frozen"] < 1e-3 and worst["oblique"] > 1e-2, worst


@pytest.mark.slow
def test_a_lights_rows_do_not_depend_on_the_other_lights_measured():
    """Every light's camera noise comes from its own generator per render: adding a light
    measured before it leaves a light's d' and hits exactly as they were (NumPy's Poisson
    sampler draws a number of values that depends on the image, so one shared generator
    would shift the noise of every light after the first)."""
    from scratchlight.pod import measure_defects
    from scratchlight.scene import constant_envmap, studio_envmap

    cfg = PodConfig.from_options(kind="face-mill", size=96, grid=2, depths="0.3,3",
                                 orientations="0,90", seeds=1, resolution=64, spp=8, frames=4,
                                 engine="transport", device="cpu")
    studio = studio_envmap((25, 50))
    alone = measure_defects(cfg, progress=False, lights={"studio": studio})["rows"]
    both = measure_defects(cfg, progress=False,
                           lights={"uniform": constant_envmap(0.5, (25, 50), channels=3),
                                   "studio": studio})["rows"]
    after = [r for r in both if r["light"] == "studio"]
    assert len(after) == len(alone) == 4
    assert any(r["dprime"] is not None for r in alone)
    assert after == alone
