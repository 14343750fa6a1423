"""Issue 27, part 4: channel levels chosen from one image per channel (``scratchlight
channels``). The images are rendered through the transport matrix of the shared part
(conftest.py), one per channel of the built-in ring dome, and the levels chosen from them
(as float EXRs, and as noisy 8-bit photos) are judged through that same matrix against
the levels ``lamps.dome`` computes from it."""
import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from scratchlight.cli import main
from scratchlight.io.images import linear_to_srgb, srgb_to_linear, write_exr
from scratchlight.lamps.channels import ChannelProblem, footprint_gram, image_gram
from scratchlight.lamps.channels_defect import DefectContrastProblem
from scratchlight.lamps.channels_search import solve
from scratchlight.lamps.channels_io import load_stack, read_channel_layout
from scratchlight.lamps.dome import (BUILTIN_LAYOUTS, _value, channel_footprints,
                                     optimize_dome, read_layout)
from scratchlight.lamps.objective import LinearLight
from scratchlight.objectives import (LUMINANCE_WEIGHTS, defect_contrast_objective,
                                     scratch_objective)

SHAPE = (8, 16)  # the light's texels (the shared session: conftest.py)
LAM = 30.0


@pytest.fixture(scope="module")
def dome_scene(session):
    """The ring dome's 21 channel images (24 x 24 x 3) of the shared part by its transport
    matrix, their footprints, the object mask, and the levels ``optimize_dome`` finds (with
    this part and lam 30 four channels light, three of them between 0 and 1)."""
    light = LinearLight.from_engine(session.transport_engine(16, 0, SHAPE))
    channels = read_layout("ring-dome")
    feet = channel_footprints(channels, SHAPE)
    images = np.stack([light.image(f) for f in feet]).astype(np.float64)
    res = optimize_dome(channels, images, feet, session.mask, LAM, "env")
    return channels, feet, images, session.mask, res


def _station(folder, images, mask, kind, seed=0):
    """Write the channel images as a station's folder (``kind`` 'exr': linear float, no
    noise; 'png8': auto-exposed, shot and read noise, 8-bit sRGB) with its layout (the
    ring dome's geometry) and the mask; returns (layout, mask) paths."""
    rng = np.random.default_rng(seed)
    rows = list(csv.DictReader(BUILTIN_LAYOUTS["ring-dome"].splitlines()))
    folder.mkdir()
    with open(folder.parent / f"{folder.name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["channel", "file", "group", "exposure", "elevation_min", "elevation_max",
                    "azimuth_min", "azimuth_max"])
        for row, image in zip(rows, images):
            name = row["channel"]
            if kind == "exr":
                exposure, file = 1.0, f"{name}.exr"
                write_exr(folder / file, image)
            else:
                exposure, file = 0.9 / image.max(), f"{name}.png"
                J = image * exposure   # full well 10,000 electrons, read noise 0.1 %
                J = J + rng.standard_normal(J.shape) * np.sqrt(J / 1e4 + 1e-6)
                code = np.round(linear_to_srgb(np.clip(J, 0, 1)) * 255).astype(np.uint8)
                Image.fromarray(code).save(folder / file)
            w.writerow([name, file, name.split("-")[0], f"{exposure:.9g}", row["elevation_min"],
                        row["elevation_max"], row["azimuth_min"], row["azimuth_max"]])
    Image.fromarray(mask.astype(np.uint8) * 255).save(folder.parent / f"{folder.name}-mask.png")
    return str(folder.parent / f"{folder.name}.csv"), str(folder.parent / f"{folder.name}-mask.png")


@pytest.mark.slow
@pytest.mark.parametrize("kind, tolerance, correlation", [("exr", 1e-4, 0.999),
                                                          ("png8", 0.005, 0.95)])
def test_levels_from_the_images_match_the_levels_through_the_transport_matrix(
        dome_scene, tmp_path, capsys, kind, tolerance, correlation):
    """Float images give the dome's levels; 8-bit photos with noise give levels whose
    objective, judged through T, is within 0.5 % of the dome's (measured 0.001 % to 0.03 %
    over noise seeds 0-2, levels correlated 0.98 to 0.9996)."""
    channels, feet, images, mask, res = dome_scene
    layout, mask_png = _station(tmp_path / "station", images, mask, kind)
    out = tmp_path / "out"
    assert main(["channels", str(tmp_path / "station"), "--layout", layout, "--mask", mask_png,
                 "--envmap-size", "8x16", "--out", str(out), "--quiet"]) == 0
    run = json.loads((out / "run.json").read_text())
    x = np.array(run["levels"][0])
    judged = _value(x, images, feet, mask, LAM, "env", grad=False)[0].loss
    assert judged <= res.terms["loss"] * (1 + tolerance)
    assert np.corrcoef(x, res.levels)[0, 1] >= correlation
    assert run["l2_target"] == "env" and run["mask_pixels"] == int(mask.sum())
    if kind == "exr":  # the images' own objective is T's (float32 images)
        assert run["objective"]["loss"] == pytest.approx(judged, rel=1e-5)
    with open(out / "levels.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["channel"] for r in table] == [c.name for c in channels]
    assert np.allclose([float(r["level"]) for r in table], x, atol=1e-6)
    with open(out / "sequence.csv") as f:
        program = list(csv.reader(f))
    assert program[0] == ["shot"] + [c.name for c in channels] and len(program) == 2
    assert np.allclose([float(v) for v in program[1][1:]], x, atol=1e-6)
    for name in ("before.png", "after.png", "compare.png", "levels.png"):
        assert (out / name).stat().st_size > 0
    # replayed from its run.json: the same levels
    again = tmp_path / "again"
    assert main(["channels", "--config", str(out / "run.json"), "--out", str(again),
                 "--quiet"]) == 0
    assert json.loads((again / "run.json").read_text())["levels"] == run["levels"]


def test_the_solvers_reach_the_dome_search_on_the_same_images(dome_scene):
    channels, feet, images, mask, res = dome_scene
    stack = images @ LUMINANCE_WEIGHTS
    problem = ChannelProblem(stack, mask, lam=LAM, gram=footprint_gram(feet))
    mm = solve(problem, 1)
    assert mm.terms["loss"] <= res.terms["loss"] * (1 + 1e-9)
    assert np.abs(mm.levels[0] - res.levels).max() < 0.02
    adam = solve(problem, 1, solver="adam", iterations=300)
    assert adam.terms["loss"] <= res.terms["loss"] * (1 + 1e-3)
    assert mm.evaluations < adam.evaluations / 10
    assert mm.terms["loss"] <= min(mm.best_single[2], mm.best_uniform[1])


def _random_problem(grid=(1, 1), target="env", seed=3):
    rng = np.random.default_rng(seed)
    C, h, w = 5, 20, 30
    stack = rng.random((C, h, w))
    mask = np.zeros((h, w), bool)
    mask[2:19, 4:30] = True       # reaches the last column, which never counts
    feet = rng.random((C,) + SHAPE)
    inner = mask.copy()
    inner[-1, :] = inner[:, -1] = False
    gram = footprint_gram(feet) if target == "env" else image_gram(stack, inner)
    return ChannelProblem(stack, mask, lam=0.7, gram=gram, grid=grid), stack, inner, feet


@pytest.mark.parametrize("target", ["env", "image"])
def test_one_shot_is_the_papers_objective_of_the_weighted_sum(target):
    problem, stack, inner, feet = _random_problem(target=target)
    x = np.array([0.3, 0.0, 0.9, 0.5, 0.1])
    image = np.tensordot(x, stack, axes=1)
    F = np.tensordot(x, feet, axes=1)[..., None]
    ref = scratch_objective(image, F, inner, lam=0.7, l2_target=target)
    assert problem.loss(x[None]) == pytest.approx(ref.loss, rel=1e-12)
    # regions do not change one shot's value
    assert _random_problem((3, 4), target)[0].loss(x[None]) == pytest.approx(ref.loss, rel=1e-12)


@pytest.mark.parametrize("shots, grid", [(1, (1, 1)), (3, (3, 2))])
def test_gradient_matches_finite_differences(shots, grid):
    problem = _random_problem(grid)[0]
    X = np.random.default_rng(5).uniform(0.1, 0.9, (shots, problem.channels))
    _, grad = problem.value_and_grad(X)
    fd = np.zeros_like(X)
    h = 1e-7
    for s in range(shots):
        for c in range(problem.channels):
            d = np.zeros_like(X)
            d[s, c] = h
            fd[s, c] = (problem.loss(X + d) - problem.loss(X - d)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8 * np.abs(fd).max())


def test_the_defect_aimed_objective_is_the_objectives_and_its_gradient_is_exact(tmp_path):
    problem, stack, inner, feet = _random_problem()
    prior = np.zeros(inner.shape, bool)
    prior[5:12, 8:20] = True
    dc = DefectContrastProblem(stack, problem.mask, lam=0.7, gram=problem.Q, prior=prior)
    x = np.array([0.3, 0.0, 0.9, 0.5, 0.1])
    ref = defect_contrast_objective(np.tensordot(x, stack, axes=1),
                                    np.tensordot(x, feet, axes=1)[..., None], inner, prior,
                                    lam=0.7)
    assert dc.loss(x[None]) == pytest.approx(ref.loss, rel=1e-12)
    _, grad = dc.value_and_grad(x[None])
    fd = [(dc.loss(x[None] + d) - dc.loss(x[None] - d)) / 2e-7 for d in np.eye(5)[:, None] * 1e-7]
    np.testing.assert_allclose(grad[0], fd, rtol=1e-6, atol=1e-8 * np.abs(fd).max())
    res = solve(dc, 1)
    assert res.terms["loss"] <= min(res.best_single[2], res.best_uniform[1])
    assert solve(dc, 1, solver="adam", iterations=300).terms["loss"] >= res.terms["loss"] * (1 - 1e-6)
    # the command: --objective defect-contrast needs --prior, then chooses one shot
    station = tmp_path / "s"
    station.mkdir()
    for k, image in enumerate(stack):
        Image.fromarray(np.round(image * 200).astype(np.uint8)).save(station / f"c{k}.png")
    (tmp_path / "l.csv").write_text("channel,file\n" + "".join(f"c{k},c{k}.png\n" for k in range(5)))
    Image.fromarray(prior.astype(np.uint8) * 255).save(tmp_path / "prior.png")
    args = ["channels", str(station), "--layout", str(tmp_path / "l.csv"), "--quiet",
            "--objective", "defect-contrast", "--lam", "0.01", "--out", str(tmp_path / "out")]
    assert main(args) == 2 and not (tmp_path / "out").exists()
    assert main(args + ["--prior", str(tmp_path / "prior.png")]) == 0
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["config"]["objective"] == "defect-contrast" and len(run["levels"]) == 1


@pytest.mark.parametrize("cap", [2.5, 1.3])
def test_a_drive_budget_is_kept_and_its_optimum_reached(cap):
    """Levels summing to at most ``cap``: the search reaches the best of SciPy's SLSQP (an
    independent constrained solver) from 12 random feasible starts."""
    from scipy.optimize import minimize

    from scratchlight.lamps.channels_search import project

    rng = np.random.default_rng(3)
    C = 6
    stack = rng.random((C, 24, 30)) * rng.uniform(0.5, 3, C)[:, None, None]
    problem = ChannelProblem(stack, np.ones((24, 30), bool), lam=0.003,
                             gram=footprint_gram(rng.random((C,) + SHAPE)), max_total=cap)
    res = solve(problem, 1)
    assert res.levels.sum() <= cap + 1e-9 and res.levels.min() >= 0
    f = lambda x: problem.value_and_grad(x[None])[0]
    jac = lambda x: problem.value_and_grad(x[None])[1][0]
    budget = {"type": "ineq", "fun": lambda x: cap - x.sum(), "jac": lambda x: -np.ones(C)}
    best = min(minimize(f, project(rng.random((1, C)), cap)[0], jac=jac, method="SLSQP",
                        bounds=[(0, 1)] * C, constraints=[budget],
                        options={"maxiter": 500, "ftol": 1e-14}).fun for _ in range(12))
    assert res.terms["loss"] <= best * (1 + 1e-6)
    assert solve(problem, 1, solver="adam", iterations=50).levels.sum() <= cap + 1e-9


def test_a_second_shot_separates_channels_whose_contrasts_cancel():
    """Channel 0 shows texture f on the left and -g/2 on the right, channel 1 g on the
    right and -f/2 on the left: in one shot the two cancel, two shots show both fully."""
    rng = np.random.default_rng(1)
    h, w = 40, 60
    f, g = rng.random((h, w)), rng.random((h, w))
    left = np.zeros((h, w))
    left[:, :30] = 1
    P = np.stack([2 + f * left - 0.5 * g * (1 - left), 2 + g * (1 - left) - 0.5 * f * left,
                  np.full((h, w), 2.0)])
    problem = ChannelProblem(P, np.ones((h, w), bool), lam=0.05, gram=np.eye(3), grid=(1, 2))
    one, two = solve(problem, 1), solve(problem, 2)
    assert np.count_nonzero(one.levels[0] > 1e-6) == 1
    assert sorted(np.argmax(two.levels, axis=1)) == [0, 1]
    assert np.count_nonzero(two.levels > 1e-6) == 2
    assert two.terms["loss"] < 0.85 * one.terms["loss"]
    adam = solve(problem, 2, solver="adam", iterations=200)
    assert adam.terms["loss"] == pytest.approx(two.terms["loss"], rel=1e-6)


def test_photos_are_decoded_to_linear_luminance_with_dark_frame_and_exposures(tmp_path):
    import tifffile

    rng = np.random.default_rng(2)
    codes = rng.integers(0, 200, (2, 6, 7, 3), dtype=np.uint8)
    Image.fromarray(codes[0]).save(tmp_path / "a.png")
    Image.fromarray(codes[1]).save(tmp_path / "b.png")
    dark = np.full((6, 7), 10, np.uint8)
    Image.fromarray(dark).save(tmp_path / "dark.png")
    (tmp_path / "layout.csv").write_text("channel,file,exposure\nA,a.png,1\nB,b.png,4\n")
    photos = read_channel_layout(str(tmp_path / "layout.csv"), str(tmp_path),
                                 ignore=(str(tmp_path / "dark.png"),))
    got = load_stack(photos, dark=str(tmp_path / "dark.png"), exposure=0.5).stack
    lin = srgb_to_linear(codes / 255.0) @ np.array([0.2126, 0.7152, 0.0722])
    want = (lin - srgb_to_linear(10 / 255.0)) / (0.5 * np.array([1.0, 4.0])[:, None, None])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # 16-bit TIFF, linear
    t16 = rng.integers(0, 65535, (5, 4), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "c.tif", t16)
    (tmp_path / "l2.csv").write_text("channel,file\nC,c.tif\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    os.replace(tmp_path / "c.tif", sub / "c.tif")
    stack = load_stack(read_channel_layout(str(tmp_path / "l2.csv"), str(sub)), curve="linear").stack
    np.testing.assert_allclose(stack[0], t16 / 65535.0, rtol=1e-6)
    # 16-bit PNG (gray), sRGB
    Image.fromarray(t16.astype(np.int32), mode="I").convert("I;16").save(sub / "d.png")
    (tmp_path / "l3.csv").write_text("channel,file\nC,c.tif\nD,d.png\n")
    stack = load_stack(read_channel_layout(str(tmp_path / "l3.csv"), str(sub))).stack
    np.testing.assert_allclose(stack[1], srgb_to_linear(t16 / 65535.0), rtol=1e-5, atol=1e-7)


def _write(folder, name, shape=(6, 7), value=80):
    Image.fromarray(np.full(shape, value, np.uint8)).save(folder / name)


def test_a_clipped_photo_warns_in_one_line(tmp_path, capsys):
    station = tmp_path / "s"
    station.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 200, (20, 20), dtype=np.uint8)).save(station / "a.png")
    b = rng.integers(0, 256, (20, 20)).astype(np.uint8)
    b[:5] = 255
    Image.fromarray(b).save(station / "b.png")
    (tmp_path / "l.csv").write_text("channel,file\nA,a.png\nB,b.png\n")
    assert main(["channels", str(station), "--layout", str(tmp_path / "l.csv"), "--out",
                 str(tmp_path / "out"), "--quiet"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(err) == 1 and "b.png" in err[0] and "clipped" in err[0]


@pytest.mark.parametrize("case, needle", [
    ("missing", "no such image"), ("extra", "does not name: stray.png"),
    ("size", "every channel image must have one size"), ("twice", "channel names must be unique"),
    ("column", "unknown column"), ("env", "--l2-target: env needs"),
    ("mask", "mask of 5 x 5 pixels"), ("exposure", "exposure: must be a positive number"),
    ("regions", "--regions"), ("flat", "show no gradient within the mask"),
])
def test_bad_inputs_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, case, needle):
    station = tmp_path / "s"
    station.mkdir()
    _write(station, "a.png")
    _write(station, "b.png", (6, 8) if case == "size" else (6, 7))
    rows = ["channel,file" + (",color" if case == "column" else ""),
            "A,a.png" + (",red" if case == "column" else ""),
            ("A" if case == "twice" else "B") + ",b.png" + (",red" if case == "column" else "")]
    if case == "missing":
        rows.append("C,c.png")
    if case == "exposure":
        rows = ["channel,file,exposure", "A,a.png,1", "B,b.png,-1"]
    if case == "extra":
        _write(station, "stray.png")
    (tmp_path / "l.csv").write_text("\n".join(rows) + "\n")
    args = ["channels", str(station), "--layout", str(tmp_path / "l.csv"), "--out",
            str(tmp_path / "out"), "--quiet"]
    if case == "env":
        args += ["--l2-target", "env"]
    if case == "mask":
        _write(tmp_path, "m.png", (5, 5), 255)
        args += ["--mask", str(tmp_path / "m.png")]
    if case == "regions":
        args += ["--regions", "0x3"]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("scratchlight: error:"), err
    assert needle in err[0]
    assert not (tmp_path / "out").exists()

