"""A program's ``#<name>`` / ``#N`` parameters filled in from given values before it is read
(``mill.params.substitute``): hand-written expected text, and one-line refusals."""
import pytest

from scratchlight.errors import InputError
from scratchlight.mill.gcode import read_blocks
from scratchlight.mill.params import parameters_used, substitute


def test_named_and_numbered_parameters_are_filled_in_outside_comments():
    program = "G1 X1 F#<Feed> S#1 (#<note> stays)\nG91 G1 Y#<step> ; #<also> stays\n"
    out = substitute({"p.nc": program, "tool": "ball:d=#<d>mm"},
                     {"feed": 600, "1": 12000.0, "STEP": 0.1, "d": 2})
    assert out["p.nc"] == ("G1 X1 F600 S12000 (#<note> stays)\n"
                           "G91 G1 Y0.1 ; #<also> stays\n")
    assert out["tool"] == "ball:d=2mm"
    assert parameters_used(program) == {"feed", "1", "step"}
    # the filled-in program reads as plain G-code
    blocks = list(read_blocks(out["p.nc"]))
    assert blocks[0].words["F"] == 600 and blocks[0].words["S"] == 12000
    assert blocks[1].words["Y"] == pytest.approx(0.1)


def test_a_missing_or_unused_parameter_is_one_line_naming_it():
    with pytest.raises(InputError) as e:
        substitute({"p.nc": "G1 X0\nG1 F#<feed>\n"}, {})
    assert e.value.path == "p.nc" and "line 2: #<feed>: no value given" in e.value.problem
    with pytest.raises(InputError) as e:
        substitute({"p.nc": "G1 F#<feed>\n"}, {"feed": 1, "fed": 2})
    assert e.value.path == "gcode.fed" and "did you mean gcode.feed?" in e.value.problem
    with pytest.raises(InputError) as e:
        substitute({"p.nc": "G1 F#<feed>\n"}, {"feed": "[1]"})
    assert e.value.path == "gcode.feed"
    # an assignment is left to the reader, which refuses it with its line and word
    filled = substitute({"p.nc": "#1 = 5\n"}, {"1": 3})["p.nc"]
    with pytest.raises(InputError, match="line 1"):
        list(read_blocks(filled))
