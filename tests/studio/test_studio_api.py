"""The studio's HTTP and WebSocket API: every endpoint, on a tiny surface (48 x 48 image)."""
from __future__ import annotations

import io
import json
import time
import zipfile

import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from scratchlight.studio import StudioConfig, create_app  # noqa: E402
from studio_helpers import TINY, light_json, make_data_dir, png_size, wait_job  # noqa: E402

BASE = "http://127.0.0.1"
WS = "ws://127.0.0.1"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("studio")
    mp = pytest.MonkeyPatch()
    mp.setenv("SCRATCHLIGHT_CACHE", str(root / "cache"))
    data = make_data_dir(root / "data")
    cfg = StudioConfig(data_dir=str(data), out_dir=str(root / "out"), resolution=TINY,
                       max_upload_bytes=200_000)
    with TestClient(create_app(cfg), base_url=BASE) as client:
        sid = client.post("/api/sessions").json()["id"]
        r = client.post(f"/api/s/{sid}/surface", json={"name": "part.npz"})
        assert r.status_code == 202
        job = wait_job(client, sid)
        assert job["state"] == "done", job
        yield {"client": client, "sid": sid, "root": root, "data": data}
    mp.undo()


def stream(client, sid, *messages, until=("done", "error"), stop_after_step=False):
    """Send ``messages`` on the optimization socket; collect answers until ``until``."""
    out = []
    with client.websocket_connect(f"{WS}/api/s/{sid}/optimize") as ws:
        for m in messages:
            ws.send_json(m)
        while True:
            m = ws.receive_json()
            out.append(m)
            if m["type"] == "step" and stop_after_step:
                ws.send_json({"action": "stop"})
                stop_after_step = False
            if m["type"] in until:
                return out


def test_page_and_assets_ship_in_the_package_without_cdn(env):
    c = env["client"]
    page = c.get("/")
    assert page.status_code == 200 and "scratchlight" in page.text
    for asset in ("studio.js", "api.js", "light.js", "studio.css"):
        r = c.get(f"/static/{asset}")
        assert r.status_code == 200, asset
        assert "http://" not in r.text and "https://" not in r.text, asset  # nothing fetched


def test_config_names_surfaces_never_paths(env):
    r = env["client"].get("/api/config")
    assert [s["name"] for s in r.json()["surfaces"]] == ["part.npz"]
    assert str(env["data"]) not in r.text


def test_status_info_relight_and_light(env):
    c, sid = env["client"], env["sid"]
    s = c.get(f"/api/s/{sid}").json()
    assert s["ready"] and s["surface"]["grid"] == [64, 64] and s["image_shape"] == [TINY, TINY]
    assert s["surface"]["has_truth"] and s["mask"]["mode"] == "object"
    r = c.post(f"/api/s/{sid}/relight", json=light_json(0.2))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert png_size(r.content) == (TINY, TINY) and float(r.headers["x-relight-ms"]) < 1000
    bright = c.post(f"/api/s/{sid}/relight", json=light_json(0.9)).content
    assert bright != r.content
    assert c.get(f"/api/s/{sid}/render.png").content == bright  # the current light is kept
    assert c.get(f"/api/s/{sid}/light").json()["values"][0] == pytest.approx(0.9)
    for preset in ("uniform", "studio", "specular"):
        E = c.post(f"/api/s/{sid}/light/preset", json={"name": preset}).json()
        assert E["shape"] == [25, 50, 1] and max(E["values"]) <= 1, preset
    rgb = c.post(f"/api/s/{sid}/light/preset", json={"name": "studio", "color": "rgb"}).json()
    assert rgb["shape"] == [25, 50, 3]
    assert c.post(f"/api/s/{sid}/relight", json=rgb).status_code == 200


def test_light_upload_is_read_like_init_file(env, tmp_path):
    from scratchlight.io import write_exr

    c, sid = env["client"], env["sid"]
    write_exr(tmp_path / "lamp.exr", np.full((10, 20, 3), 0.25, np.float32))
    r = c.post(f"/api/s/{sid}/light/upload?name=lamp.exr", content=(tmp_path / "lamp.exr").read_bytes())
    assert r.status_code == 200
    # gray by CIE L* / 100, as `optimize --init FILE`
    assert r.json()["values"][0] == pytest.approx((116 * 0.25 ** (1 / 3) - 16) / 100, abs=1e-4)
    bad = c.post(f"/api/s/{sid}/light/upload?name=broken.exr", content=b"not an exr at all")
    assert bad.status_code == 400 and bad.json()["error"].startswith("broken.exr: ")
    assert "\n" not in bad.json()["error"]


def _disc_png(shape, centre, radius):
    from PIL import Image

    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    on = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2
    rgba = np.zeros((*shape, 4), np.uint8)
    rgba[on] = (255, 40, 40, 255)
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return buf.getvalue(), on


def test_mask_modes_painting_and_region_files(env):
    c, sid = env["client"], env["sid"]
    s = c.get(f"/api/s/{sid}").json()["mask"]
    everything = s["surface_pixels"]
    png, on = _disc_png((TINY, TINY), (24, 24), 8)
    m = c.post(f"/api/s/{sid}/mask", content=png).json()
    assert m["mode"] == "painted" and 0 < m["pixels"] <= on.sum() + 20 and m["pixels"] < everything
    assert png_size(c.get(f"/api/s/{sid}/mask.png").content) == (TINY, TINY)
    roi = c.get(f"/api/s/{sid}/roi.png")
    assert roi.status_code == 200 and png_size(roi.content) == (64, 64)  # the height map's grid
    assert c.post(f"/api/s/{sid}/mask/mode", json={"mode": "scratch"}).json()["mode"] == "scratch"
    assert c.post(f"/api/s/{sid}/mask/mode", json={"mode": "object"}).json()["pixels"] == everything
    back = c.post(f"/api/s/{sid}/roi?name=roi.png", content=roi.content).json()
    assert back["mode"] == "painted" and back["pixels"] == m["pixels"]  # saved and loaded again
    # bad input: a nearly empty painting, a wrong size, garbage; the mask stays as it was
    empty, _ = _disc_png((TINY, TINY), (0, 0), 0)
    for body in (empty, _disc_png((20, 20), (5, 5), 3)[0], b"garbage"):
        r = c.post(f"/api/s/{sid}/mask", content=body)
        assert r.status_code == 400 and "\n" not in r.json()["error"]
    assert c.get(f"/api/s/{sid}").json()["mask"]["pixels"] == m["pixels"]
    wrong = c.post(f"/api/s/{sid}/roi?name=small.png", content=_disc_png((10, 10), (5, 5), 3)[0])
    assert wrong.status_code == 400 and wrong.json()["error"].startswith("small.png: mask is 10 x 10")
    assert c.post(f"/api/s/{sid}/mask/mode", json={"mode": "sideways"}).status_code == 400


@pytest.mark.slow
def test_optimize_stream_resume_compare_evaluate_export_and_replay(env, tmp_path):
    from scratchlight.io import read_envmap, read_png_mask
    from scratchlight.optimize.config import OptimizeConfig
    from scratchlight.report.results import RESULT_FILES
    from scratchlight.session import run_optimization

    c, sid = env["client"], env["sid"]
    png, _ = _disc_png((TINY, TINY), (22, 26), 12)
    assert c.post(f"/api/s/{sid}/mask", content=png).status_code == 200
    c.post(f"/api/s/{sid}/light/preset", json={"name": "specular"})
    opts = {"iterations": 4, "init": "current", "spp": 4, "final_spp": 4, "lam": 5}
    msgs = stream(c, sid, {"action": "start", "options": opts})
    assert [m["type"] for m in msgs][0] == "started" and msgs[-1]["type"] == "done", msgs[-1]
    steps = [m for m in msgs if m["type"] == "step"]
    assert steps and steps[-1]["image"].startswith("data:image/png;base64,")
    assert sum(len(m["losses"]) for m in steps) == 4 and msgs[-1]["iterations_done"] == 4
    more = stream(c, sid, {"action": "resume", "options": {"iterations": 3}})
    done = more[-1]
    assert done["type"] == "done" and done["iterations_done"] == 7
    assert more[0]["first_iteration"] == 4
    cmp = c.get(f"/api/s/{sid}/compare").json()
    assert cmp["before"] != cmp["after"]
    r = c.post(f"/api/s/{sid}/evaluate", json={"spp": 4, "seeds": 1})
    job = wait_job(c, sid)
    assert job["state"] == "done", job
    assert {"mean_gradient", "rms_contrast", "clipped_fraction", "black_fraction", "auc", "cnr"} \
        <= set(job["result"]["after"])
    assert c.post(f"/api/s/{sid}/export").status_code == 202
    job = wait_job(c, sid)
    assert job["state"] == "done", job
    z = c.get(job["result"]["download"])
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    folder = tmp_path / "results"
    zipfile.ZipFile(io.BytesIO(z.content)).extractall(folder)
    assert set(RESULT_FILES) <= {p.name for p in folder.iterdir()}
    assert read_envmap(folder / "envmap.exr").shape == (25, 50, 3)
    run = json.loads((folder / "run.json").read_text())
    assert run["command"] == "optimize" and run["iterations_done"] == 7
    # replay with the optimize command's own function: same mask, same curve
    cfg = OptimizeConfig.from_json(str(folder / "run.json"))
    again = run_optimization(cfg, tmp_path / "again", progress=False)
    assert np.array_equal(read_png_mask(tmp_path / "again" / "mask.png"), read_png_mask(folder / "mask.png"))
    assert np.allclose(again["loss"], run["loss"], rtol=1e-4)


def test_stop_keeps_best_and_bad_options_keep_the_socket(env):
    c, sid = env["client"], env["sid"]
    msgs = stream(c, sid, {"action": "start", "options": {"iterations": 2000, "init": "specular"}},
                  stop_after_step=True)
    done = msgs[-1]
    assert done["type"] == "done" and done["stopped"] and done["iterations_done"] < 2000
    with c.websocket_connect(f"{WS}/api/s/{sid}/optimize") as ws:
        for bad, word in (({"lam": -1}, "lam"), ({"iterations": 0}, "iterations"),
                          ({"init": "moon"}, "init"), ({"engine": "magic"}, "engine"),
                          ({"lamda": 3}, "lamda: unknown option; did you mean 'lam'?")):
            ws.send_json({"action": "start", "options": bad})
            m = ws.receive_json()
            assert m["type"] == "error" and word in m["message"], m
        ws.send_text("not json")
        assert ws.receive_json()["type"] == "error"
        ws.send_json({"action": "start", "options": {"iterations": 2, "spp": 4}})
        types = []
        while not types or types[-1] not in ("done", "error"):
            types.append(ws.receive_json()["type"])
        assert types[-1] == "done"


def test_camera_change_rebuilds_and_keeps_painted_cells(env):
    c, sid = env["client"], env["sid"]
    png, _ = _disc_png((TINY, TINY), (24, 24), 10)
    c.post(f"/api/s/{sid}/mask", content=png)
    first = c.app.state.studio.registry.get(sid).session
    r = c.post(f"/api/s/{sid}/camera", json={"camera": "oblique", "azimuth": 30, "elevation": 60,
                                              "resolution": 40})
    assert r.status_code == 202
    job = wait_job(c, sid)
    assert job["state"] == "done", job
    s = job["result"]
    assert s["image_shape"] == [40, 40] and s["view"]["azimuth"] == 30
    # the page's view is the one camera model, and the scene was built from it
    from scratchlight.scene import CameraSpec

    camera = CameraSpec(preset="oblique", azimuth_deg=30.0, elevation_deg=60.0)
    assert c.app.state.studio.registry.get(sid).session.scene.spec.camera == camera
    assert s["mask"]["mode"] == "painted" and s["mask"]["pixels"] > 0  # the region followed
    assert png_size(c.get(f"/api/s/{sid}/render.png").content) == (40, 40)
    for bad in ({"elevation": 100}, {"camera": "fisheye"}, {"resolution": 4}, {"azimuth": "x"}):
        r = c.post(f"/api/s/{sid}/camera", json=bad)
        assert r.status_code == 400, bad
    r = c.post(f"/api/s/{sid}/camera", json={"azimuth": 0, "elevation": 45, "resolution": TINY})
    assert wait_job(c, sid)["state"] == "done"
    assert c.app.state.studio.registry.get(sid).session is first  # the earlier view's scene was kept


def test_path_escapes_are_refused(env, tmp_path):
    c, sid, data = env["client"], env["sid"], env["data"]
    outside = tmp_path / "secret.npz"
    outside.write_bytes((data / "part.npz").read_bytes())
    (data / "link.npz").symlink_to(outside)
    try:
        names = [s["name"] for s in c.get("/api/config").json()["surfaces"]]
        assert "link.npz" not in names
        for name in ("../secret.npz", "/etc/passwd", "..", ".", ".hidden.npz", "sub/part.npz",
                     "link.npz", "missing.npz", str(data / "part.npz"), "part.npz\x00.txt", 7):
            r = c.post(f"/api/s/{sid}/surface", json={"name": name})
            assert r.status_code == 400, name
            assert str(data) not in r.text and str(tmp_path) not in r.text
        r = c.post(f"/api/s/{sid}/upload?name=../../evil.npz", content=b"x")
        assert r.status_code == 400
        r = c.post(f"/api/s/{sid}/upload?name=a.exe", content=b"x")
        assert r.status_code == 400
    finally:
        (data / "link.npz").unlink()
    assert c.get(f"/api/s/{sid}").json()["ready"]


def test_oversized_and_corrupt_uploads_leave_the_session_usable(env):
    c, sid = env["client"], env["sid"]
    big = b"\0" * 300_000
    for url in (f"/api/s/{sid}/upload?name=big.npz", f"/api/s/{sid}/light/upload?name=big.exr",
                f"/api/s/{sid}/roi?name=big.png"):
        r = c.post(url, content=big)
        assert r.status_code == 413, url
    r = c.post(f"/api/s/{sid}/upload?name=broken.x3p", content=b"PK\x03\x04 not really a zip")
    assert r.status_code == 400
    msg = r.json()["error"]
    assert msg.startswith("broken.x3p: ") and "\n" not in msg and "uploads" not in msg
    assert c.post(f"/api/s/{sid}/upload?name=empty.npz", content=b"").status_code == 400
    for body in ({"shape": [25, 50, 1], "values": [0.5] * 10}, {"shape": [3, 3, 1], "values": [0] * 9},
                 {"shape": [25, 50, 1], "values": [float("nan")] * 1250}, {"values": []}):
        r = c.post(f"/api/s/{sid}/relight", content=json.dumps(body))
        assert r.status_code == 400, body
    assert c.post(f"/api/s/{sid}/relight", content=b"{nope").status_code == 400
    assert c.post(f"/api/s/{sid}/light/preset", json={"name": "disco"}).status_code == 400
    assert c.post(f"/api/s/{sid}/evaluate", json={"spp": 0}).status_code == 400
    assert c.post(f"/api/s/{sid}/relight", json=light_json(0.5)).status_code == 200


def test_a_good_upload_opens(env):
    c = env["client"]
    sid = c.post("/api/sessions").json()["id"]
    r = c.post(f"/api/s/{sid}/upload?name=mine.npz", content=(env["data"] / "part.npz").read_bytes())
    assert r.status_code == 202
    job = wait_job(c, sid)
    assert job["state"] == "done" and job["result"]["surface"]["name"] == "mine.npz"
    assert c.delete(f"/api/s/{sid}").status_code == 200
    assert c.get(f"/api/s/{sid}").status_code == 404


def test_unknown_session_and_not_ready(env):
    c = env["client"]
    assert c.get("/api/s/nope").status_code == 404
    with pytest.raises(Exception):
        with c.websocket_connect(f"{WS}/api/s/nope/optimize") as ws:
            ws.receive_json()
    sid = c.post("/api/sessions").json()["id"]
    assert c.post(f"/api/s/{sid}/relight", json=light_json()).status_code == 409
    assert c.post(f"/api/s/{sid}/export").status_code == 409
    assert c.get(f"/api/s/{sid}/export.zip").status_code == 409
    assert c.post(f"/api/s/{sid}/stop").status_code == 200
    c.delete(f"/api/s/{sid}")


def test_a_long_job_never_blocks_other_requests(env):
    c = env["client"]
    studio = c.app.state.studio
    ws = studio.registry.get(env["sid"])
    ws.job = None

    async def start():  # a job that holds the Mitsuba thread for 1.5 s
        return studio.start_job(ws, "test", lambda job: time.sleep(1.5))

    c.portal.call(start)
    t0 = time.perf_counter()
    assert c.get("/api/config").status_code == 200
    assert c.post(f"/api/s/{env['sid']}/relight", json=light_json(0.4)).status_code == 200
    assert time.perf_counter() - t0 < 1.0
    assert c.get(f"/api/s/{env['sid']}/job").json()["job"]["state"] in ("queued", "running")
    assert c.post(f"/api/s/{env['sid']}/evaluate", json={}).status_code == 409  # one job at a time
    assert wait_job(c, env["sid"])["state"] == "done"


def test_view_settings_are_a_camera_spec_in_the_pages_names():
    from scratchlight.scene import CameraSpec
    from scratchlight.studio.workspace import ViewSettings

    base = ViewSettings()
    assert base.camera == CameraSpec() and base.resolution == 256
    view = ViewSettings.from_json({"camera": "top", "elevation": 70, "resolution": 64}, base)
    assert view.camera == CameraSpec(preset="top", elevation_deg=70.0) and view.resolution == 64
    assert view.to_json() == {"camera": "top", "azimuth": 0.0, "elevation": 70.0, "resolution": 64}
    assert ViewSettings.from_json(view.to_json(), base) == view
    assert view.scene_spec().camera is view.camera and view.scene_spec().width == 64


def test_page_pngs_are_the_io_png_conversion():
    """The page's PNGs are ``io.images.png_pixels`` (by the tone map's table): within one
    grey level of the files ``write_png`` writes, and the same for masks."""
    from PIL import Image

    from scratchlight.io.images import png_pixels
    from scratchlight.studio.imaging import encode_png, mask_png

    img = np.random.default_rng(3).uniform(0, 1.2, (20, 30, 3)).astype(np.float32)
    with Image.open(io.BytesIO(encode_png(img))) as im:
        page = np.asarray(im)
    np.testing.assert_array_equal(page, png_pixels(img, fast=True))
    assert np.abs(page.astype(int) - png_pixels(img).astype(int)).max() <= 1
    mask = img[..., 0] > 0.5
    with Image.open(io.BytesIO(mask_png(mask))) as im:
        np.testing.assert_array_equal(np.asarray(im), png_pixels(mask))
