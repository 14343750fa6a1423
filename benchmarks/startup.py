"""How long the command takes to start (issue 26, part 3): ``scratchlight --help``,
``--version`` and ``info FILE``, each the median of N fresh processes, against an empty
``python -c pass`` of the same interpreter (ratio = command / empty interpreter, which
shows what the package adds, whatever the machine's speed or load), plus the heavy
libraries each one imported (from ``python -X importtime``; there should be none).

The runs of the different commands are interleaved round by round, so that a change of
load on the machine hits them alike; ``--before SRC`` times the same commands of another
checkout's ``src`` folder in the same rounds (e.g. the commit before a change, unpacked by
``git archive``), side by side. Usage:
    .venv/bin/python benchmarks/startup.py                     # 15 rounds, milled-face.sur
    .venv/bin/python benchmarks/startup.py --rounds 31 --file ../shared/data/bullet-land-sample.x3p
    mkdir /tmp/before && git archive HEAD~1 src | tar -x -C /tmp/before
    .venv/bin/python benchmarks/startup.py --before /tmp/before/src
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("SCRATCHLIGHT_DATA", os.path.join(HERE, "..", "..", "shared", "data"))
HEAVY = ("mitsuba", "drjit", "numba", "llvmlite", "matplotlib", "scipy")


def commands(heightmap: str) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "scratchlight.cli"]
    return {"python -c pass": [sys.executable, "-c", "pass"],
            "scratchlight --help": [*cli, "--help"],
            "scratchlight --version": [*cli, "--version"],
            f"scratchlight info {os.path.basename(heightmap)}": [*cli, "info", heightmap]}


def _env(src: str | None) -> dict | None:
    """The environment that imports scratchlight from ``src`` (None: the installed one)."""
    return None if src is None else dict(os.environ, PYTHONPATH=os.path.abspath(src))


def wall_seconds(cmd: list[str], src: str | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env=_env(src))
    return time.perf_counter() - t0


def heavy_imports(cmd: list[str], src: str | None = None) -> list[str]:
    """The heavy libraries (``HEAVY``) that ``cmd`` (a Python command) imported."""
    p = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True,
                       check=True, env=_env(src))
    names = {line.rsplit("|", 1)[1].strip().split(".")[0]
             for line in p.stderr.splitlines() if line.startswith("import time:")}
    return sorted(names & set(HEAVY))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15, help="processes per command (median)")
    ap.add_argument("--file", default=os.path.join(DATA, "milled-face.sur"),
                    help="the height map of `info` (default %(default)s)")
    ap.add_argument("--before", metavar="SRC", help="also time the commands of this src folder")
    args = ap.parse_args(argv)
    cmds = commands(os.path.abspath(args.file))
    runs = [(name, cmd, None) for name, cmd in cmds.items()]
    if args.before:
        runs += [(f"{name} (before)", cmd, args.before) for name, cmd in cmds.items()
                 if not name.startswith("python")]
    for _, cmd, src in runs:  # once untimed: the file and the modules in the page cache
        wall_seconds(cmd, src)
    times: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for _ in range(args.rounds):
        for name, cmd, src in runs:
            times[name].append(wall_seconds(cmd, src))
    base = statistics.median(times["python -c pass"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.2f} at the end; medians of "
          f"{args.rounds} processes each, interleaved\n")
    print("| command | median | min - max | x `python -c pass` | heavy imports |")
    print("|---|---|---|---|---|")
    for name, cmd, src in runs:
        ts = times[name]
        heavy = "-" if name.startswith("python") else (", ".join(heavy_imports(cmd, src))
                                                        or "none")
        print(f"| `{name}` | {statistics.median(ts):.3f} s | {min(ts):.3f} - {max(ts):.3f} s "
              f"| {statistics.median(ts) / base:.1f} | {heavy} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
