"""The page opens a G-code program: milled by `scratchlight mill` into the surface it then
shows and optimizes, and a program the simulator refuses is a one-line answer."""
from __future__ import annotations

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from scratchlight.studio import StudioConfig, create_app  # noqa: E402
from studio_helpers import TINY, make_data_dir, wait_job  # noqa: E402

PROGRAM = b"""%
(ball-end raster, 0.1 mm stepover)
G21 G90 G17
S12000 M3
G0 X-0.2 Y0 Z1
G1 Z-0.02 F600
G1 X0.6
G1 Y0.1
G1 X-0.2
G1 Y0.2
G1 X0.6
G1 Y0.3
G1 X-0.2
G0 Z1
M30
%
"""
QUERY = "tool=ball:d=1mm&stock=0:0.4,0:0.3,0&spacing=4um"


def test_a_milled_program_opens_as_the_surface(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHLIGHT_CACHE", str(tmp_path / "cache"))
    data = make_data_dir(tmp_path / "data")
    cfg = StudioConfig(data_dir=str(data), out_dir=str(tmp_path / "out"), resolution=TINY)
    with TestClient(create_app(cfg), base_url="http://127.0.0.1") as client:
        sid = client.post("/api/sessions").json()["id"]
        r = client.post(f"/api/s/{sid}/mill?name=raster.nc&{QUERY}", content=PROGRAM)
        assert r.status_code == 202, r.text
        job = wait_job(client, sid, timeout=300)
        assert job["state"] == "done", job
        status = client.get(f"/api/s/{sid}").json()
        info = status["surface"]
        assert info["name"] == "raster.npz" and status["ready"], status
        assert info["grid"] == [100, 75]  # 0.4 x 0.3 mm at 4 um
        # the scallops of a 1 mm ball at 0.1 mm stepover (R - sqrt(R^2 - ae^2/4) = 2.51 um)
        # and its feed marks (0.16 um at 25 um per tooth), 20 um below the stock's top
        assert 2.4 < info["height_range_um"] < 2.8 and -20.1 < info["height_min_um"] < -19.9, info
        assert client.post(f"/api/s/{sid}/relight", json={}).status_code in (200, 400)
        milled = list((tmp_path / "out" / "uploads").glob("*-raster.npz"))
        assert len(milled) == 1 and milled[0].with_suffix(".run.json").is_file()

        # refused: an unsupported code, named with its line, the program by its own name
        bad = PROGRAM.replace(b"G1 Y0.1", b"G81 X0 Y0 Z-1 R1")
        r = client.post(f"/api/s/{sid}/mill?name=drill.nc&{QUERY}", content=bad)
        assert r.status_code == 400 and "G81" in r.json()["error"], r.text
        assert "drill.nc" in r.json()["error"] and str(tmp_path) not in r.json()["error"]
        assert "\n" not in r.json()["error"]
        assert not list((tmp_path / "out" / "uploads").glob("*-drill.*"))  # nothing stays
        # refused: no tool, a file type that is no program
        r = client.post(f"/api/s/{sid}/mill?name=a.nc&stock=0:1,0:1,0", content=PROGRAM)
        assert r.status_code == 400 and "tool" in r.json()["error"]
        r = client.post(f"/api/s/{sid}/mill?name=a.exe&{QUERY}", content=PROGRAM)
        assert r.status_code == 400 and "unsupported file type" in r.json()["error"]
        # the surface opened before stays in use
        assert client.get(f"/api/s/{sid}").json()["surface"]["name"] == "raster.npz"
