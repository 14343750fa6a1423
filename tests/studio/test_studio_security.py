"""The studio's guards: the token off loopback, hosts and origins, bounded sessions and
matrices, and how a painted light is saved so that a run replays."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from scratchlight.studio import StudioConfig, create_app  # noqa: E402
from studio_helpers import TINY, light_json, make_data_dir, wait_job  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data_dir(tmp_path_factory.mktemp("studio-sec") / "data")


def test_any_other_host_requires_the_token(data, tmp_path):
    app = create_app(StudioConfig(data_dir=str(data), out_dir=str(tmp_path), host="0.0.0.0"))
    token = app.state.studio.token
    assert token and len(token) >= 32
    with TestClient(app, base_url="http://203.0.113.5:8765") as c:
        for path in ("/", "/static/studio.js", "/api/config"):
            assert c.get(path).status_code == 403, path
        assert c.post("/api/sessions").status_code == 403
        assert c.get("/api/config?token=wrong").status_code == 403
        assert c.get("/api/config", headers={"x-studio-token": token[:-1] + "x"}).status_code == 403
        with pytest.raises(WebSocketDisconnect):
            with c.websocket_connect("ws://203.0.113.5:8765/api/s/x/optimize") as ws:
                ws.receive_json()
        page = c.get(f"/?token={token}")
        assert page.status_code == 200 and "HttpOnly" in page.headers["set-cookie"]
        assert c.get("/static/studio.js").status_code == 200  # the page's cookie carries it
        c.cookies.clear()
        assert c.get("/static/studio.js").status_code == 403
        r = c.post("/api/sessions", headers={"x-studio-token": token})
        assert r.status_code == 201
        sid = r.json()["id"]
        with c.websocket_connect(f"ws://203.0.113.5:8765/api/s/{sid}/optimize?token={token}") as ws:
            ws.send_json({"action": "dance"})
            assert ws.receive_json()["type"] == "error"


def test_loopback_checks_host_and_origin(data, tmp_path):
    app = create_app(StudioConfig(data_dir=str(data), out_dir=str(tmp_path)))
    assert app.state.studio.token is None
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        assert c.get("/api/config").status_code == 200
        assert c.get("/api/config", headers={"host": "localhost:8765"}).status_code == 200
        # DNS rebinding: a page of another site that resolves to 127.0.0.1
        assert c.get("/api/config", headers={"host": "evil.example:8765"}).status_code == 403
        assert c.post("/api/sessions", headers={"origin": "http://evil.example"}).status_code == 403
        assert c.post("/api/sessions", headers={"origin": "http://127.0.0.1:8765"}).status_code == 201
        sid = c.post("/api/sessions").json()["id"]
        with pytest.raises(WebSocketDisconnect):
            with c.websocket_connect(f"ws://127.0.0.1:8765/api/s/{sid}/optimize",
                                     headers={"origin": "http://evil.example"}) as ws:
                ws.receive_json()


def test_sessions_and_matrices_are_bounded(data, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHLIGHT_CACHE", str(tmp_path / "cache"))
    cfg = StudioConfig(data_dir=str(data), out_dir=str(tmp_path / "out"), resolution=TINY,
                       max_sessions=2, max_matrices=1)
    with TestClient(create_app(cfg), base_url="http://127.0.0.1") as c:
        registry = c.app.state.studio.registry
        a, b = (c.post("/api/sessions").json()["id"] for _ in range(2))
        for sid in (a, b):
            c.post(f"/api/s/{sid}/surface", json={"name": "part.npz"})
            assert wait_job(c, sid)["state"] == "done"
        assert registry.matrices_held() == 1  # a's matrices were released for b's
        assert not c.get(f"/api/s/{a}").json()["ready"]
        r = c.post(f"/api/s/{a}/relight", json=light_json(0.3))  # back from the disk cache
        assert r.status_code == 200 and registry.matrices_held() == 1
        assert not c.get(f"/api/s/{b}").json()["ready"]
        assert c.get(f"/api/s/{a}").status_code == 200  # a is now the most recently used
        third = c.post("/api/sessions").json()["id"]  # evicts the least recently used: b
        assert c.get(f"/api/s/{b}").status_code == 404
        assert c.get(f"/api/s/{a}").status_code == 200 and c.get(f"/api/s/{third}").status_code == 200
        assert registry.evicted == 1 and len(registry) == 2


def test_painted_light_replays_through_init_file(tmp_path):
    from scratchlight.optimize.init import initial_envmap
    from scratchlight.studio.lights import write_init_light

    rng = np.random.default_rng(0)
    for C in (1, 3):
        E = rng.random((25, 50, C)).astype(np.float32)
        E[0, :5] = 0.0
        E[1, :5] = 0.05  # below L* = 8, the linear part of the curve
        write_init_light(tmp_path / f"init{C}.exr", E)
        back = initial_envmap(str(tmp_path / f"init{C}.exr"), (25, 50), C)
        assert np.allclose(back, E, atol=2e-5), C


def test_file_names_and_bodies(tmp_path):
    from scratchlight.errors import InputError
    from scratchlight.studio.security import check_file_name, resolve_data_file

    (tmp_path / "ok.npz").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    assert resolve_data_file(tmp_path, "ok.npz") == (tmp_path / "ok.npz").resolve()
    for bad in ("", "..", "a/b", "a\\b", ".x", "sub", "nope.npz", "x" * 300):
        with pytest.raises(InputError):
            resolve_data_file(tmp_path, bad)
    assert check_file_name("scan 1.x3p") == "scan 1.x3p"


def test_studio_sits_on_top_of_the_session():
    """studio may import the session and what is below it; only the command line imports it."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "scratchlight"
    above = {"cli", "study", "fit", "renders", "studio"}
    for path in src.rglob("*.py"):
        parts = path.relative_to(src).parts
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.module and not node.level:
                continue
            module = (node.module or "").split(".")
            if node.level:  # relative: resolve the first name inside scratchlight
                base = list(parts[:-1])[:len(parts) - node.level]
                target = (base + module)[:1] if base or module[0] else []
            elif module[0] == "scratchlight":
                target = module[1:2]
            else:
                continue
            name = target[0] if target else ""
            if parts[0] == "studio":
                assert name not in above - {"studio"}, f"{path.name} imports {name}"
            elif parts[0] != "cli":
                assert name != "studio", f"{'/'.join(parts)} imports the studio"
