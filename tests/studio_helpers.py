"""Shared pieces of the studio tests: a tiny data folder and job polling."""
from __future__ import annotations

import time

import numpy as np

TINY = 48  # image side of every studio test


def make_data_dir(folder):
    """A data folder with one small synthetic surface (with ground truth)."""
    import scratchlight as sl

    folder.mkdir(parents=True, exist_ok=True)
    hm = sl.synthesize("face-mill", size=64, scratches=2, seed=0)
    sl.io.write_npz(str(folder / "part.npz"), hm)
    return folder


def wait_job(client, sid, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        job = client.get(f"/api/s/{sid}/job").json()["job"]
        if job["state"] in ("done", "error"):
            return job
        time.sleep(0.05)
    raise TimeoutError("job did not finish")


def light_json(value=0.5, shape=(25, 50, 1)):
    return {"shape": list(shape), "values": np.full(shape, value).ravel().tolist()}


def png_size(data: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.size
