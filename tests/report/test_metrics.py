"""Visibility metrics on constructed images with known answers, and scratchlight evaluate."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scratchlight.cli import main
from scratchlight.io import write_npz, write_png
from scratchlight.objectives import scratch_objective
from scratchlight.report.metrics import (METRIC_NAMES, black_fraction, clipped_fraction,
                                         contrast_to_noise, defect_auc, defect_cnr,
                                         detected_fraction, local_contrast, mean_gradient,
                                         metrics_over_seeds, rms_contrast, roc_auc,
                                         visibility_metrics, weber_contrasts)
from scratchlight.surface import synthesize


def gray(Y):
    """A gray RGB image whose luminance is Y (the Rec. 709 weights sum to 1)."""
    return np.repeat(np.asarray(Y, np.float64)[..., None], 3, axis=2)


def surface_mask(h=40, w=40):
    m = np.ones((h, w), bool)
    m[-1, :] = m[:, -1] = False
    return m


# --- ROC AUC --------------------------------------------------------------------------

def test_roc_auc_known_values():
    pos = np.array([1, 1, 1, 0, 0], bool)
    assert roc_auc([5, 6, 7, 1, 2], pos) == 1.0
    assert roc_auc([1, 2, 3, 6, 7], pos) == 0.0
    assert roc_auc([3, 3, 3, 3, 3], pos) == 0.5
    # pairs (pos, neg): (1,2) 0, (1,0) 1, (2,2) 1/2, (2,0) 1, (3,2) 1, (3,0) 1 -> 4.5 / 6
    assert roc_auc([1, 2, 3, 2, 0], pos) == pytest.approx(0.75)
    assert math.isnan(roc_auc([1, 2], np.array([True, True])))


def test_average_ranks_are_scipys_and_the_auc_mann_whitneys():
    """The ranks against SciPy's rankdata (ties averaged) on tie-heavy and continuous data,
    and the AUC against SciPy's Mann-Whitney U / (n1 n0)."""
    from scipy import stats

    from scratchlight.report.metrics import average_ranks

    rng = np.random.default_rng(3)
    for x in (rng.integers(0, 5, 200), rng.normal(size=300), np.zeros(7), np.arange(5.0)[::-1]):
        np.testing.assert_array_equal(average_ranks(x), stats.rankdata(x))
    scores = np.round(rng.normal(size=500), 1)         # many ties
    pos = rng.random(500) < 0.3
    u = stats.mannwhitneyu(scores[pos], scores[~pos]).statistic
    assert roc_auc(scores, pos) == pytest.approx(u / (pos.sum() * (~pos).sum()), abs=1e-12)


def test_defect_auc_separated_and_flat_images():
    m = surface_mask()
    truth = np.zeros_like(m)
    truth[10:20, 10:16] = True
    Y = np.full(m.shape, 0.5)
    assert defect_auc(gray(Y), truth, m) == 0.5           # noise-free, identical: chance
    Y[10:20, 10:16] = np.indices((10, 6)).sum(0) % 2 * 0.4 + 0.3   # a checkerboard defect
    assert defect_auc(gray(Y), truth, m, sigma=0, guard=1) == 1.0
    assert defect_auc(gray(Y), truth, m, sigma=1.0, guard=4) == 1.0


# --- contrast-to-noise --------------------------------------------------------------

def test_contrast_to_noise_hand_computed():
    v = np.array([5.0, 7.0, 1.0, 2.0, 3.0, 4.0])
    pos = np.array([1, 1, 0, 0, 0, 0], bool)
    # (6 - 2.5) / sqrt(1.25)
    assert contrast_to_noise(v, pos, ~pos) == pytest.approx(3.5 / math.sqrt(1.25))
    assert math.isnan(contrast_to_noise(np.ones(6), pos, ~pos))
    assert contrast_to_noise(np.r_[2.0, 2, 1, 1, 1, 1], pos, ~pos) == math.inf


def test_local_contrast_ignores_pixels_outside_the_mask():
    rng = np.random.default_rng(0)
    Y = rng.uniform(0.2, 0.8, (30, 30))
    m = np.zeros((30, 30), bool)
    m[5:25, 5:25] = True
    other = Y.copy()
    other[~m] = 100.0
    np.testing.assert_allclose(local_contrast(Y, m)[m], local_contrast(other, m)[m], rtol=1e-12)
    np.testing.assert_allclose(local_contrast(np.full((30, 30), 0.3), m)[m], 0.0, atol=1e-15)


def test_defect_cnr_is_exposure_invariant_and_grows_with_contrast():
    rng = np.random.default_rng(1)
    m = surface_mask()
    truth = np.zeros_like(m)
    truth[:, 18:21] = True
    Y = 0.5 + 0.01 * rng.standard_normal(m.shape)
    weak, strong = Y.copy(), Y.copy()
    weak[truth] += 0.02
    strong[truth] += 0.2
    c_weak, c_strong = defect_cnr(weak, truth, m), defect_cnr(strong, truth, m)
    assert c_strong > c_weak > 0
    assert defect_cnr(3.0 * strong, truth, m) == pytest.approx(c_strong, rel=1e-9)


# --- Weber contrast -----------------------------------------------------------------

def test_weber_contrast_and_detected_fraction():
    m = surface_mask()
    truth = np.zeros_like(m)
    Y = np.full(m.shape, 0.5)
    truth[5:10, 5:10] = True                    # Weber 0.2: seen
    Y[5:10, 5:10] = 0.6
    truth[25:30, 25:30] = True                  # Weber 0.01: below 2 %
    Y[25:30, 25:30] = 0.505
    truth[20, 5:7] = True                       # 2 pixels: too small to count
    w = weber_contrasts(gray(Y), truth, m)
    np.testing.assert_allclose(w, [0.2, 0.01], rtol=1e-9)
    assert detected_fraction(gray(Y), truth, m) == 0.5
    assert detected_fraction(gray(Y), truth, m, threshold=0.005) == 1.0
    assert math.isnan(detected_fraction(gray(Y), np.zeros_like(m), m))


def test_weber_contrast_without_background_ring():
    m = np.zeros((20, 20), bool)
    m[5:10, 5:10] = True
    w = weber_contrasts(np.full((20, 20), 0.5), m, m)
    assert w.shape == (1,) and math.isnan(w[0])
    assert detected_fraction(np.full((20, 20), 0.5), m, m) == 0.0


# --- metrics without ground truth ---------------------------------------------------

def test_mean_gradient_matches_objective_and_hand_value():
    m = surface_mask()
    ramp = gray(np.tile(np.arange(40) * 0.01, (40, 1)))
    assert mean_gradient(ramp, m) == pytest.approx(0.01)
    rng = np.random.default_rng(2)
    img = rng.uniform(0, 1, (40, 40, 3))
    E = np.full((4, 8, 1), 0.5)
    assert mean_gradient(img, m) == pytest.approx(scratch_objective(img, E, m).mean_gradient)


def test_clipped_and_black_fractions_exact():
    m = np.ones((10, 10), bool)
    img = np.full((10, 10, 3), 0.5)
    img[0, :5] = 1.0                 # 5 pixels clipped in every channel
    img[1, 0, 0] = 1.3               # one more clipped in red only
    img[1, 1] = 0.999                # not clipped
    img[9, :3] = 0.0                 # 3 black pixels
    img[8, 0] = 2e-3                 # not black
    assert clipped_fraction(img, m) == 0.06
    assert black_fraction(img, m) == 0.03
    m[0, :] = False                  # only the mask counts
    assert clipped_fraction(img, m) == pytest.approx(1 / 90)


def test_rms_contrast_flat_and_exposure_invariant():
    m = surface_mask()
    assert rms_contrast(gray(np.full(m.shape, 0.4)), m) == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(3)
    Y = rng.uniform(0.1, 0.9, m.shape)
    assert rms_contrast(2 * Y, m) == pytest.approx(rms_contrast(Y, m), rel=1e-9)
    assert rms_contrast(Y, m) > 0.1


# --- aggregation ---------------------------------------------------------------------

def test_visibility_metrics_names_and_mask_check():
    m = surface_mask()
    img = gray(np.full(m.shape, 0.5))
    truth = np.zeros_like(m)
    truth[3:9, 3:9] = True
    assert set(visibility_metrics(img, m, truth)) == set(METRIC_NAMES)
    assert "auc" not in visibility_metrics(img, m)
    with pytest.raises(ValueError, match="mask"):
        visibility_metrics(img, m[:-1])


def test_metrics_over_seeds_mean_and_standard_error():
    m = np.ones((10, 10), bool)
    a, b = np.full((10, 10, 3), 0.5), np.full((10, 10, 3), 0.5)
    a[0, :1] = 1.0                   # clipped 0.01
    b[0, :3] = 1.0                   # clipped 0.03
    out = metrics_over_seeds([a, b], m)
    assert out["clipped_fraction"]["values"] == [0.01, 0.03]
    assert out["clipped_fraction"]["mean"] == pytest.approx(0.02)
    assert out["clipped_fraction"]["stderr"] == pytest.approx(0.01)   # std 0.01414 / sqrt 2
    assert math.isnan(metrics_over_seeds([a], m)["black_fraction"]["stderr"])


# --- scratchlight evaluate -----------------------------------------------------------

@pytest.mark.slow
def test_cli_evaluate_with_file_truth_and_png_truth(tmp_path, capsys):
    hm = synthesize("face-mill", size=64, seed=0, scratches=2, scratch_width=60e-6)
    write_npz(str(tmp_path / "s.npz"), hm)
    write_npz(str(tmp_path / "plain.npz"), hm.replace(truth=None))
    write_png(str(tmp_path / "truth.png"), hm.truth)
    common = ["--constant", "0.5", "--resolution", "24", "--spp", "4", "--seeds", "2",
              "--camera", "top"]
    assert main(["evaluate", str(tmp_path / "s.npz"), *common,
                 "--out", str(tmp_path / "a.json")]) == 0
    a = json.loads((tmp_path / "a.json").read_text())
    assert a["truth"] == "heightmap file" and a["seeds"] == [0, 1] and a["defect_pixels"] > 0
    assert set(a["metrics"]) == set(METRIC_NAMES)
    for v in a["metrics"].values():
        assert len(v["values"]) == 2 and set(v) == {"mean", "stderr", "values"}
    assert main(["evaluate", str(tmp_path / "plain.npz"), *common, "--truth",
                 str(tmp_path / "truth.png"), "--out", str(tmp_path / "b.json")]) == 0
    b = json.loads((tmp_path / "b.json").read_text())
    assert b["defect_pixels"] == a["defect_pixels"]
    assert b["metrics"]["auc"]["values"] == a["metrics"]["auc"]["values"]
    # no truth: only the truth-free metrics; asking for the file's truth is an error
    assert main(["evaluate", str(tmp_path / "plain.npz"), *common, "--out",
                 str(tmp_path / "c.json")]) == 0
    assert "auc" not in json.loads((tmp_path / "c.json").read_text())["metrics"]
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "plain.npz"), *common, "--truth-from-file",
                 "--out", str(tmp_path / "d.json")]) == 2
    write_png(str(tmp_path / "small.png"), hm.truth[:32])
    assert main(["evaluate", str(tmp_path / "plain.npz"), *common, "--truth",
                 str(tmp_path / "small.png"), "--out", str(tmp_path / "d.json")]) == 2
    assert main(["evaluate", str(tmp_path / "s.npz"), *common, "--seeds", "0",
                 "--out", str(tmp_path / "d.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "truth" in err[0] and "small.png" in err[1] and "--seeds" in err[2]
    assert not (tmp_path / "d.json").exists()


@pytest.mark.slow
def test_cli_evaluate_twin_gives_detectability_that_follows_the_light(tmp_path):
    """synth --twin writes the defect-free surface; evaluate --twin measures d': about 0
    under uniform light (scratches invisible), large under a raking light from the side the
    scratch flanks face, and the perceived contrast agrees."""
    import numpy as np

    from scratchlight.io import write_exr

    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["synth", "--kind", "face-mill", "--size", "64", "--scratches", "3",
                 "--scratch-width", "40", "--out", str(a), "--twin", str(b)]) == 0
    E = np.zeros((25, 50, 3), np.float32)
    E[7, 0] = 1.0                     # one texel 38 degrees up
    write_exr(str(tmp_path / "raking.exr"), E)
    common = ["--twin", str(b), "--resolution", "64", "--spp", "16", "--seeds", "4",
              "--window", "8"]
    d = {}
    for name, light in (("uniform", ["--constant", "0.5"]),
                        ("raking", ["--envmap", str(tmp_path / "raking.exr")])):
        out = tmp_path / f"{name}.json"
        assert main(["evaluate", str(a), *light, *common, "--out", str(out)]) == 0
        d[name] = json.loads(out.read_text())
    for key in ("npw", "cho"):
        assert d["uniform"]["detectability"][key]["overall"] < 3
        assert d["raking"]["detectability"][key]["overall"] > 10
        # the jackknife standard error over the 4 seeds, like every other metric's
        assert 0 < d["raking"]["detectability"][key]["stderr"] < d["raking"]["detectability"][key]["overall"]
    assert (d["raking"]["perceived"]["perceived_contrast"]["mean"]
            > 10 * d["uniform"]["perceived"]["perceived_contrast"]["mean"])
    assert d["raking"]["config"]["twin"] == str(b)
    # a twin of another grid is refused, naming it
    c = tmp_path / "c.npz"
    assert main(["synth", "--kind", "face-mill", "--size", "48", "--out", str(c)]) == 0
    assert main(["evaluate", str(a), "--constant", "0.5", "--twin", str(c), "--resolution", "32",
                 "--spp", "4", "--seeds", "2", "--out", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()
