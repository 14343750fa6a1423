"""Reading a G-code program into blocks of words (RS-274 / ISO 6983 subset).

One line is one block: words ``LETTER NUMBER`` (``G1 X10.5 Y-2 F300``), an optional line
number ``N..``, comments ``( .. )`` and ``; ..`` and blank lines; ``%`` alone on a line
marks the start or end of the tape. Reading is one pass over the text (cost linear in its
size). Anything the simulator does not support is refused with the line number and the
word (``InputError``), never skipped: subroutines (``O``, ``M98``, ``M99``), variables
and expressions (``#``, ``[ ]``), block delete (``/``), canned cycles (``G73``-``G89``),
cutter compensation (``G41``/``G42``), machine coordinates (``G28``, ``G30``, ``G53``),
offsets and transforms (``G10``, ``G52``, ``G55``-``G59``, ``G68``, ``G51``, ``G92``),
inverse-time feed (``G93``) and axes beyond X, Y and Z.
"""
from __future__ import annotations

import dataclasses
import os
import re

from ..errors import InputError

__all__ = ["Block", "read_blocks", "read_program_file", "G_SUPPORTED", "M_SUPPORTED",
           "MAX_PROGRAM_BYTES"]

MAX_PROGRAM_BYTES = 512 * 2 ** 20
"""A program larger than this (512 MiB) is refused before it is read."""

# modal groups of the supported G codes (two of one group on a line is an error)
G_SUPPORTED = {
    0.0: "motion", 1.0: "motion", 2.0: "motion", 3.0: "motion",
    4.0: "dwell",
    17.0: "plane", 18.0: "plane", 19.0: "plane",
    20.0: "units", 21.0: "units",
    40.0: "compensation",
    43.0: "length", 49.0: "length",
    54.0: "offset",
    61.0: "path", 64.0: "path",
    80.0: "motion",
    90.0: "distance", 91.0: "distance",
    91.1: "arc_distance",
    94.0: "feed_mode",
}
M_SUPPORTED = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 30}

_G_REFUSED = [
    ((41, 42, 41.1, 42.1), "cutter radius compensation is not supported (program the tool "
                           "centre path)"),
    ((73, 74, 76, 81, 82, 83, 84, 85, 86, 87, 88, 89), "canned cycles are not supported"),
    ((65, 66, 67), "macro calls are not supported"),
    ((28, 28.1, 30, 30.1, 53), "moves in machine coordinates are not supported (the machine's "
                               "home is unknown to the simulation)"),
    ((55, 56, 57, 58, 59, 59.1, 59.2, 59.3, 10, 52, 92, 92.1, 92.2, 92.3),
     "work offsets other than G54 are not supported"),
    ((68, 69, 50, 51, 50.1, 51.1), "coordinate rotation and scaling are not supported"),
    ((93, 95), "only feed per minute (G94) is supported"),
    ((90.1,), "absolute arc centres (G90.1) are not supported; I, J and K are relative "
              "to the start (G91.1)"),
]
_WORD_REFUSED = {
    "O": "subroutines and program numbers (O words) are not supported",
    "#": "variables are not supported",
    "[": "expressions are not supported",
    "=": "variables and expressions are not supported",
    "/": "block delete (/) is not supported",
    "L": "L words (loops, subroutine repeats) are not supported",
    "Q": "Q words (canned-cycle pecks) are not supported",
    "D": "D words (cutter compensation) are not supported",
    "E": "E words are not supported",
    **{a: "only the X, Y and Z axes are supported (3-axis milling)" for a in "ABCUVW"},
}
_VALUE_LETTERS = set("XYZIJKRFSTPHN")
_WORD = re.compile(r"([A-Za-z])\s*([-+]?(?:\d+\.?\d*|\.\d+))")
_COMMENT = re.compile(r"\([^()]*\)")
_BAD = re.compile(r"[#\[\]=/Oo]")


@dataclasses.dataclass
class Block:
    """One line of a program: its number (from 1), its G and M codes, its value words."""

    line: int
    g: list[float]
    m: list[int]
    words: dict[str, float]
    text: str


def _refuse(where: str, line: int, word: str, problem: str) -> InputError:
    return InputError(where, f"line {line}: {word}: {problem}")


def _strip_comments(where: str, number: int, raw: str) -> str:
    text = raw.split(";", 1)[0]
    if "(" in text or ")" in text:
        text = _COMMENT.sub(" ", text)
        if "(" in text or ")" in text:
            raise _refuse(where, number, "(", "a comment is not closed on its line (or is "
                                              "nested)")
    return text


def _block(where: str, number: int, raw: str) -> Block | None:
    text = _strip_comments(where, number, raw).strip()
    if not text or text == "%":
        return None
    bad = _BAD.search(text)
    if bad is not None:
        at = bad.start()
        key = "[" if text[at] == "]" else text[at].upper()
        word = text[at:].split()[0][:16] if key in "O#" else text[at]
        raise _refuse(where, number, word, _WORD_REFUSED[key])
    g: list[float] = []
    m: list[int] = []
    words: dict[str, float] = {}
    pos = 0
    for match in _WORD.finditer(text):
        gap = text[pos:match.start()].strip()
        if gap:
            raise _refuse(where, number, gap.split()[0], "cannot be read as a word "
                                                         "(letter and number)")
        pos = match.end()
        letter, value_text = match.group(1).upper(), match.group(2)
        value = float(value_text)
        word = f"{letter}{value_text}"
        if letter in _WORD_REFUSED:
            raise _refuse(where, number, word, _WORD_REFUSED[letter])
        if letter == "G":
            code = round(value, 1)
            for codes, problem in _G_REFUSED:
                if code in codes:
                    raise _refuse(where, number, word, problem)
            if code not in G_SUPPORTED:
                raise _refuse(where, number, word, "this G code is not supported")
            g.append(code)
        elif letter == "M":
            if value != int(value) or int(value) not in M_SUPPORTED:
                problem = "subroutines are not supported" if value in (98, 99) else \
                    "this M code is not supported"
                raise _refuse(where, number, word, problem)
            m.append(int(value))
        elif letter in _VALUE_LETTERS:
            if letter in words:
                raise _refuse(where, number, word, f"{letter} appears twice on the line")
            words[letter] = value
        else:
            raise _refuse(where, number, word, "this word is not supported")
    rest = text[pos:].strip()
    if rest:
        raise _refuse(where, number, rest.split()[0], "cannot be read as a word (letter and "
                                                      "number)")
    groups = [G_SUPPORTED[c] for c in g]
    twice = next((grp for grp in groups if groups.count(grp) > 1), None)
    if twice is not None:
        codes = " ".join(f"G{c:g}" for c in g if G_SUPPORTED[c] == twice)
        raise _refuse(where, number, codes, f"two codes of the same group ({twice}) on one line")
    words.pop("N", None)
    return Block(number, g, m, words, text)


def read_blocks(program: str, where: str = "program"):
    """Yield the blocks of a program's text, in order (``where`` names it in errors)."""
    for number, raw in enumerate(program.splitlines(), 1):
        block = _block(where, number, raw)
        if block is not None:
            yield block


def read_program_file(path: str) -> str:
    """The text of a program file (size-checked, decoded as UTF-8 with replacement)."""
    from ..io.guards import check_regular_file

    check_regular_file(path)
    size = os.path.getsize(path)
    if size > MAX_PROGRAM_BYTES:
        raise InputError(path, f"the program is {size:,} bytes; at most {MAX_PROGRAM_BYTES:,} "
                               "are read")
    with open(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")

