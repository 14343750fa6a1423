"""The simulated cut against geometry worked out by hand: scallop heights, a slot's depth
and width, tooth-mark spacing and runout, an arc in the ZX plane, and ramps of every tool
against a brute-force envelope of densely sampled positions."""
from __future__ import annotations

import math

import numpy as np
import pytest

from scratchlight.errors import InputError
from scratchlight.mill.motion import run_program
from scratchlight.mill.simulate import Stock, grid_window, simulate
from scratchlight.mill.tools import parse_tool

MM, UM = 1e-3, 1e-6


def _sim(program, tool, stock, spacing, envelope=False, region=None):
    """(heights (ny, nx), x (nx,), y (ny,)) of a program; stock (x0, x1, y0, y1, top) mm."""
    st = Stock(*(v * MM for v in stock))
    win = grid_window(st, spacing, None if region is None else tuple(v * MM for v in region))
    res = simulate(run_program(program), st, win, parse_tool(tool), envelope=envelope,
                   progress=False)
    x, y = win.axes()
    return res.heightmap.heights, x, y


def _raster(rows, x0, x1, z, feed=600, speed=6000):
    lines = [f"S{speed} M3", f"G0 X{x0} Y{rows[0]} Z1", f"G1 Z{z} F{feed}"]
    for k, y in enumerate(rows):
        if k:
            lines.append(f"G1 Y{y}")
        lines.append(f"G1 X{x1 if k % 2 == 0 else x0}")
    return "\n".join(lines)


def test_ball_raster_scallop_height():
    R, ae, h = 3 * MM, 0.2 * MM, 5 * UM
    rows = [0, 0.2, 0.4, 0.6]
    # grid points on multiples of h in y (cell centres: the stock starts half a cell lower)
    z, _, y = _sim(_raster(rows, -4, 4, -0.05), "ball:d=6mm", (0, 0.1, -0.0025, 0.6025, 0), h,
                   envelope=True)
    col = z[:, 10]
    between = (y > 0.2 * MM - 1e-9) & (y < 0.4 * MM + 1e-9)
    scallop = R - math.sqrt(R * R - (ae / 2) ** 2)
    assert col[between].max() - col[between].min() == pytest.approx(scallop, abs=1e-12)
    assert y[between][np.argmax(col[between])] == pytest.approx(0.3 * MM, abs=1e-9)
    assert col[between].min() == pytest.approx(-0.05 * MM, abs=1e-15)


def test_flat_slot_depth_and_width():
    h = 10 * UM
    z, x, y = _sim("G0 X-3 Y0.5 Z1\nG1 Z-0.1 F300\nG1 X1", "flat:d=2mm", (-1, 3, -1, 2, 0), h,
                   envelope=True)
    X, Y = np.meshgrid(x, y)
    # the slot: within 1 mm of the tool centre's path (x <= 1 mm), the tool's depth
    d_path = np.where(X <= 1 * MM, np.abs(Y - 0.5 * MM), np.hypot(X - 1 * MM, Y - 0.5 * MM))
    inside = d_path <= 1 * MM - 1e-12
    np.testing.assert_array_equal(z[inside], -0.1 * MM)
    np.testing.assert_array_equal(z[~inside], 0.0)
    width = inside[:, np.searchsorted(x, 0.0)].sum() * h
    assert width == pytest.approx(2 * MM, abs=h)


def _centre_profile(runout_um, teeth=2, envelope=False):
    # one pass along x through y = 0; feed per tooth 600 / (6000 * 2) = 50 um
    tool = f"ball:d=6mm,teeth={teeth},runout={runout_um}um"
    z, x, _ = _sim("S6000 M3\nG0 X-4 Y0 Z1\nG1 Z-0.05 F600\nG1 X5", tool,
                   (-0.0005, 0.9995, -0.0015, 0.0015, 0), 1 * UM, envelope=envelope)
    return z[1], x


def test_tooth_mark_spacing_is_the_feed_per_tooth():
    fz, R = 50 * UM, 3 * MM
    p, x = _centre_profile(0)
    spectrum = np.abs(np.fft.rfft(p - p.mean()))
    freq = np.fft.rfftfreq(len(p), d=1 * UM)
    assert 1 / freq[np.argmax(spectrum)] == pytest.approx(fz, rel=1e-9)
    # each mark is the ball's arc: feed scallops R - sqrt(R^2 - fz^2 / 4) high
    assert p.max() - p.min() == pytest.approx(R - math.sqrt(R * R - fz * fz / 4), abs=1e-10)
    # marks sit where the teeth passed: x = -4 mm + k fz
    lows = x[np.argsort(p)[:20]]
    dist = np.abs((lows + 4 * MM) / fz - np.round((lows + 4 * MM) / fz)) * fz
    assert dist.max() <= 0.5 * UM + 1e-12
    # the envelope alone is flat along the pass
    env, _ = _centre_profile(0, envelope=True)
    assert np.ptp(env) < 1e-12 and np.all(env <= p + 1e-15)


def test_runout_makes_every_second_mark_differ():
    fz = 50 * UM
    p, _ = _centre_profile(0.5, teeth=2)
    lag = int(round(fz / UM))
    assert np.allclose(p[:-2 * lag], p[2 * lag:], atol=1e-13)         # period 2 fz
    assert np.abs(p[:-lag] - p[lag:]).max() > 0.1 * UM                 # not fz
    spectrum = np.abs(np.fft.rfft(p - p.mean()))
    freq = np.fft.rfftfreq(len(p), d=1 * UM)
    assert 1 / freq[np.argmax(spectrum)] == pytest.approx(2 * fz, rel=1e-9)


def test_tooth_passes_continue_across_moves():
    one = "S6000 M3\nG0 X-4 Y0 Z1\nG1 Z-0.05 F600\nG1 X2"
    split = "S6000 M3\nG0 X-4 Y0 Z1\nG1 Z-0.05 F600\nG1 X-1.2345\nG1 X0.3333\nG1 X2"
    stock = (0, 0.5, -0.1, 0.1, 0)
    a, _, _ = _sim(one, "ball:d=6mm", stock, 2 * UM)
    b, _, _ = _sim(split, "ball:d=6mm", stock, 2 * UM)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)


def test_region_is_a_window_of_the_whole():
    prog = _raster([0, 0.3, 0.6], -4, 4, -0.05)
    stock = (0, 1, 0, 1, 0)
    whole, _, _ = _sim(prog, "ball:d=6mm", stock, 10 * UM)
    part, _, _ = _sim(prog, "ball:d=6mm", stock, 10 * UM, region=(0.2, 0.5, 0.1, 0.7))
    np.testing.assert_array_equal(part, whole[10:70, 20:50])


def test_arc_in_the_zx_plane_leaves_its_offset_circle():
    # the tip follows a circle of radius 2 mm about (x 0, z 1.9 mm) through its bottom
    # (z = -0.1 mm); a 1 mm ball leaves the circle of radius 3 mm about (0, 2.9 mm)
    zs = 1.9 - math.sqrt(3)
    prog = f"G0 X-1 Y0 Z{zs:.12f}\nG18 G2 X1 Z{zs:.12f} I1 K{math.sqrt(3):.12f} F100"
    z, x, _ = _sim(prog, "ball:d=2mm", (-1.2, 1.2, -0.0075, 0.0075, 0), 5 * UM, envelope=True)
    expected = 2.9 * MM - np.sqrt((3 * MM) ** 2 - x ** 2)
    deep = expected < -1 * UM
    assert deep.sum() > 100
    np.testing.assert_allclose(z[1][deep], expected[deep], rtol=0, atol=0.1 * UM)


def _brute_envelope(tool, a, b, x, y, n=40_001):
    """min over n positions from a to b (metres) of tip z + profile, on the grid x, y."""
    X, Y = np.meshgrid(x, y)
    best = np.full(X.shape, np.inf)
    for t in np.array_split(np.linspace(0, 1, n), min(n, 200)):
        c = a[None, :] + t[:, None] * (b - a)[None, :]
        rho = np.hypot(X[None] - c[:, 0, None, None], Y[None] - c[:, 1, None, None])
        best = np.minimum(best, (c[:, 2, None, None] + tool.profile(rho)).min(axis=0))
    return best


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["ball:d=0.4mm", "bull:d=0.4mm,r=0.1mm", "flat:d=0.4mm",
                                  "v:angle=90deg,d=0.4mm", "v:angle=20deg,d=0.4mm",
                                  "v:angle=170deg,d=0.4mm"])
def test_ramp_envelope_matches_brute_force(spec):
    """A rising ramp (slope 0.16) in closed form (ball, flat, V: 90 and 20 deg flanks
    steeper than the ramp, 170 deg flatter) or by golden section (bull) against the
    minimum over 40,001 positions (which overestimates it by at most a few nm: step 9.5
    nm times the steepest slope)."""
    tool = parse_tool(spec)
    a = np.array([-0.1037, 0.0513, -0.06]) * MM   # no grid point exactly R away
    b = np.array([0.25, 0.2, -0.005]) * MM
    h = 20 * UM
    z, x, y = _sim(f"G0 X{a[0] / MM} Y{a[1] / MM} Z1\nG1 Z{a[2] / MM} F100\n"
                   f"G1 X{b[0] / MM} Y{b[1] / MM} Z{b[2] / MM}", spec,
                   (-0.35, 0.45, -0.2, 0.45, 0), h, envelope=True)
    ref = np.minimum(_brute_envelope(tool, a, b, x, y), 0.0)
    # the plunge from Z1 to the start is part of the path too
    ref = np.minimum(ref, _brute_envelope(tool, np.array([a[0], a[1], 1 * MM]), a, x, y, 11))
    # points the tool's rim only grazes (within 1 um of the radius from the path) are cut
    # at a single position, which sampling misses: left out
    X, Y = np.meshgrid(x, y)
    d = b[:2] - a[:2]
    t = np.clip(((X - a[0]) * d[0] + (Y - a[1]) * d[1]) / (d @ d), 0, 1)
    graze = np.abs(np.hypot(X - a[0] - t * d[0], Y - a[1] - t * d[1]) - tool.radius) < 1 * UM
    cut = (ref < 0) & ~graze
    assert cut.sum() >= 10            # the 20 deg V cuts a narrow groove
    diff = ref[cut] - z[cut]                  # sampling only overestimates the minimum
    assert diff.min() >= -1e-11 and diff.max() <= 0.04 * UM


def test_grids_over_the_point_limit_are_refused(monkeypatch):
    monkeypatch.setenv("SCRATCHLIGHT_MAX_POINTS", "10000")
    with pytest.raises(InputError, match=r"spacing: the simulation grid of 1000 x 1000"):
        grid_window(Stock(0, 1 * MM, 0, 1 * MM, 0), 1 * UM)


def test_face_mill_passes_are_synth_face_mill_model():
    """A face mill (tilted spindle: its leading half's ring of insert corners cuts) fed
    along x leaves exactly the surface of synth's face-mill model, runout included (ours
    puts the lowest tooth at the programmed tip, synth centres the runout: runout / 2)."""
    from scratchlight.surface.synthetic.kinematics import face_mill_marks

    n, h = 120, 2 * UM
    R, r, teeth, fz, runout = 5 * MM, 0.8 * MM, 4, 120 * UM, 0.5 * UM
    ref = face_mill_marks((n, n), h, fz, tool_radius=r, cutter_radius=R, teeth=teeth,
                          runout=runout)
    ly = (n - 1) * h
    yc = ly / 2 - min(0.3 * R, 0.95 * R - ly / 2)          # synth's centre line
    # start a whole number of tooth rounds before x = 0, with the tool clear of the map
    xs = -math.ceil((R + r + 1 * MM) / (teeth * fz)) * teeth * fz
    prog = (f"S1000 M3\nG0 X{xs / MM:.9f} Y{yc / MM:.9f} Z1\n"
            f"G1 Z-0.1 F{fz / MM * 1000 * teeth:.6f}\nG1 X{(n * h + R + r) / MM + 1:.6f}")
    tool = f"face:d={2 * (R + r) / MM:g}mm,r={r / MM:g}mm,teeth={teeth},runout={runout / UM:g}um"
    z, _, _ = _sim(prog, tool, (-h / 2 / MM, (n - 0.5) * h / MM, -h / 2 / MM,
                                (n - 0.5) * h / MM, 0), h)
    assert np.ptp(ref) > 1 * UM
    np.testing.assert_allclose(z - (-0.1 * MM) - runout / 2, ref, rtol=0, atol=1e-15)
    # as a bull-nose mill (no tilt) the same pass leaves a flat bottom
    flat, _, _ = _sim(prog, tool.replace("face", "bull"), (-h / 2 / MM, (n - 0.5) * h / MM,
                                                           -h / 2 / MM, (n - 0.5) * h / MM, 0), h)
    assert np.ptp(flat) == 0.0


@pytest.mark.parametrize("spec", ["ball:d=0.4mm", "bull:d=0.4mm,r=0.1mm", "flat:d=0.4mm",
                                  "v:angle=90deg,d=0.4mm", "face:d=0.4mm,r=0.1mm"])
def test_tooth_passes_on_a_ramp_are_the_discrete_minimum(spec):
    """Tooth passes 7 um apart along a rising ramp (3 teeth, 0.3 um runout): the cut is
    the minimum over the passes themselves (exact, nothing sampled), whatever pass the
    search around the continuous minimum finds."""
    teeth, runout = 3, 0.3 * UM
    tool = parse_tool(f"{spec},teeth={teeth},runout={runout / UM:g}um")
    a = np.array([-0.1037, 0.0513, -0.06]) * MM
    b = np.array([0.25, 0.2, -0.005]) * MM
    speed, fz = 1000, 7 * UM
    feed_mm = fz / MM * speed * teeth
    h = 20 * UM
    z, x, y = _sim(f"S{speed} M3\nG0 X{a[0] / MM} Y{a[1] / MM} Z1\nG1 Z{a[2] / MM} F{feed_mm:g}\n"
                   f"G1 X{b[0] / MM} Y{b[1] / MM} Z{b[2] / MM}", tool.spec,
                   (-0.35, 0.45, -0.2, 0.45, 0), h)
    X, Y = np.meshgrid(x, y)
    length = np.linalg.norm(b - a)
    k = np.arange(int(np.floor(length / fz + 1e-9)) + 1)
    c = a[None, :] + (k * fz / length)[:, None] * (b - a)[None, :]
    lift = tool.tooth_offsets()[k % teeth]
    ref = np.minimum(0.0, a[2] + tool.profile(np.hypot(X - a[0], Y - a[1])))  # the plunge
    for ck, lk in zip(c, lift):
        ref = np.minimum(ref, ck[2] + lk + tool.profile(np.hypot(X - ck[0], Y - ck[1])))
    assert (ref < 0).sum() > 50
    np.testing.assert_allclose(z, ref, rtol=0, atol=1e-12)
