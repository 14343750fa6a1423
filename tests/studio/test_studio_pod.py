"""The page's probability of detection: `scratchlight pod` on the open surface under the
page's current light, its verdict and plots served from the session's own folder."""
from __future__ import annotations

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from scratchlight.studio import StudioConfig, create_app  # noqa: E402
from studio_helpers import TINY, make_data_dir, png_size, wait_job  # noqa: E402


@pytest.mark.slow
def test_pod_of_the_page_light_gives_a_verdict_and_its_plots(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHLIGHT_CACHE", str(tmp_path / "cache"))
    data = make_data_dir(tmp_path / "data")
    cfg = StudioConfig(data_dir=str(data), out_dir=str(tmp_path / "out"), resolution=TINY)
    with TestClient(create_app(cfg), base_url="http://127.0.0.1") as client:
        sid = client.post("/api/sessions").json()["id"]
        # nothing to show before a surface and a run
        assert client.get(f"/api/s/{sid}/pod/pod.png").status_code == 400
        assert client.post(f"/api/s/{sid}/surface", json={"name": "part.npz"}).status_code == 202
        assert wait_job(client, sid)["state"] == "done"
        assert "first" in client.get(f"/api/s/{sid}/pod/pod.png").json()["error"]
        r = client.post(f"/api/s/{sid}/light/preset", json={"name": "studio", "color": "gray"})
        assert r.status_code == 200
        r = client.post(f"/api/s/{sid}/pod", json={})
        assert r.status_code == 202 and r.json()["job"]["kind"] == "pod"
        job = wait_job(client, sid, timeout=600)
        assert job["state"] == "done", job
        verdict = job["result"]
        assert verdict["defects"] == 4 * 4 * 2  # depths x orientations x seeds
        assert 0 <= verdict["hits"] <= verdict["defects"]
        if verdict["a90_95_um"] is not None:  # a fitted curve: its bound lies above a90
            assert verdict["a50_um"] < verdict["a90_um"] <= verdict["a90_95_um"]
        else:
            assert verdict["status"] != "ok" and verdict["note"]
        for name, url in verdict["plots"].items():
            png = client.get(url)
            assert png.status_code == 200 and png.headers["content-type"] == "image/png"
            assert min(png_size(png.content)) > 100, name
        # the client names a plot, never a path
        assert client.get(f"/api/s/{sid}/pod/run.json").status_code == 400
        assert client.get(f"/api/s/{sid}/pod/..%2F..%2Fdata%2Fpart.npz").status_code in (400, 404)
