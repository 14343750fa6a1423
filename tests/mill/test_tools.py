"""The ``--tool`` grammar, tool tables, and the cutters' profiles against their geometry."""
from __future__ import annotations

import math

import numpy as np
import pytest

from scratchlight.errors import InputError
from scratchlight.mill.tools import parse_length, parse_tool, read_tool_table

MM, UM = 1e-3, 1e-6


def test_specs_and_units():
    t = parse_tool("ball:d=6mm")
    assert (t.kind, t.radius, t.teeth, t.runout) == ("ball", 3 * MM, 2, 0.0)
    t = parse_tool("flat:d=10,teeth=4")                       # bare numbers are mm
    assert (t.kind, t.radius, t.teeth) == ("flat", 5 * MM, 4)
    t = parse_tool("bull:d=0.5in,r=1mm,runout=2um")
    assert t.radius == pytest.approx(0.25 * 0.0254) and t.corner == 1 * MM
    assert t.runout == pytest.approx(2 * UM)
    t = parse_tool("V:angle=90deg,d=6mm")
    assert t.half_angle == pytest.approx(math.pi / 4) and t.cot == pytest.approx(1.0)
    assert parse_tool("v:angle=1.0rad,d=1").half_angle == pytest.approx(0.5)
    assert parse_length("250um", "x") == pytest.approx(250 * UM)
    assert parse_length("3", "x", bare=1e-6) == pytest.approx(3 * UM)


@pytest.mark.parametrize("spec,problem", [
    ("drill:d=6mm", "unknown tool kind 'drill'"),
    ("ball", "a ball tool needs d"),
    ("bull:d=10mm", "a bull tool needs r"),
    ("v:d=6mm", "a v tool needs angle"),
    ("ball:d=6mm,r=1mm", "ball tools take d, runout, teeth; got 'r'"),
    ("ball:d=6furlongs", "expected a length"),
    ("ball:d=-6mm", "the diameter must be positive"),
    ("bull:d=10mm,r=6mm", "the corner radius must be in (0, d/2 = 5 mm]"),
    ("v:angle=180deg,d=6mm", "the included angle must be in [1, 179] deg"),
    ("flat:d=10mm,teeth=0", "teeth must be a whole number in [1, 64]"),
    ("ball:d=6mm,d=5mm", "'d' given twice"),
    ("ball:d", "expected key=value"),
])
def test_bad_specs_say_what_is_wrong(spec, problem):
    with pytest.raises(InputError) as e:
        parse_tool(spec)
    assert e.value.path == "tool" and problem in e.value.problem, str(e.value)


def test_profiles_against_their_geometry():
    rho = np.array([0.0, 1.0, 2.0, 2.5, 3.0, 3.5]) * MM
    ball = parse_tool("ball:d=6mm").profile(rho)
    np.testing.assert_allclose(ball[:5] / MM, [0, 3 - math.sqrt(8), 3 - math.sqrt(5),
                                               3 - math.sqrt(2.75), 3], rtol=0, atol=1e-12)
    assert np.isinf(ball[5])
    bull = parse_tool("bull:d=6mm,r=1mm").profile(rho)         # flat to 2 mm, then r = 1 mm
    np.testing.assert_allclose(bull[:5] / MM, [0, 0, 0, 1 - math.sqrt(0.75), 1], atol=1e-12)
    flat = parse_tool("flat:d=6mm").profile(rho)
    np.testing.assert_array_equal(flat[:5], 0.0)
    vee = parse_tool("v:angle=60deg,d=6mm").profile(rho)       # rise 1 / tan(30 deg)
    np.testing.assert_allclose(vee[:5], rho[:5] * math.sqrt(3), rtol=1e-12)


@pytest.mark.parametrize("spec", ["ball:d=6mm", "bull:d=6mm,r=1mm", "flat:d=6mm",
                                  "v:angle=60deg,d=6mm"])
def test_reach_inverts_the_profile(spec):
    tool = parse_tool(spec)
    for depth in (0.5 * UM, 20 * UM, 0.5 * MM, 10 * MM):
        r = tool.reach(depth)
        assert 0 < r <= tool.radius
        if r < tool.radius:
            assert tool.profile(r) == pytest.approx(depth, rel=1e-9)
        else:
            assert tool.profile(tool.radius) <= depth + 1e-15
    assert tool.reach(0.0) == 0.0


def test_runout_sets_tooth_heights():
    t = parse_tool("flat:d=10mm,teeth=4,runout=2um")
    np.testing.assert_allclose(t.tooth_offsets(), [0, 1 * UM, 2 * UM, 1 * UM], atol=1e-18)


def test_tool_table(tmp_path):
    f = tmp_path / "tools.txt"
    f.write_text("# number  spec\nT1 ball:d=6mm\n\nT12 flat:d=10mm,teeth=4  # roughing\n")
    table = read_tool_table(str(f))
    assert sorted(table) == [1, 12] and table[12].teeth == 4
    f.write_text("T1 ball:d=6mm\nT1 flat:d=3mm\n")
    with pytest.raises(InputError, match="line 2: T1 is defined twice"):
        read_tool_table(str(f))
    f.write_text("tool one: ball\n")
    with pytest.raises(InputError, match="line 1: expected 'T<n> <tool spec>'"):
        read_tool_table(str(f))
