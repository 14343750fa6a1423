"""A batch folder that cannot be written mid-run (issue 25, item 5): the rows that cannot
be saved are recorded as failed, the others go on, the page and batch.json are written for
what finished, and the exit code is 1 (not 2, the code of a bad plan).

"Cannot be written" has to hold for root too (a chmod does not stop root), so the test
uses the kernel's file-size limit: lowered to 0 on the running driver (prlimit), every
write of the driver fails with EFBIG as on a full disk, until the limit is raised again."""
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_helpers import TINY, check_folder, make_parts

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.mark.slow
def test_an_unwritable_folder_fails_rows_not_the_batch(tmp_path):
    make_parts(tmp_path, n=3)
    (tmp_path / "plan.toml").write_text(f"[defaults]\n{TINY}\n[sweep]\nheightmap = 'parts/fm-*.npz'\n")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, *sys.path]),
           "SCRATCHLIGHT_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "scratchlight.cli", "batch", str(tmp_path / "plan.toml"),
           "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    limit = resource.prlimit(proc.pid, resource.RLIMIT_FSIZE)
    try:
        deadline = time.time() + 120
        while not (out / "fm-1" / "row.json").exists():  # the first row is saved
            assert time.time() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (0, limit[1]))
        lines = []
        for line in proc.stderr:  # the progress bar's line of the row that was lost
            lines.append(line)
            if "row fm-2 failed" in line:
                break
        # writable again while fm-3 runs (seconds), so the report can be written
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, limit)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = "".join(lines) + stderr
    assert proc.returncode == 1, stderr
    assert "cannot write its folder" in stderr and "File too large" in stderr, stderr
    doc = json.load(open(out / "batch.json"))
    rows = {r["name"]: r for r in doc["rows"]}
    assert rows["fm-2"]["status"] == "failed" and rows["fm-2"]["cause"] == "output"
    assert rows["fm-1"]["status"] == rows["fm-3"]["status"] == "ok"
    page = (out / "index.html").read_text()
    assert "fm-3" in page and "cannot write its folder" in page
    check_folder(out, ["fm-1", "fm-3"])
    # the lost row is not "failed on the same input": the next run runs it
    again = subprocess.run(cmd + ["--quiet"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1 run now, 2 from an earlier run), 0 failed" in again.stdout
