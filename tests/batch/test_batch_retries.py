"""Retries leave a trace (issue 25, item 6): a row whose worker was killed records its
attempts and why the earlier one ended in batch.json, summary.csv and the page; no
"leaked semaphore" warning; a rerun that skips every row prints the time it really took."""
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_helpers import TINY, WorkerKiller, make_parts

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.mark.slow
def test_retries_are_recorded_and_the_time_is_real(tmp_path):
    make_parts(tmp_path)
    (tmp_path / "plan.toml").write_text(f"[defaults]\n{TINY}\n[sweep]\nheightmap = 'parts/fm-*.npz'\n")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, *sys.path]),
           "SCRATCHLIGHT_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "scratchlight.cli", "batch", str(tmp_path / "plan.toml"),
           "--out", str(out), "--workers", "2", "--quiet"]
    killer = WorkerKiller(str(out))
    killer.start()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    killer.stop.set()
    assert killer.killed, "no worker was killed"
    assert proc.returncode == 0, proc.stderr
    assert "leaked" not in proc.stderr and "semaphore" not in proc.stderr, proc.stderr
    rows = {r["name"]: r for r in json.load(open(out / "batch.json"))["rows"]}
    killed = rows[killer.row]
    assert killed["status"] == "ok" and killed["attempts"] >= 2, killed
    assert len(killed["retried"]) == killed["attempts"] - 1
    assert all("worker process" in c for c in killed["retried"]), killed["retried"]
    assert any("SIGKILL" in c for c in killed["retried"]), killed["retried"]
    table = {r["name"]: r for r in csv.DictReader(open(out / "summary.csv"))}
    assert table[killer.row]["attempts"] == str(killed["attempts"])
    assert "SIGKILL" in table[killer.row]["retried"]
    assert "SIGKILL" in (out / "index.html").read_text()
    # a rerun that skips everything prints the time it took, not that of running no rows
    t0 = time.perf_counter()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    assert again.returncode == 0, again.stderr
    said = float(re.search(r"in ([0-9.]+) s", again.stdout).group(1))
    assert "0 run now, 2 from an earlier run" in again.stdout
    assert 0.7 * wall - 0.3 <= said <= wall + 0.1, (said, wall)


_DYING_ROW = '''
import os, signal
from scratchlight.batch.local import LocalExecutor

def row(task):  # a row that shows a (disabled) progress bar, as optimize does, then dies
    from tqdm.auto import tqdm
    for _ in tqdm(range(3), disable=True):
        pass
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    ex = LocalExecutor(workers=1, retries=1, target=row)
    print([(r["status"], r["attempts"], r["retried"]) for _, r in ex.run([{"name": "x"}])])
    ex.close()
'''


@pytest.mark.slow
def test_a_killed_worker_leaks_no_semaphore(tmp_path):
    """tqdm's lock in a worker is a semaphore the driver's resource tracker knows; a worker
    killed mid-row left it behind, and the tracker warned "leaked semaphore" at exit."""
    (tmp_path / "dying.py").write_text(_DYING_ROW)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, *sys.path])}
    proc = subprocess.run([sys.executable, str(tmp_path / "dying.py")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "('failed', 2, ['attempt 1: a worker process was killed by SIGKILL', " in proc.stdout
    assert "leaked" not in proc.stderr, proc.stderr
