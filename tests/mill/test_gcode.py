"""Programs to tip segments: words, modes, units, arcs (end points, radii, planes) and the
refusal of everything unsupported, checked against hand-computed geometry."""
from __future__ import annotations

import math

import numpy as np
import pytest

from scratchlight.errors import InputError
from scratchlight.mill.motion import MAX_ARC_CHORDS, arc_tolerance, run_program

MM = 1e-3


def _points(path):
    """The tip polyline (n + 1, 3) of a path whose segments join, metres."""
    seg = path.segments
    assert np.allclose(seg[1:, :3], seg[:-1, 3:]), "segments do not join"
    return np.vstack([seg[:1, :3], seg[:, 3:]])


def test_words_comments_and_modes():
    text = """%
N5 (a comment) G21 G90 G17 ; and another
N10 G0 X1 Y2 Z3

n20 g1 x2. f100 (lower case, no space after the number)
G91 Y-1          ; incremental
G90 G20 X1       ; one inch
M30
G1 X99            ; after the end: not run
%"""
    path = run_program(text)
    assert path.segments.shape == (3, 6)
    np.testing.assert_allclose(path.segments[0], [1, 2, 3, 2, 2, 3] * np.array(MM))
    np.testing.assert_allclose(path.segments[1, 3:], [2 * MM, 1 * MM, 3 * MM])
    np.testing.assert_allclose(path.segments[2, 3:], [0.0254, 1 * MM, 3 * MM])
    assert path.feed[0] == pytest.approx(0.1)           # 100 mm/min in m/min
    assert path.feed[2] == pytest.approx(0.1)           # F is kept in m/min across G20
    np.testing.assert_array_equal(path.line, [5, 6, 7])


def test_the_first_position_is_where_the_program_puts_the_tool():
    path = run_program("G0 Z5\nG0 X1 Y1\nG1 Z-1 F100")
    assert len(path.segments) == 1                      # the set-up rapids cut nothing
    np.testing.assert_allclose(path.segments[0], np.array([1, 1, 5, 1, 1, -1]) * MM)


@pytest.mark.parametrize("clockwise", [True, False])
def test_ijk_quarter_arc_end_points_and_radius(clockwise):
    # from (10, 0) around (0, 0): G3 (counter-clockwise) ends at (0, 10), G2 at (0, -10)
    end_y = -10 if clockwise else 10
    code = "G2" if clockwise else "G3"
    path = run_program(f"G0 X10 Y0 Z0\n{code} X0 Y{end_y} I-10 J0 F100", chord_tolerance=1e-7)
    pts = _points(path)
    r = np.hypot(pts[:, 0], pts[:, 1])
    np.testing.assert_allclose(r, 10 * MM, atol=1e-12)
    np.testing.assert_allclose(pts[-1], [0, end_y * MM, 0], atol=1e-15)
    # a quarter turn in the asked direction: the middle point is at 45 degrees
    mid = pts[len(pts) // 2]
    assert math.degrees(math.atan2(mid[1], mid[0])) == pytest.approx(-45 if clockwise else 45,
                                                                     abs=0.5)
    # chords within the tolerance: sagitta r (1 - cos(theta / 2)) <= 0.1 um
    step = math.pi / 2 / len(path.segments)
    assert 10 * MM * (1 - math.cos(step / 2)) <= 1e-7
    assert path.worst_sagitta <= 1e-7


@pytest.mark.parametrize("r_word,sweep_deg", [("R10", 90), ("R-10", 270)])
def test_r_arcs_take_the_short_or_the_long_way(r_word, sweep_deg):
    path = run_program(f"G0 X10 Y0 Z0\nG3 X0 Y10 {r_word} F100")
    pts = _points(path)
    centre = np.array([0, 0]) if sweep_deg == 90 else np.array([10, 10]) * MM
    np.testing.assert_allclose(np.hypot(*(pts[:, :2] - centre).T), 10 * MM, atol=1e-11)
    turned = np.unwrap(np.arctan2(*(pts[:, :2] - centre).T[::-1]))
    assert math.degrees(turned[-1] - turned[0]) == pytest.approx(sweep_deg, abs=1e-6)


def test_full_circle_and_helix():
    path = run_program("G0 X5 Y0 Z0\nG2 X5 Y0 Z-1 I-5 J0 F100")
    pts = _points(path)
    np.testing.assert_allclose(np.hypot(pts[:, 0], pts[:, 1]), 5 * MM, atol=1e-12)
    turned = np.unwrap(np.arctan2(pts[:, 1], pts[:, 0]))
    assert math.degrees(turned[-1] - turned[0]) == pytest.approx(-360)
    np.testing.assert_allclose(pts[:, 2], np.linspace(0, -1 * MM, len(pts)), atol=1e-15)


@pytest.mark.parametrize("plane,start,end,centre_words,normal,sweep_deg", [
    # G18: the ZX plane seen from +Y; G2 from +X to +Z is the short way (90 degrees)
    ("G18", (10, 0, 0), (0, 0, 10), "I-10 K0", 1, 90),
    # G19: the YZ plane seen from +X; G2 from +Y to +Z is the long way (270 degrees)
    ("G19", (0, 10, 0), (0, 0, 10), "J-10 K0", 0, -270),
])
def test_arcs_in_the_other_planes(plane, start, end, centre_words, normal, sweep_deg):
    x, y, z = start
    ex, ey, ez = end
    path = run_program(f"G0 X{x} Y{y} Z{z}\n{plane} G2 X{ex} Y{ey} Z{ez} {centre_words} F100")
    pts = _points(path)
    np.testing.assert_allclose(np.linalg.norm(pts, axis=1), 10 * MM, atol=1e-11)
    np.testing.assert_allclose(pts[:, normal], start[normal] * MM)
    np.testing.assert_allclose(pts[-1], np.array(end) * MM, atol=1e-15)
    a = 0 if plane == "G18" else 1                 # the axis the arc starts on
    turned = np.unwrap(np.arctan2(pts[:, 2], pts[:, a]))
    # measured from the start axis towards +Z: +90 (short way), -270 (long way)
    assert math.degrees(turned[-1] - turned[0]) == pytest.approx(sweep_deg)


def test_inconsistent_ijk_is_refused_with_the_tolerance():
    with pytest.raises(InputError) as e:
        run_program("G0 X10 Y0 Z0\nG3 X0 Y10.02 I-10 J0 F100", where="p.nc")
    msg = str(e.value)
    assert "line 2" in msg and "G3" in msg and "differ by 20 um" in msg
    assert "tolerance 5 um" in msg
    # within the tolerance it runs, ending exactly at the programmed point
    path = run_program("G0 X10 Y0 Z0\nG3 X0 Y10.004 I-10 J0 F100")
    np.testing.assert_allclose(path.segments[-1, 3:5], [0, 10.004 * MM], atol=1e-15)
    assert arc_tolerance(1.0) == pytest.approx(1e-4)


def test_r_too_small_for_the_chord_is_refused():
    with pytest.raises(InputError, match=r"line 2: R4: the end point is 10 mm from the start, "
                                         r"more than 2\|R\| = 8 mm; the tolerance is 5 um"):
        run_program("G0 X0 Y0 Z0\nG2 X10 Y0 R4 F100")
    run_program("G0 X0 Y0 Z0\nG2 X10 Y0 R4.999 F100")  # 2 um short: a half circle


def test_arc_chords_are_bounded():
    path = run_program("G0 X1000 Y0 Z0\nG3 X1000 Y0 I-1000 J0 F100", chord_tolerance=1e-12)
    assert len(path.segments) == MAX_ARC_CHORDS


@pytest.mark.parametrize("line,word,problem", [
    ("G81 X1 Y1 Z-1 R1", "G81", "canned cycles"),
    ("G83 X1 Y1 Z-1 R1 Q0.5", "G83", "canned cycles"),
    ("G41 G1 X1", "G41", "cutter radius compensation"),
    ("G42 G1 X1", "G42", "cutter radius compensation"),
    ("M98 P1000", "M98", "subroutines"),
    ("O1000", "O1000", "subroutines"),
    ("#1 = 5", "#1", "variables"),
    ("G1 X[1 + 2]", "[", "expressions"),
    ("/G1 X1", "/", "block delete"),
    ("G1 X1 A90", "A90", "X, Y and Z axes"),
    ("G28 Z0", "G28", "machine coordinates"),
    ("G55", "G55", "work offsets"),
    ("G93 G1 X1 F2", "G93", "feed per minute"),
    ("G12 X1", "G12", "not supported"),
    ("M50", "M50", "not supported"),
    ("G1 X1 X2", "X2", "appears twice"),
    ("G0 G1 X1", "G0 G1", "same group"),
    ("G1 X1 (open comment", "(", "not closed"),
    ("G1 X1 Y", "Y", "cannot be read"),
])
def test_unsupported_codes_are_refused_naming_line_and_word(line, word, problem):
    with pytest.raises(InputError) as e:
        run_program(f"G0 X0 Y0 Z1\nG1 Z0 F100\n{line}", where="prog.nc")
    msg = str(e.value)
    assert msg.startswith(f"prog.nc: line 3: {word}: "), msg
    assert problem in msg, msg
    assert "\n" not in msg


def test_moves_without_what_they_need_are_refused():
    with pytest.raises(InputError, match="line 1: G1: a cutting move from an unknown position"):
        run_program("G1 X1 Y1 Z1 F100")
    with pytest.raises(InputError, match="line 2: G1: a cutting move needs a feed rate"):
        run_program("G0 X0 Y0 Z0\nG1 X1")
    with pytest.raises(InputError, match="line 2: X1: a coordinate without a motion mode"):
        run_program("G0 X0 Y0 Z0\nG80 X1")
    with pytest.raises(InputError, match="line 2: R1: an R arc cannot be a full circle"):
        run_program("G0 X0 Y0 Z0\nG2 X0 Y0 R1 F100")


def test_incremental_and_inch_arcs():
    # G91: the end is relative; I J stay relative to the start; G20 scales all of them
    path = run_program("G20 G90 G0 X1 Y0 Z0\nG91 G3 X-1 Y1 I-1 J0 F10")
    pts = _points(path)
    inch = 0.0254
    np.testing.assert_allclose(np.hypot(pts[:, 0], pts[:, 1]), inch, atol=1e-12)
    np.testing.assert_allclose(pts[-1], [0, inch, 0], atol=1e-15)
    assert path.feed[0] == pytest.approx(10 * inch)
