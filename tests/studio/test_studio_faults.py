"""Faults of the studio that must never be silent: a camera change keeps the run, a painted
region stays one filled region when the camera moves, an exported zip replays on its own,
and other sites can neither frame the studio nor push out the session in use."""
from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from scratchlight.studio import StudioConfig, create_app  # noqa: E402
from studio_helpers import TINY, make_data_dir, wait_job  # noqa: E402

BASE = "http://127.0.0.1"
WS = "ws://127.0.0.1"


# ---------------------------------------------------------------------- item 12: framing, eviction
def test_every_answer_forbids_framing(tmp_path):
    app = create_app(StudioConfig(out_dir=str(tmp_path)))
    with TestClient(app, base_url=BASE) as c:
        answers = [c.get("/"), c.get("/static/studio.js"), c.get("/api/config"),
                   c.get("/api/s/nope"), c.post("/api/sessions"),
                   c.get("/api/config", headers={"host": "evil.example"})]  # refused: 403
        for r in answers:
            assert r.headers.get("x-frame-options") == "DENY", r.url
            assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), r.url
        assert [r.status_code for r in answers] == [200, 200, 200, 404, 201, 403]


def test_new_sessions_never_evict_one_in_use(tmp_path):
    cfg = StudioConfig(out_dir=str(tmp_path), max_sessions=2)
    with TestClient(create_app(cfg), base_url=BASE) as c:
        mine = c.post("/api/sessions").json()["id"]
        with c.websocket_connect(f"{WS}/api/s/{mine}/optimize") as sock:  # the open page
            # ten frames of another site load the page: each makes a session
            made = [c.post("/api/sessions") for _ in range(10)]
            assert all(r.status_code == 201 for r in made)  # they evict each other (idle)
            assert c.get(f"/api/s/{mine}").status_code == 200
            other = made[-1].json()["id"]
            with c.websocket_connect(f"{WS}/api/s/{other}/optimize"):
                refused = c.post("/api/sessions")  # both sessions in use: refused, none evicted
                assert refused.status_code == 503
                assert "in use" in refused.json()["error"] and "\n" not in refused.json()["error"]
                assert c.get(f"/api/s/{mine}").status_code == 200
                assert c.get(f"/api/s/{other}").status_code == 200
            sock.send_json({"action": "dance"})  # the user's socket still answers
            assert sock.receive_json()["type"] == "error"
        # the page closed: its session is idle and may now make room
        registry = c.app.state.studio.registry
        for _ in range(200):
            if registry.get(mine).sockets == 0:
                break
            time.sleep(0.01)
        assert c.post("/api/sessions").status_code == 201


# ---------------------------------------------------------------------- a surface finer than the image
@pytest.fixture(scope="module")
def fine(tmp_path_factory):
    """A 192 x 192 height map seen at 48 x 48 pixels: each pixel covers several cells."""
    import scratchlight as sl

    root = tmp_path_factory.mktemp("studio-faults")
    mp = pytest.MonkeyPatch()
    mp.setenv("SCRATCHLIGHT_CACHE", str(root / "cache"))
    data = root / "data"
    data.mkdir()
    sl.io.write_npz(str(data / "fine.npz"), sl.synthesize("face-mill", size=192, scratches=2, seed=1))
    cfg = StudioConfig(data_dir=str(data), out_dir=str(root / "out"), resolution=TINY)
    with TestClient(create_app(cfg), base_url=BASE) as client:
        yield {"client": client, "root": root, "data": data}
    mp.undo()


def _open(c, view=None):
    sid = c.post("/api/sessions").json()["id"]
    assert c.post(f"/api/s/{sid}/surface", json={"name": "fine.npz", "view": view or {}}).status_code == 202
    assert wait_job(c, sid)["state"] == "done"
    return sid


def _camera(c, sid, **view):
    assert c.post(f"/api/s/{sid}/camera", json=view).status_code == 202
    job = wait_job(c, sid)
    assert job["state"] == "done", job
    return job["result"]


def _mask(c, sid) -> np.ndarray:
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(c.get(f"/api/s/{sid}/mask.png").content)))
    return (img[..., 0] if img.ndim == 3 else img) > 127


def _disc(shape, centre, radius) -> bytes:
    from PIL import Image

    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    rgba = np.zeros((*shape, 4), np.uint8)
    rgba[(yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2] = (255, 40, 40, 255)
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------- item 9: a painted region
@pytest.mark.slow
def test_a_painted_disc_stays_one_filled_region_when_the_camera_moves(fine):
    from scipy import ndimage

    c = fine["client"]
    sid = _open(c, {"camera": "oblique", "azimuth": 0, "elevation": 45})
    m = c.post(f"/api/s/{sid}/mask", content=_disc((TINY, TINY), (24, 24), 9)).json()
    start = m["pixels"] / m["surface_pixels"]
    assert 0.1 < start < 0.4
    for view in ({"camera": "oblique", "azimuth": 30, "elevation": 50}, {"camera": "top"}):
        s = _camera(c, sid, **view)["mask"]
        frac = s["pixels"] / s["surface_pixels"]
        assert s["mode"] == "painted" and s["note"] == ""
        assert abs(frac / start - 1) < 0.35, (view, frac, start)  # the same share of the surface
        labels, n = ndimage.label(_mask(c, sid))
        assert n == 1, (view, n)  # one region, not dots
    c.delete(f"/api/s/{sid}")


def _stream(c, sid, message) -> list[dict]:
    out = []
    with c.websocket_connect(f"{WS}/api/s/{sid}/optimize") as sock:
        sock.send_json(message)
        while not out or out[-1]["type"] not in ("done", "error"):
            out.append(sock.receive_json())
    return out


# ---------------------------------------------------------------------- item 8: the run and the camera
@pytest.mark.slow
def test_a_camera_change_keeps_the_run_judged_under_the_new_camera(fine):
    from studio_helpers import png_size

    c = fine["client"]
    sid = _open(c)
    assert c.post(f"/api/s/{sid}/mask", content=_disc((TINY, TINY), (24, 24), 12)).status_code == 200
    opts = {"iterations": 2, "spp": 4, "final_spp": 4, "init": "specular"}
    assert _stream(c, sid, {"action": "start", "options": opts})[-1]["type"] == "done"
    s = _camera(c, sid, camera="oblique", azimuth=30, elevation=50, resolution=40)
    assert s["run"] is not None and s["run"]["iterations_done"] == 2
    assert "earlier camera" in s["run"]["note"]  # said plainly, once, with the run
    ws = c.app.state.studio.registry.get(sid)
    assert ws.session.run.mask.shape == (40, 40)  # judged with this view's region
    assert np.array_equal(ws.session.run.mask, ws.session.mask)
    cmp = c.get(f"/api/s/{sid}/compare")
    assert cmp.status_code == 200
    before = base64.b64decode(cmp.json()["before"].split(",", 1)[1])
    assert png_size(before) == (40, 40)  # seen from the new camera
    more = _stream(c, sid, {"action": "resume", "options": {"iterations": 1}})
    assert more[0]["first_iteration"] == 2 and more[-1]["type"] == "done", more[-1]
    assert more[-1]["iterations_done"] == 3
    assert c.post(f"/api/s/{sid}/evaluate", json={"spp": 2, "seeds": 1}).status_code == 202
    job = wait_job(c, sid)
    assert job["state"] == "done" and "mean_gradient" in job["result"]["after"], job
    # going back to the first view (kept) keeps the same run, not the view's old one
    assert _camera(c, sid, camera="oblique", azimuth=0, elevation=45, resolution=TINY)["run"]["iterations_done"] == 3
    c.delete(f"/api/s/{sid}")


# ---------------------------------------------------------------------- item 10: the zip on its own
def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


@pytest.mark.slow
def test_an_exported_zip_replays_after_the_servers_folders_are_gone(fine, tmp_path):
    import os

    c, root = fine["client"], fine["root"]
    sid = _open(c)
    assert c.post(f"/api/s/{sid}/mask", content=_disc((TINY, TINY), (22, 26), 12)).status_code == 200
    c.post(f"/api/s/{sid}/light/preset", json={"name": "studio"})  # a painted initial light
    opts = {"iterations": 2, "spp": 4, "final_spp": 4, "init": "current"}
    assert _stream(c, sid, {"action": "start", "options": opts})[-1]["type"] == "done"
    assert c.post(f"/api/s/{sid}/export").status_code == 202
    job = wait_job(c, sid)
    assert job["state"] == "done", job
    z = c.get(job["result"]["download"])
    assert z.status_code == 200
    c.delete(f"/api/s/{sid}")
    folder = tmp_path / "elsewhere" / "results"
    zipfile.ZipFile(io.BytesIO(z.content)).extractall(folder)
    config = json.loads((folder / "run.json").read_text())["config"]
    named = [config["surface"]["path"], config["light"]["mask"], config["light"]["init"]]
    assert named == ["fine.npz", "roi.png", "init_light.exr"]  # beside run.json, by name
    assert all(str(root) not in s for s in _strings(config))
    assert all((folder / n).is_file() for n in named)
    # the server's folders go away (moved); the unzipped folder replays from elsewhere
    moved = {p: p.with_name(p.name + "-moved") for p in (root / "out", fine["data"])}
    for a, b in moved.items():
        a.rename(b)
    try:
        env = {**os.environ, "SCRATCHLIGHT_CACHE": str(root / "cache")}
        proc = subprocess.run([sys.executable, "-m", "scratchlight.cli", "optimize", "--config",
                               str(folder / "run.json"), "--out", str(tmp_path / "again")],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    finally:
        for a, b in moved.items():
            b.rename(a)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = json.loads((tmp_path / "again" / "run.json").read_text())
    assert again["iterations_done"] == 2 and again["mask_pixels"] == json.loads(
        (folder / "run.json").read_text())["mask_pixels"]
    shutil.rmtree(tmp_path / "again")


def test_config_paths_are_read_beside_the_run_json(tmp_path):
    from scratchlight.optimize.config import LightConfig, OptimizeConfig
    from scratchlight.surface import SurfaceConfig

    cfg = OptimizeConfig(surface=SurfaceConfig(path="part.npz"),
                         light=LightConfig(mask="roi.png", init="constant:0.3"))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(json.dumps({"command": "optimize", "config": cfg.to_dict()}))
    back = OptimizeConfig.from_json(str(tmp_path / "run" / "run.json"))
    assert back.surface.path == str(tmp_path / "run" / "part.npz")
    assert back.light.mask == str(tmp_path / "run" / "roi.png") and back.light.init == "constant:0.3"
    absolute = OptimizeConfig(surface=SurfaceConfig(path=str(tmp_path / "x.npz")),
                              light=LightConfig(mask="scratch"))
    (tmp_path / "run" / "run.json").write_text(json.dumps({"command": "optimize", "config": absolute.to_dict()}))
    back = OptimizeConfig.from_json(str(tmp_path / "run" / "run.json"))
    assert back.surface.path == str(tmp_path / "x.npz") and back.light.mask == "scratch"
