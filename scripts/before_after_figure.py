"""Draw docs/before-after.png: milled-face.sur before and after `scratchlight optimize`.

    .venv/bin/python scripts/before_after_figure.py [DATA_DIR] [docs/before-after.png]

Runs the optimize command at a small size (256 x 256 pixels, the paper's other defaults)
into a temporary folder and puts its before.png and after.png side by side with a label.
DATA_DIR defaults to ../shared/data next to the repository.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]


def main(data=REPO.parent / "shared" / "data", path=REPO / "docs" / "before-after.png"):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results"
        subprocess.run([sys.executable, "-m", "scratchlight.cli", "optimize",
                        str(Path(data) / "milled-face.sur"), "--out", str(out),
                        "--resolution", "256", "--quiet"], check=True)
        before, after = (np.asarray(Image.open(out / f"{n}.png").convert("RGB"))
                         for n in ("before", "after"))
    gap = np.full((before.shape[0], 6, 3), 255, np.uint8)
    image = Image.fromarray(np.concatenate([before, gap, after], axis=1))
    draw = ImageDraw.Draw(image)
    for x, text in ((6, "before: uniform light 0.5"), (before.shape[1] + 12, "after: optimized light")):
        draw.rectangle((x - 2, 4, x + 6 * len(text) + 2, 16), fill=(0, 0, 0))
        draw.text((x, 4), text, fill=(255, 255, 255))
    image.save(path, optimize=True)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
