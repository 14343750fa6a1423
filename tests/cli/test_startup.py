"""Starting the command is quick: ``scratchlight --help``, ``--version`` and ``info FILE``
import none of the heavy libraries (Mitsuba, Dr.Jit, numba, matplotlib, SciPy), which only
the commands that render, optimize or plot need. Read from the interpreter's own list of
imports (``python -X importtime``, one line per module imported, on stderr), in a fresh
process, so the test states what is imported, not how long it takes (the times are
benchmarks/startup.py's)."""
import subprocess
import sys

import numpy as np
import pytest

import scratchlight

HEAVY = ("mitsuba", "drjit", "numba", "llvmlite", "matplotlib", "scipy")


def imported_modules(*args) -> tuple[set[str], subprocess.CompletedProcess]:
    """The top-level names of every module a fresh ``python -m scratchlight.cli ARGS``
    imported, and the finished process."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "scratchlight.cli", *args],
                       capture_output=True, text=True, timeout=120)
    names = {line.rsplit("|", 1)[1].strip().split(".")[0]
             for line in p.stderr.splitlines() if line.startswith("import time:")}
    assert "scratchlight" in names, p.stderr[-2000:]  # the list was read
    return names, p


def test_help_and_version_import_nothing_heavy():
    names, p = imported_modules("--help")
    assert p.returncode == 0 and "optimize" in p.stdout and "info" in p.stdout
    assert not names & set(HEAVY), sorted(names & set(HEAVY))
    assert "numpy" not in names  # not even NumPy: no command's options are declared
    names, p = imported_modules("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"scratchlight {scratchlight.__version__}"
    assert not names & set(HEAVY), sorted(names & set(HEAVY))


def test_info_imports_nothing_heavy(tmp_path):
    heights = np.add.outer(np.arange(6.0), np.arange(7.0)) * 1e-7  # a plane rising 0.1 um a cell
    np.savez(tmp_path / "plane.npz", heights=heights, dx=2e-6, dy=3e-6)
    names, p = imported_modules("info", str(tmp_path / "plane.npz"))
    assert p.returncode == 0, p.stderr[-2000:]
    assert "7 x 6 points" in p.stdout and "dx = 2 um, dy = 3 um" in p.stdout
    assert "range 1.1 um" in p.stdout  # 0 .. (5 + 6) x 0.1 um
    assert not names & set(HEAVY), sorted(names & set(HEAVY))


def test_a_commands_help_still_lists_its_options():
    """``main`` declares the options of the named command only; they are all there."""
    p = subprocess.run([sys.executable, "-m", "scratchlight.cli", "optimize", "--help"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0
    assert all(flag in p.stdout for flag in ("--spp", "--engine", "--max-size", "--out"))


@pytest.mark.parametrize("name", scratchlight.__all__)
def test_every_public_name_resolves_lazily(name):
    """The root imports its API on first use (PEP 562): every name of ``__all__`` is there."""
    assert getattr(scratchlight, name) is not None
    assert name in dir(scratchlight)
