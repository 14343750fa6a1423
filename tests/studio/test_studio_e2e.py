"""End to end in a real browser: `scratchlight studio` serving, headless Chromium driving.

Needs Debian's chromium (scripts/setup.sh installs it) and the playwright package; the
test is skipped without them. It opens the page, paints a region, presses Optimize, waits
until the streamed loss has fallen, checks that the render changed, downloads the results
zip and loads its envmap.exr, and saves a screenshot in the test's tmp folder.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from studio_helpers import make_data_dir

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def server(tmp_path):
    data = make_data_dir(tmp_path / "data")
    env = dict(os.environ, PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               SCRATCHLIGHT_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "scratchlight.cli", "studio", "--data", str(data),
                             "--port", "0", "--out", str(tmp_path / "out"), "--resolution", "48"],
                            stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    line = proc.stdout.readline()
    if not line.startswith("scratchlight studio: http://127.0.0.1:"):
        proc.kill()
        log.close()
        pytest.fail(f"server did not start: {line!r} {(tmp_path / 'server.log').read_text()[-2000:]}")
    yield line.split(": ", 1)[1].strip()
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _pixels(page) -> list[int]:
    """A coarse fingerprint of the shown render (sums of 4 x 4 blocks of red)."""
    return page.evaluate("""() => {
        const img = document.getElementById('render'), c = document.createElement('canvas');
        c.width = 4; c.height = 4; const g = c.getContext('2d');
        g.drawImage(img, 0, 0, 4, 4);
        return Array.from(g.getImageData(0, 0, 4, 4).data);
    }""")


@pytest.mark.slow
def test_paint_optimize_watch_and_download(server, tmp_path):
    from scratchlight.io import read_envmap

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(accept_downloads=True, viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server)
            page.wait_for_function("window.studio && window.studio.ready && window.studio.renders > 0",
                                   timeout=60_000)
            assert "part.npz" in page.inner_text("#surface-select")
            assert "64 x 64 points" in page.inner_text("#surface-info")
            page.click("[data-preset=specular]")
            page.wait_for_function("document.getElementById('message').textContent.includes('specular')")
            page.wait_for_timeout(300)
            before = _pixels(page)

            box = page.locator("#mask-canvas").bounding_box()
            cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
            page.mouse.move(cx - 40, cy - 20)
            page.mouse.down()
            for k in range(8):
                page.mouse.move(cx - 40 + 10 * k, cy - 20 + 5 * k)
            page.mouse.up()
            page.wait_for_function("document.querySelector('input[name=mask-mode][value=painted]').checked",
                                   timeout=10_000)
            painted = page.inner_text("#mask-info")
            assert int(painted.split()[0]) < int(painted.split()[2]), painted  # a part of the surface

            page.fill("#opt-iterations", "12")
            page.select_option("#opt-init", "current")
            page.fill("#opt-final-spp", "4")
            page.click("#optimize")
            page.wait_for_function("window.studio.done >= 1", timeout=60_000)
            losses = page.evaluate("window.studio.losses")
            # the first 5 iterations are the transport engine's Mitsuba warm-up at a quarter of
            # the spp, whose noisier images read a lower L_grad: compare from the first on T
            assert len(losses) == 12 and min(losses[-3:]) < losses[5], losses
            assert page.evaluate("window.studio.renders") > 3  # streamed frames were shown
            after = _pixels(page)
            assert sum(abs(a - b) for a, b in zip(before, after)) > 0, "the render did not change"

            with page.expect_download(timeout=60_000) as download:
                page.click("#export")
            zpath = tmp_path / "results.zip"
            download.value.save_as(zpath)
            with zipfile.ZipFile(zpath) as z:
                z.extractall(tmp_path / "results")
            E = read_envmap(tmp_path / "results" / "envmap.exr")
            assert E.shape == (25, 50, 3)

            page.check("#compare-toggle")
            page.set_input_files("#surface-upload", files=[{"name": "broken.x3p", "mimeType":
                                 "application/octet-stream", "buffer": b"PK\x03\x04 corrupt"}])
            page.wait_for_function("document.getElementById('message').textContent.includes('broken.x3p')")
            page.screenshot(path=str(tmp_path / "studio.png"))
            page.uncheck("#compare-toggle")
            page.click("[data-preset=uniform]")  # the session is still usable
            page.wait_for_function("document.getElementById('message').textContent.includes('uniform')")
            assert not errors, errors
        finally:
            browser.close()
    assert (tmp_path / "studio.png").stat().st_size > 10_000


@pytest.mark.slow
def test_upload_names_the_surface_and_a_black_lamp_says_why(server, tmp_path):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server)
            page.wait_for_function("window.studio && window.studio.ready && window.studio.renders > 0",
                                   timeout=60_000)
            data = (tmp_path / "data" / "part.npz").read_bytes()
            held = []  # the upload is held back until the page has shown that it is under way
            page.route("**/upload?name=mine.npz", lambda route: held.append(route))
            page.set_input_files("#surface-upload", files=[{"name": "mine.npz", "mimeType":
                                 "application/octet-stream", "buffer": data}])
            page.wait_for_function("!document.getElementById('progress').hidden && document"
                                   ".getElementById('progress-text').textContent.includes("
                                   "'uploading and checking mine.npz')", timeout=10_000)
            while not held:
                page.wait_for_timeout(50)
            held[0].continue_()
            page.wait_for_function("document.getElementById('message').textContent.includes('opened mine.npz')",
                                   timeout=60_000)
            assert page.eval_on_selector("#surface-select", "s => s.value") == "mine.npz"
            page.click("[data-preset=specular]")
            page.wait_for_function("document.getElementById('message').textContent.includes('specular')")
            page.check("input[name=light-tool][value=lamp]")
            box = page.locator("#light-canvas").bounding_box()  # 45 degrees, on the camera's side
            page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.245)
            page.wait_for_function("document.getElementById('message').textContent.includes('the image is black')",
                                   timeout=10_000)
            assert "specular" not in page.inner_text("#message")
            # a G-code program, milled and opened (tests/studio/test_studio_mill.py checks the surface)
            from test_studio_mill import PROGRAM

            page.click("#mill-form summary")
            page.fill("#mill-tool", "ball:d=1mm")
            page.fill("#mill-stock", "0:0.4,0:0.3,0")
            page.fill("#mill-spacing", "4um")
            page.set_input_files("#mill-upload", files=[{"name": "raster.nc", "mimeType": "text/plain",
                                                         "buffer": PROGRAM}])
            page.wait_for_function("document.getElementById('message').textContent.includes('milled raster.nc')",
                                   timeout=120_000)
            assert page.eval_on_selector("#surface-select", "s => s.value") == "raster.npz"
            assert not errors, errors
        finally:
            browser.close()


RECORD_TEXT = """
(() => {
  const fill = CanvasRenderingContext2D.prototype.fillText;
  window.canvasTexts = [];
  CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
    window.canvasTexts.push([this.canvas.id, String(text)]);
    return fill.call(this, text, ...rest);
  };
})();
"""


@pytest.mark.slow
def test_layout_at_1400_px_fits_its_panels_and_the_loss_plot_has_axes(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.add_init_script(RECORD_TEXT)
            page.goto(server)
            page.wait_for_function("window.studio && window.studio.ready && window.studio.renders > 0",
                                   timeout=60_000)
            outside = page.evaluate("""() => {
                const out = [];
                for (const sec of document.querySelectorAll('section')) {
                    const b = sec.getBoundingClientRect();
                    for (const el of sec.querySelectorAll('select, input, canvas, button, table')) {
                        const r = el.getBoundingClientRect();
                        if (!r.width) continue;   // hidden
                        if (r.left < b.left - 0.5 || r.right > b.right + 0.5)
                            out.push(`${el.id || el.tagName} ${r.left}-${r.right} in ${b.left}-${b.right}`);
                    }
                }
                for (const s of document.querySelectorAll('select')) {   // the chosen option shows whole
                    const r = s.getBoundingClientRect(), g = document.createElement('canvas').getContext('2d');
                    g.font = getComputedStyle(s).font;
                    const text = s.selectedOptions[0] ? s.selectedOptions[0].textContent : '';
                    if (r.width && g.measureText(text).width > r.width - 20) out.push(`${s.id} cut: ${text}`);
                }
                return out;
            }""")
            assert not outside, outside
            # an image without a source yet (the compare images) shows nothing, not a broken icon
            assert page.evaluate("getComputedStyle(document.getElementById('before-img')).visibility") == "hidden"
            page.fill("#opt-iterations", "3")
            page.fill("#opt-final-spp", "4")
            page.click("#optimize")
            page.wait_for_function("window.studio.done >= 1", timeout=60_000)
            texts = {t for cid, t in page.evaluate("window.canvasTexts") if cid == "loss-canvas"}
            assert {"loss", "iteration"} <= texts, texts
            # the inspection verdict of the current light: its POD curve and orientations,
            # shown within the compare panel
            page.click("#pod")
            page.wait_for_function("document.getElementById('pod-orient').naturalWidth > 100",
                                   timeout=300_000)
            verdict = page.inner_text("#pod-verdict")
            assert "of 32 scratches seen" in verdict and ("a90/95" in verdict or "no POD curve" in verdict)
            panel = page.locator("#compare-panel").bounding_box()
            for img in ("#pod-curve", "#pod-orient"):
                box = page.locator(img).bounding_box()
                assert box["width"] > 100 and box["x"] + box["width"] <= panel["x"] + panel["width"] + 0.5
        finally:
            browser.close()
