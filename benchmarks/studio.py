"""The studio's speed as a user sees it, in a real browser (issue 13).

Starts ``scratchlight studio`` on a real height map at 256 x 256 (default
``<repo>/../shared/data/milled-face.sur``), drives headless Chromium with Playwright and
measures:
- opening the surface (scene + the two 16-spp transport matrices, no cache) and changing
  the camera there and back (the second return comes from the matrix cache);
- relighting: brush strokes on the light strip, the time from the request to the decoded
  image in the page (what the user waits for) and the server's relight + PNG time;
- the optimization stream: 100 iterations of the transport engine from the specular map,
  iterations per second and frames (light + render) per second shown by the page;
and saves a screenshot of the page (``--screenshot docs/studio.png``).

Usage:
    .venv/bin/python benchmarks/studio.py
    .venv/bin/python benchmarks/studio.py --heightmap face.sur --screenshot docs/studio.png
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def job_seconds(page) -> float:
    return page.evaluate("""async () => {
        const r = await fetch(`/api/s/${window.studio.sid}/job`);
        return (await r.json()).job.seconds; }""")



def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heightmap", default=str(REPO.parent / "shared" / "data" / "milled-face.sur"))
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--strokes", type=int, default=40)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--screenshot", help="save a PNG of the page here")
    ap.add_argument("--json", help="write the numbers here")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    from scratchlight.user_cache import cache_root

    # no transport matrix cached; the compiled kernels where `make setup` put them (a
    # studio that compiles them itself opens its first surface ~20 s later)
    env = dict(os.environ, SCRATCHLIGHT_CACHE=str(tmp / "cache"), PYTHONUNBUFFERED="1",
               NUMBA_CACHE_DIR=os.environ.get("NUMBA_CACHE_DIR",
                                              os.path.join(cache_root(), "numba")),
               PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    proc = subprocess.Popen([sys.executable, "-m", "scratchlight.cli", "studio", args.heightmap,
                             "--port", "0", "--out", str(tmp / "out"),
                             "--resolution", str(args.resolution)],
                            stdout=subprocess.PIPE, text=True, env=env)
    url = proc.stdout.readline().split(": ", 1)[1].strip()
    out = {"heightmap": os.path.basename(args.heightmap), "resolution": args.resolution}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 860})
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_function("window.studio && window.studio.ready && window.studio.renders > 0",
                                   timeout=300_000)
            out["open_s"] = round(time.perf_counter() - t0, 2)
            out["open_job_s"] = job_seconds(page)

            # relighting: brush strokes, each after the previous image arrived
            page.click("[data-preset=specular]")
            page.wait_for_timeout(500)
            page.evaluate("window.studio.relightMs = []")
            server_ms = []
            page.on("response", lambda r: server_ms.append(float(r.headers["x-relight-ms"]))
                    if r.url.endswith("/relight") else None)
            box = page.locator("#light-canvas").bounding_box()
            page.check("input[name=light-tool][value=brush]")
            for k in range(args.strokes):
                n = page.evaluate("window.studio.relightMs.length")
                x = box["x"] + box["width"] * (0.05 + 0.9 * k / args.strokes)
                y = box["y"] + box["height"] * 0.3
                page.mouse.move(x, y)
                page.mouse.down()
                page.mouse.up()
                page.wait_for_function(f"window.studio.relightMs.length > {n}")
            ms = page.evaluate("window.studio.relightMs")
            ms_sorted = sorted(ms)
            out["relight_page_ms_median"] = round(statistics.median(ms), 1)
            out["relight_page_ms_p90"] = round(ms_sorted[int(0.9 * (len(ms) - 1))], 1)
            out["relight_server_ms_median"] = round(statistics.median(server_ms), 1)
            out["relights"] = len(ms)

            # camera there and back: a new matrix, then one from the cache
            for name, az in (("camera_new_s", "30"), ("camera_cached_s", "0")):
                page.fill("#cam-azimuth", az)
                n = page.evaluate("window.studio.renders")
                page.click("#cam-apply")
                page.wait_for_function(f"window.studio.ready && window.studio.renders > {n}", timeout=300_000)
                out[name] = job_seconds(page)

            # a painted region, then the optimization stream
            page.click("[data-preset=specular]")
            page.wait_for_timeout(300)
            mbox = page.locator("#mask-canvas").bounding_box()
            cx, cy = mbox["x"] + mbox["width"] / 2, mbox["y"] + mbox["height"] / 2
            page.mouse.move(cx - 80, cy)
            page.mouse.down()
            for k in range(12):
                page.mouse.move(cx - 80 + 14 * k, cy + 6 * k)
            page.mouse.up()
            page.wait_for_function("document.querySelector('input[name=mask-mode][value=painted]').checked")
            page.fill("#opt-iterations", str(args.iterations))
            page.select_option("#opt-init", "current")
            page.fill("#opt-final-spp", "16")
            page.click("#optimize")
            page.wait_for_function("window.studio.done >= 1", timeout=600_000)
            done = page.evaluate("window.studio.lastDone")
            losses = page.evaluate("window.studio.losses")
            out["optimize_iterations"] = done["iterations"]
            out["optimize_s"] = done["seconds"]
            out["iterations_per_s"] = round(done["iterations"] / done["seconds"], 1)
            out["frames"] = done["frames"]
            out["frames_per_s"] = round(done["frames"] / done["seconds"], 1)
            out["loss_first_best"] = [round(losses[0], 4), round(min(losses), 4)]
            if args.screenshot:
                page.check("#compare-toggle")
                page.fill("#compare-slider", "50")
                page.dispatch_event("#compare-slider", "input")
                page.evaluate("document.getElementById('controls').scrollTop = 0")
                page.wait_for_timeout(500)
                page.screenshot(path=args.screenshot)
                from PIL import Image

                with Image.open(args.screenshot) as im:  # a small file for the README
                    im.convert("RGB").quantize(colors=128).save(args.screenshot, optimize=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
