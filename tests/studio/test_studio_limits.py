"""The studio bounds the work of every request: hostile uploads (a small file declaring a
huge grid or image, deeply nested JSON) answer a one-line 4xx quickly, never a 500 and
never on the Mitsuba thread; messages name files, not server paths, and the limits that
apply; failed uploads are deleted and each page's uploads have a quota; reader warnings
reach the page; a second socket of a page keeps its run going."""
from __future__ import annotations

import io
import json
import resource
import time
import zipfile
import zlib

import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from heightmap_files import x3p_main_xml  # noqa: E402
from scratchlight.studio import StudioConfig, create_app  # noqa: E402
from studio_helpers import TINY, light_json, make_data_dir, wait_job  # noqa: E402

BASE = "http://127.0.0.1"
WS = "ws://127.0.0.1"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    mp = pytest.MonkeyPatch()
    mp.setenv("SCRATCHLIGHT_CACHE", str(root / "cache"))
    data = make_data_dir(root / "data")
    cfg = StudioConfig(data_dir=str(data), out_dir=str(root / "out"), resolution=TINY,
                       max_upload_bytes=2_000_000, max_light_pixels=2_000_000)
    with TestClient(create_app(cfg), base_url=BASE) as client:
        sid = client.post("/api/sessions").json()["id"]
        client.post(f"/api/s/{sid}/surface", json={"name": "part.npz"})
        assert wait_job(client, sid)["state"] == "done"
        yield {"client": client, "sid": sid, "root": root, "data": data,
               "studio": client.app.state.studio}
    mp.undo()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one_line_4xx(r, status=400, name=None):
    assert r.status_code == status, (r.status_code, r.text[:300])
    msg = r.json()["error"]
    assert "\n" not in msg and "/" not in msg, msg  # no server path
    if name:
        assert msg.startswith(f"{name}: "), msg
    return msg


def _png_header_only(w: int, h: int) -> bytes:
    """A 1-bit PNG of w x h black pixels, compressed row by row (never held whole)."""
    def chunk(kind, body):
        return (len(body).to_bytes(4, "big") + kind + body
                + zlib.crc32(kind + body).to_bytes(4, "big"))

    z = zlib.compressobj(9)
    row = b"\0" * (1 + (w + 7) // 8)
    idat = b"".join(z.compress(row) for _ in range(h)) + z.flush()
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _png(a: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def _uploads(env) -> set[str]:
    folder = env["root"] / "out" / "uploads"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_a_small_x3p_declaring_a_huge_grid_is_refused_by_the_studio_limit(env):
    c, sid = env["client"], env["sid"]
    nx, ny = 5000, 4000  # 20 M points: under the readers' default, over the studio's 16 M
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("main.xml", x3p_main_xml(nx, ny, 1e-6, 1e-6, "I"))
        z.writestr("bindata/data.bin", bytes(2 * nx * ny))
    assert len(buf.getvalue()) < 200_000
    rss, t0 = _rss_mb(), time.perf_counter()
    r = c.post(f"/api/s/{sid}/upload?name=huge.x3p", content=buf.getvalue())
    msg = _one_line_4xx(r, name="huge.x3p")
    assert "16,000,000 points" in msg and "--max-points" in msg, msg
    assert time.perf_counter() - t0 < 5 and _rss_mb() - rss < 300
    assert not any("huge" in n for n in _uploads(env))  # the failed upload is deleted
    assert c.get(f"/api/s/{sid}").json()["surface"]["name"] == "part.npz"


def test_a_png_light_declaring_14000_squared_pixels_is_a_400(env):
    c, sid = env["client"], env["sid"]
    bomb = _png_header_only(14000, 14000)
    assert len(bomb) < 200_000
    t0 = time.perf_counter()
    r = c.post(f"/api/s/{sid}/light/upload?name=bomb.png", content=bomb)
    _one_line_4xx(r, name="bomb.png")
    r = c.post(f"/api/s/{sid}/roi?name=bomb.png", content=bomb)
    _one_line_4xx(r, name="bomb.png")
    assert time.perf_counter() - t0 < 5
    assert not any("bomb" in n for n in _uploads(env))


def test_a_light_over_the_pixel_limit_is_refused_from_its_header(env):
    c, sid = env["client"], env["sid"]
    big = _png_header_only(2048, 1100)  # 2.25 M pixels > the fixture's 2 M
    msg = _one_line_4xx(c.post(f"/api/s/{sid}/light/upload?name=wide.png", content=big),
                        name="wide.png")
    assert "2048 x 1100" in msg and "--max-light-pixels" in msg, msg


def test_a_large_light_is_shrunk_first_and_reads_like_init_file(env, tmp_path):
    from scratchlight.optimize.init import initial_envmap

    c, sid = env["client"], env["sid"]
    yy, xx = np.mgrid[0:800, 0:1600]
    u, v = 2 * np.pi * xx / 1600, np.pi * yy / 800  # smooth around the seam, as a sky is
    rgb = np.stack([128 + 100 * np.sin(u), 128 + 120 * np.cos(v), 128 + 60 * np.sin(3 * u + v)],
                   -1).astype(np.uint8)
    data = _png(rgb)
    (tmp_path / "grad.png").write_bytes(data)
    for color, channels in (("gray", 1), ("rgb", 3)):
        r = c.post(f"/api/s/{sid}/light/upload?name=grad.png&color={color}", content=data)
        assert r.status_code == 200, r.text
        got = np.asarray(r.json()["values"]).reshape(25, 50, channels)
        want = initial_envmap(str(tmp_path / "grad.png"), (25, 50), channels)
        assert np.abs(got - want).max() < 0.02


def test_a_light_upload_never_waits_for_the_mitsuba_thread(env):
    c, sid = env["client"], env["sid"]
    studio = env["studio"]
    other = c.post("/api/sessions").json()["id"]
    ws = studio.registry.get(other)

    async def hold():  # another session's job holds the Mitsuba thread for 2 s
        return studio.start_job(ws, "test", lambda job: time.sleep(2))

    c.portal.call(hold)
    t0 = time.perf_counter()
    r = c.post(f"/api/s/{sid}/light/upload?name=small.png", content=_png(np.full((50, 100, 3), 90, np.uint8)))
    assert r.status_code == 200 and time.perf_counter() - t0 < 1.5
    assert wait_job(c, other)["state"] == "done"
    c.delete(f"/api/s/{other}")


def test_deeply_nested_json_is_a_400(env):
    c, sid = env["client"], env["sid"]
    for body in ("[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000):
        _one_line_4xx(c.post(f"/api/s/{sid}/relight", content=body))
    assert c.post(f"/api/s/{sid}/relight", json=light_json(0.5)).status_code == 200


def test_size_errors_name_the_limit_that_applies(env):
    c, sid = env["client"], env["sid"]
    msg = _one_line_4xx(c.post(f"/api/s/{sid}/mask", content=b"\0" * (9 << 20)), 413)
    assert "8 MiB" in msg, msg
    msg = _one_line_4xx(c.post(f"/api/s/{sid}/upload?name=big.npz", content=b"\0" * 2_100_000), 413)
    assert "1.90735 MiB (--max-upload-mb)" in msg, msg


def test_failed_uploads_are_deleted_and_messages_hide_server_paths(env):
    c, sid = env["client"], env["sid"]
    root = str(env["root"])
    for url in (f"/api/s/{sid}/roi?name=junk.png", f"/api/s/{sid}/light/upload?name=junk.png",
                f"/api/s/{sid}/upload?name=junk.npz"):
        r = c.post(url, content=b"this is not an image at all")
        msg = _one_line_4xx(r, name="junk." + url.rsplit(".", 1)[1])
        assert root not in msg and "uploads" not in msg, msg
    assert not any("junk" in n for n in _uploads(env))


def test_each_page_has_an_upload_quota(env):
    c, studio = env["client"], env["studio"]
    sid = c.post("/api/sessions").json()["id"]
    old = studio.config.upload_quota_bytes
    studio.config.upload_quota_bytes = 250_000
    try:
        rng = np.random.default_rng(0)
        files = [_png(rng.integers(0, 255, (150, 250, 3), dtype=np.uint8)) for _ in range(3)]
        assert all(90_000 < len(f) < 125_000 for f in files)
        for k in range(2):
            r = c.post(f"/api/s/{sid}/light/upload?name=n{k}.png", content=files[k])
            assert r.status_code == 200, r.text
        msg = _one_line_4xx(c.post(f"/api/s/{sid}/light/upload?name=n2.png", content=files[2]),
                            name="n2.png")
        assert "--upload-quota-mb" in msg, msg
        # failed uploads do not count: a junk file does not use up the quota
        other = c.post("/api/sessions").json()["id"]
        for _ in range(3):
            _one_line_4xx(c.post(f"/api/s/{other}/light/upload?name=j.png", content=b"x" * 100_000))
        assert c.post(f"/api/s/{other}/light/upload?name=n0.png", content=files[0]).status_code == 200
    finally:
        studio.config.upload_quota_bytes = old


@pytest.mark.slow
def test_reader_warnings_reach_the_page(env):
    c = env["client"]
    sid = c.post("/api/sessions").json()["id"]
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(1).normal(0, 1e-6, (40, 40)))
    r = c.post(f"/api/s/{sid}/upload?name=plain.npy", content=buf.getvalue())
    assert r.status_code == 202, r.text
    job = wait_job(c, sid)
    assert job["state"] == "done", job
    warnings = c.get(f"/api/s/{sid}").json()["surface"]["warnings"]
    assert any("no spacing" in w for w in warnings), warnings
    c.delete(f"/api/s/{sid}")


@pytest.mark.slow
def test_closing_one_socket_of_a_page_keeps_its_run(env):
    c, sid = env["client"], env["sid"]
    with c.websocket_connect(f"{WS}/api/s/{sid}/optimize") as a:
        a.send_json({"action": "start", "options": {"iterations": 60, "init": "specular",
                                                    "spp": 4, "final_spp": 4}})
        assert a.receive_json()["type"] == "started"
        with c.websocket_connect(f"{WS}/api/s/{sid}/optimize"):
            pass  # a second tab of the same page opens and closes
        while True:
            m = a.receive_json()
            if m["type"] in ("done", "error"):
                break
    assert m["type"] == "done" and not m["stopped"] and m["iterations_done"] == 60, m
    json.dumps(m)


def test_a_black_render_says_why(env):
    c, sid = env["client"], env["sid"]

    def note(rows_cols):
        E = np.zeros((25, 50, 1))
        for r, k in rows_cols:
            E[r, k] = 1.0
        r = c.post(f"/api/s/{sid}/relight", json={"shape": [25, 50, 1], "values": E.ravel().tolist()})
        assert r.status_code == 200
        return r.headers.get("x-render-note", "")

    low = note([(12, 0)])  # a lamp on the horizon: the default view is black
    assert low.startswith("the image is black: the light is at most 0 degrees high, below "), low
    assert "lowest elevation this view's surface reflects" in low
    behind = note([(6, 25)])  # 45 degrees high, on the camera's side
    assert "reflects no light from these directions" in behind, behind
    assert note([(r, k) for r in range(25) for k in range(50)]) == ""
    assert c.post(f"/api/s/{sid}/relight", json=light_json(0.0)).headers["x-render-note"] == \
        "the image is black: the light is black everywhere"


def test_deeply_nested_json_on_the_socket_keeps_it(env):
    c, sid = env["client"], env["sid"]
    with c.websocket_connect(f"{WS}/api/s/{sid}/optimize") as ws:
        ws.send_text("[" * 100_000)
        assert ws.receive_json()["type"] == "error"
        ws.send_json({"action": "bogus"})  # the socket still answers
        assert ws.receive_json()["type"] == "error"
