"""Cost of ``scratchlight mill`` against grid size and against path length.

The case of the paper: a 5 mm x 5 mm ball-end finishing patch (6 mm ball, 2 teeth, raster
along x at 0.1 mm stepover, 0.1 mm deep, F 1000 mm/min, S 10000 rev/min: 50 um per tooth)
on grids of 1250^2, 2500^2 and 5000^2 points; then the same patch on the 2500^2 grid at
stepovers of 0.4 to 0.05 mm (13 to 101 rows). Every case is the whole command in a fresh
process (reading, the compiled sweep, writing the compressed .npz): wall time, CPU time
(all threads) and peak resident memory, with the sweep's own time from OUT.run.json.
The compiled kernel comes from numba's cache (a first warm-up run fills it).

    .venv/bin/python benchmarks/mill.py            # about a minute on 2 cores
    .venv/bin/python benchmarks/mill.py --quick    # the 1250^2 and 2500^2 cases only
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

PATCH_MM = 5.0


def raster_program(stepover_mm: float, depth_mm: float = 0.1) -> str:
    """G-code of the finishing raster over the patch, 0.5 mm lead-in and lead-out."""
    rows = int(round(PATCH_MM / stepover_mm)) + 1
    lines = ["(ball-end finishing raster)", "G21 G90 G17 G94", "S10000 M3", "G0 Z2",
             "G0 X-0.5 Y0", f"G1 Z{-depth_mm:g} F1000"]
    for k in range(rows):
        if k:
            lines.append(f"G1 Y{k * stepover_mm:.4f}")
        lines.append(f"G1 X{PATCH_MM + 0.5 if k % 2 == 0 else -0.5:g}")
    lines += ["G0 Z2", "M30"]
    return "\n".join(lines) + "\n"


def one(args: list[str]) -> None:
    """Run the command in this process; print wall, CPU and peak memory as JSON."""
    from scratchlight.cli import main

    t0, c0 = time.perf_counter(), time.process_time()
    code = main(args)
    out = {"code": code, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
           "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print("RESULT " + json.dumps(out))


def case(folder: str, stepover: float, spacing_um: float, envelope: bool = False) -> dict:
    prog = os.path.join(folder, f"raster-{stepover:g}.nc")
    with open(prog, "w") as f:
        f.write(raster_program(stepover))
    out = os.path.join(folder, "part.npz")
    cmd = [sys.executable, __file__, "--one", "mill", prog, "--tool", "ball:d=6mm,teeth=2",
           "--stock", f"0:{PATCH_MM:g},0:{PATCH_MM:g},0", "--spacing", f"{spacing_um:g}um",
           "--out", out] + (["--envelope"] if envelope else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"case failed: {' '.join(cmd)}\n{proc.stderr}")
    res = json.loads(line[7:])
    with open(os.path.join(folder, "part.run.json")) as f:
        rec = json.load(f)["mill"]
    res.update(grid=rec["grid"][1], segments=rec["segments"], sweep_s=rec["sweep_seconds"],
               path_mm=path_length_mm(stepover), envelope=envelope)
    return res


def path_length_mm(stepover: float) -> float:
    rows = int(round(PATCH_MM / stepover)) + 1
    return rows * (PATCH_MM + 1.0) + (rows - 1) * stepover


def show(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print("| grid | path (mm) | marks | sweep (s) | command wall (s) | command CPU (s) | "
          "peak memory (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['grid']}^2 | {r['path_mm']:.0f} | "
              f"{'envelope' if r['envelope'] else 'teeth'} | {r['sweep_s']:.2f} | "
              f"{r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_mib']:.0f} |")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        one(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="skip the 5000^2 grid")
    a = p.parse_args()
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f} at the start")
    with tempfile.TemporaryDirectory() as folder:
        case(folder, 0.4, 20.0)                                   # warm the kernel cache
        spacings = (4.0, 2.0) if a.quick else (4.0, 2.0, 1.0)
        grid = [case(folder, 0.1, s) for s in spacings]
        if not a.quick:
            grid.append(case(folder, 0.1, 1.0, envelope=True))
        show("cost against grid size (5 mm patch, 0.1 mm stepover)", grid)
        path = [case(folder, s, 2.0) for s in (0.4, 0.2, 0.1, 0.05)]
        show("cost against path length (2500^2 grid, stepover 0.4 .. 0.05 mm)", path)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
