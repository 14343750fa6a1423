"""Model-observer detectability (d') against constructed images whose d' is known."""
import math

import numpy as np
import pytest
from scipy import ndimage

from scratchlight.report.detectability import (cho_dprime, detectability, laguerre_gauss_channels,
                                               npw_dprime)

SIZE = 16


def blob(amplitude, width, size=SIZE):
    """A Gaussian bump exp(-pi r^2 / width^2) (the LG p = 0 profile) centred in the window."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    return amplitude * np.exp(-math.pi * ((yy - c) ** 2 + (xx - c) ** 2) / width ** 2)


def test_npw_and_cho_in_white_noise():
    """White noise sigma: NPW d' = |s| / sigma; the CHO reaches it too when s lies in the
    span of its channels (a Gaussian bump is the first LG channel)."""
    rng = np.random.default_rng(0)
    sigma, s = 0.05, blob(0.08, 5.0).ravel()
    background = sigma * rng.standard_normal((20000, SIZE * SIZE))
    expected = np.linalg.norm(s) / sigma
    assert npw_dprime(s, background) == pytest.approx(expected, rel=0.03)
    U = laguerre_gauss_channels(SIZE, 5.0, 5)
    assert cho_dprime(s, background, U) == pytest.approx(expected, rel=0.03)
    assert npw_dprime(2 * s, background) == pytest.approx(2 * npw_dprime(s, background), rel=1e-9)
    assert npw_dprime(0 * s, background) == 0.0


def test_npw_in_correlated_noise_and_cho_prewhitens():
    """Noise = white noise filtered by a Gaussian (covariance K = sigma^2 G G^T, exactly
    known): NPW d' = s.s / sqrt(s^T K s). A prewhitening observer does at least as well."""
    rng = np.random.default_rng(1)
    sigma, g = 0.05, 1.5
    pad = 8
    raw = sigma * rng.standard_normal((6000, SIZE + 2 * pad, SIZE + 2 * pad))
    fields = ndimage.gaussian_filter(raw, sigma=(0, g, g))[:, pad:-pad, pad:-pad]
    background = fields.reshape(len(fields), -1)
    s = blob(0.05, 4.0).ravel()
    # exact s^T K s: filter s (zero-padded) by the same Gaussian; K = sigma^2 G G^T
    sp = np.zeros((SIZE + 2 * pad,) * 2)
    sp[pad:-pad, pad:-pad] = s.reshape(SIZE, SIZE)
    Gs = ndimage.gaussian_filter(sp, g)
    expected = float(s @ s) / (sigma * np.linalg.norm(Gs))
    assert npw_dprime(s, background) == pytest.approx(expected, rel=0.04)
    U = laguerre_gauss_channels(SIZE, 4.0, 5)
    assert cho_dprime(s, background, U) >= 0.97 * npw_dprime(s, background)


@pytest.mark.slow
def test_detectability_on_images_per_defect_and_overall():
    """Two planted bumps of different amplitude on a white-noise background: per-defect d'
    are |s_k| / sigma, the overall is their mean, the minimum the weaker one."""
    rng = np.random.default_rng(2)
    h, w, sigma, seeds = 96, 96, 0.04, 40
    truth = np.zeros((h, w), bool)
    signal = np.zeros((h, w))
    norms = []
    for (i, j), a in (((20, 20), 0.06), ((70, 60), 0.12)):
        b = blob(a, 5.0)
        signal[i - 8:i + 8, j - 8:j + 8] = b  # centred like the observer's window
        truth[i - 1:i + 2, j - 1:j + 2] = True
        norms.append(np.linalg.norm(b))
    without = [0.5 + sigma * rng.standard_normal((h, w)) for _ in range(seeds)]
    with_ = [y + signal for y in without]
    mask = np.ones((h, w), bool)
    r = detectability(with_, without, truth, mask, window=SIZE, channel_width=5.0,
                      display=False)
    assert r["defects"] == 2 and r["windows"] == 2 and r["background_windows"] > 1000
    expected = [n / sigma for n in norms]
    for key in ("npw", "cho"):
        assert r[key]["per_defect"] == pytest.approx(expected, rel=0.06)
        assert r[key]["overall"] == pytest.approx(np.mean(r[key]["per_defect"]))
        assert r[key]["min"] == pytest.approx(min(r[key]["per_defect"]))


@pytest.mark.slow
def test_long_defect_adds_its_windows_and_empty_cases():
    rng = np.random.default_rng(3)
    h, w, sigma = 64, 160, 0.03
    truth = np.zeros((h, w), bool)
    truth[32, 8:152] = True
    signal = np.where(ndimage.binary_dilation(truth, iterations=1), -0.02, 0.0)
    without = [0.4 + sigma * rng.standard_normal((h, w)) for _ in range(30)]
    r = detectability([y + signal for y in without], without, truth, np.ones((h, w), bool),
                      display=False)
    one_window = np.linalg.norm(signal[24:40, 8:24]) / sigma
    assert r["windows"] == 9
    assert r["npw"]["overall"] == pytest.approx(3 * one_window, rel=0.1)  # sqrt(9) looks
    none = detectability(without[:2], without[:2], np.zeros((h, w), bool), np.ones((h, w), bool))
    assert none["npw"]["overall"] is None and "no defect" in none["note"]
    tiny = detectability(without[:2], without[:2], truth, np.zeros((h, w), bool) | truth)
    assert tiny["cho"]["overall"] is None and "windows" in tiny["note"]
    with pytest.raises(ValueError):
        detectability(without[:1], without[:1], truth, np.ones((h, w), bool))


# ---------------------------------------------------------------- perceived contrast
from scratchlight.report.perception import (BLACK_LEVEL, csf_filtered_contrast,  # noqa: E402
                                            csf_mannos_sakrison, display_luminance,
                                            perceived_metrics, pixels_per_degree)


def test_csf_shape_and_viewing_geometry():
    f = np.linspace(0.5, 60, 600)
    A = csf_mannos_sakrison(f)
    assert abs(f[np.argmax(A)] - 8.0) < 0.2 and A.max() == pytest.approx(1.0, abs=1e-4)
    # hand-computed from the formula: A(30) / A(8)
    a = lambda x: 2.6 * (0.0192 + 0.114 * x) * np.exp(-(0.114 * x) ** 1.1)
    assert csf_mannos_sakrison(30.0) == pytest.approx(a(30) / a(8), rel=1e-12)
    assert pixels_per_degree(0.5, 0.25e-3) == pytest.approx(0.5 * np.tan(np.radians(1)) / 0.25e-3)


def test_grating_passes_with_the_csf_gain():
    """A sinusoidal grating of contrast 0.2 around Y = 0.5 is shown around L = b + (1 - b) 0.5
    with contrast 0.2 (1 - b) 0.5 / L (the display's black level b), and comes out with that
    contrast times A(f) (away from the image border, where the zero padding cuts it)."""
    ppd = 32.0
    n = 256
    x = np.arange(n)
    b = BLACK_LEVEL
    shown_mean = b + (1 - b) * 0.5
    shown_contrast = 0.2 * (1 - b) * 0.5 / shown_mean
    for cycles_per_px in (8 / 32, 1 / 2.5):
        Y = 0.5 * (1 + 0.2 * np.sin(2 * np.pi * cycles_per_px * x))[None, :].repeat(n, 0)
        Cf, mean = csf_filtered_contrast(Y, np.ones((n, n), bool), ppd)
        inner = Cf[64:192, 64:192]
        amp = (inner.max() - inner.min()) / 2
        assert mean == pytest.approx(shown_mean)
        assert amp == pytest.approx(shown_contrast * csf_mannos_sakrison(cycles_per_px * ppd),
                                    rel=0.05)


def test_display_luminance_by_hand():
    Y = np.array([[0.0, 0.5, 2.0]])
    assert display_luminance(Y, 0.01) == pytest.approx(np.array([[0.01, 0.505, 1.0]]))
    with pytest.raises(ValueError):
        display_luminance(Y, 1.0)


def test_a_near_black_image_shows_no_visible_defect():
    """The same scratches at 30 % contrast: visible on a mid-grey image, invisible when the
    whole image is 1e-4 of display white (what a lamp below the view's horizon gives), since
    the display shows both as its black level; contrast alone would call them equal."""
    rng = np.random.default_rng(0)
    mask = np.ones((64, 64), bool)
    truth = np.zeros((64, 64), bool)
    truth[20:24, 10:50] = truth[40:44, 10:50] = True
    base = 0.5 + rng.random((64, 64))
    base[truth] *= 1.3
    grey = perceived_metrics(0.3 * base, mask, truth)
    black = perceived_metrics(1e-4 * base, mask, truth)
    assert grey["perceived_visible_fraction"] == 1.0
    assert black["perceived_visible_fraction"] == 0.0
    assert black["perceived_contrast"] < 0.05 * grey["perceived_contrast"]


def test_dprime_standard_error_is_the_jackknife_over_seeds():
    """stderr = sqrt((n-1)/n sum (d_(-i) - mean)^2) with d_(-i) computed by hand from the
    renders without the i-th seed; None with 2 seeds."""
    rng = np.random.default_rng(5)
    h = w = 64
    mask = np.ones((h, w), bool)
    truth = np.zeros((h, w), bool)
    truth[28:36, 20:44] = True
    without = [0.4 + 0.02 * rng.standard_normal((h, w)) for _ in range(5)]
    withd = [o + 0.05 * truth + 0.01 * rng.standard_normal((h, w)) for o in without]
    r = detectability(withd, without, truth, mask)
    for key in ("npw", "cho"):
        d = np.array([detectability(withd[:i] + withd[i + 1:], without[:i] + without[i + 1:],
                                    truth, mask)[key]["overall"] for i in range(5)])
        assert r[key]["stderr"] == pytest.approx(np.sqrt(4 / 5 * np.sum((d - d.mean()) ** 2)))
        assert r[key]["stderr"] > 0
    assert detectability(withd[:2], without[:2], truth, mask)["npw"]["stderr"] is None


def test_fine_defect_fades_with_distance():
    """A 1-pixel line defect of 10 % contrast: perceived contrast drops from arm's length to
    3 m (it moves to frequencies the eye barely resolves); the raw contrast does not change."""
    h, w = 96, 96
    Y = np.full((h, w), 0.4)
    truth = np.zeros((h, w), bool)
    truth[48, 10:86] = True
    Y[truth] *= 0.9
    mask = np.ones((h, w), bool)
    near = perceived_metrics(Y, mask, truth, viewing_distance_m=0.3)
    far = perceived_metrics(Y, mask, truth, viewing_distance_m=3.0)
    assert 0 < far["perceived_contrast"] < 0.5 * near["perceived_contrast"]
    assert near["perceived_visible_fraction"] == 1.0


def test_noise_in_the_estimated_signal_is_not_detectability():
    """Renders 'with' that differ from 'without' only by independent noise (no defect
    signal at all): the split-half estimate keeps d' near 0, where s.s of the noisy mean
    difference would report a clearly detectable defect."""
    rng = np.random.default_rng(4)
    h, w, sigma, seeds = 96, 96, 0.05, 8
    truth = np.zeros((h, w), bool)
    truth[40:56, 40:56] = True
    without = [0.5 + sigma * rng.standard_normal((h, w)) for _ in range(seeds)]
    with_ = [0.5 + sigma * rng.standard_normal((h, w)) for _ in range(seeds)]
    r = detectability(with_, without, truth, np.ones((h, w), bool), channel_width=5.0,
                      display=False)
    s = np.mean(np.stack(with_) - np.stack(without), 0)[40:56, 40:56].ravel()
    corners = [(i, j) for i in (0, 16, 64, 80) for j in (0, 16, 64, 80)]
    background = np.stack([im[i:i + 16, j:j + 16].ravel() for im in without for i, j in corners])
    naive = npw_dprime(s, background)
    assert naive > 5.0  # about |s| / sigma = sqrt(256 sigma^2 / 4) / sigma = 8
    assert r["npw"]["overall"] < 2.5 and r["cho"]["overall"] < 2.5



def test_display_observer_cannot_see_into_black():
    """A defect of 1e-5 against a black, noiseless surface: the ideal linear observer finds
    it certain; on the display it is below one code value, so d' = 0. A visible defect keeps
    a d' bounded by the observer's internal noise."""
    h, w = 64, 64
    truth = np.zeros((h, w), bool)
    truth[30:34, 30:34] = True
    without = [np.full((h, w), 1e-6) for _ in range(4)]
    faint = [y + 1e-5 * truth for y in without]
    mask = np.ones((h, w), bool)
    assert detectability(faint, without, truth, mask, display=False)["npw"]["overall"] > 100
    assert detectability(faint, without, truth, mask)["npw"]["overall"] == 0.0
    grey = [np.full((h, w), 0.2) for _ in range(4)]
    bright = [y + 0.05 * truth for y in grey]
    d = detectability(bright, grey, truth, mask)
    from scratchlight.report.detectability import INTERNAL_NOISE, display_values

    step = display_values(np.full((1, 1), 0.25))[0, 0] - display_values(np.full((1, 1), 0.2))[0, 0]
    assert d["npw"]["overall"] == pytest.approx(step * 4 / INTERNAL_NOISE, rel=1e-6)  # |s|/sigma
