"""The surfaces the study runs on: synthetic ones with planted scratches (ground truth
known, written with a region of interest around the scratches) and the real height maps of
the data folder; plus the common "studio" light the paper compares against (the
``scene.studio_envmap`` preset, which the studio page also offers)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..scene import studio_envmap
from .experiments import Settings

__all__ = ["default_data_dir", "studio_envmap", "seed_tag", "surface_cases"]


def default_data_dir() -> Path:
    """``<repo>/../shared/data``, the real height maps beside the repository."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _central_square(shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, nx, ny) of the largest central square window of a (ny, nx) grid."""
    ny, nx = shape
    n = min(ny, nx)
    return ((nx - n) // 2, (ny - n) // 2, n, n)


def _synthetic_case(out: Path, kind: str, settings: Settings, seed: int, tag: str) -> dict:
    """Write a synthetic surface (.npz), its defect-free twin (the same surface without the
    planted scratches: same arguments and seed, ``scratches=0``) and the region-of-interest
    PNG around its scratches. ``tag`` ('' or '-seed<N>') names the seed's files."""
    from scipy import ndimage

    from ..io import write_npz, write_png
    from ..surface import synthesize

    hm = synthesize(kind, size=settings.size, scratches=settings.scratches, seed=seed)
    path = out / "surfaces" / f"{kind}{tag}.npz"
    write_npz(str(path), hm)
    twin = out / "surfaces" / f"{kind}{tag}-twin.npz"
    write_npz(str(twin), synthesize(kind, size=settings.size, scratches=0, seed=seed))
    roi = ndimage.binary_dilation(hm.truth, np.ones((3, 3), bool), iterations=3)
    roi_path = out / "surfaces" / f"{kind}{tag}-roi.png"
    write_png(str(roi_path), roi)
    return {"name": kind, "kind": "synthetic", "heightmap": str(path), "crop": None,
            "roi": str(roi_path), "twin": str(twin), "source": hm.source, "notes": []}


def _real_case(data_dir: Path, filename: str, crop: str | None) -> dict | None:
    """The case of a real map in ``data_dir``, or None when the file is missing."""
    from ..io import read_heightmap

    path = data_dir / filename
    if not path.is_file():
        return None
    notes, box = [], None
    if crop == "square":
        shape = read_heightmap(str(path)).shape
        box = _central_square(shape)
        if box[2:] != (shape[1], shape[0]):
            notes.append(f"{filename} ({shape[1]} x {shape[0]} points) is cropped to its central "
                         f"{box[2]} x {box[3]} window so the surface fills the square image")
    return {"name": Path(filename).stem, "kind": "real", "heightmap": str(path), "crop": box,
            "roi": None, "twin": None, "source": filename, "notes": notes}


def seed_tag(index: int, seed: int) -> str:
    """'' for the first seed of a reproduction (its files and folders keep the names of a
    one-seed run, so those are reused), '-seed<N>' for the others."""
    return "" if index == 0 else f"-seed{seed}"


def surface_cases(out: Path, settings: Settings, seed: int, data_dir: Path,
                  notes: list, index: int = 0) -> list[dict]:
    """Every surface of the reproduction for its ``index``-th seed ``seed`` (synthetic ones
    are written into ``out/surfaces``); missing real maps become notes. Each case's
    ``dir`` is its runs' folder: ``<name>`` for the first seed, ``<name>/seed-<N>`` else."""
    tag = seed_tag(index, seed)
    cases = [_synthetic_case(out, k, settings, seed, tag) for k in settings.synthetic]
    for filename, crop in settings.real:
        case = _real_case(data_dir, filename, crop)
        if case is None:
            notes.append(f"{filename} not found in {data_dir}: skipped")
        else:
            cases.append(case)
    for case in cases:
        case["seed"] = seed
        case["dir"] = case["name"] + ("" if index == 0 else f"/seed-{seed}")
    return cases
