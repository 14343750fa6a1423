"""Two batches on one --out folder (issue 25, item 4): the second exits 2 with one line
naming the running process, or waits for it with --wait; the first's rows are untouched."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_helpers import TINY, make_parts
from scratchlight.cli import main

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.mark.slow
def test_a_second_batch_on_a_running_folder_exits_2_or_waits(tmp_path, capsys):
    make_parts(tmp_path)
    # rows of a few seconds each, so the first batch is still running when the others start
    tiny = TINY.replace("iterations = 2", "iterations = 60")
    (tmp_path / "plan.toml").write_text(f"[defaults]\n{tiny}engine = 'ad'\n"
                                        "[sweep]\nheightmap = 'parts/fm-*.npz'\n")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, *sys.path]),
           "SCRATCHLIGHT_CACHE": str(tmp_path / "cache")}
    first = subprocess.Popen([sys.executable, "-m", "scratchlight.cli", "batch",
                              str(tmp_path / "plan.toml"), "--out", str(out), "--workers", "1",
                              "--quiet"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (out / ".work").is_dir():  # the first batch holds the folder now
            assert time.time() < deadline and first.poll() is None, first.communicate()
            time.sleep(0.05)
        capsys.readouterr()
        rc = main(["batch", str(tmp_path / "plan.toml"), "--out", str(out), "--quiet"])
        err = capsys.readouterr().err
        assert first.poll() is None, "the first batch ended before the second was refused"
        assert rc == 2
        assert len(err.strip().splitlines()) == 1 and f"pid {first.pid} " in err, err
        assert "--wait" in err
        # --wait: runs once the first is done, and finds its rows complete
        rc = main(["batch", str(tmp_path / "plan.toml"), "--out", str(out), "--quiet",
                   "--wait"])
        text = capsys.readouterr()
        # the first released the folder when its report was written; its process may still
        # be exiting
        assert first.wait(timeout=60) == 0, first.communicate()
        assert rc == 0, text.err
        assert "0 run now, 2 from an earlier run), 0 failed" in text.out
    finally:
        if first.poll() is None:
            first.kill()
        first.wait()
    doc = json.load(open(out / "batch.json"))
    assert doc["counts"]["ok"] == 2 and doc["counts"]["reused"] == 2
