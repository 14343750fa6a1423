"""A batch on the local process pool (issue 14): a worker killed mid-row is retried and
the batch completes; Ctrl-C leaves only complete rows; one light shared by every part,
optimized on a reference part first; a CSV plan from the command line."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_helpers import TINY, WorkerKiller, check_folder, make_parts
from scratchlight.batch import BatchSettings, load_plan, run_batch
from scratchlight.cli import main

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.mark.slow
def test_a_killed_worker_process_is_retried(tmp_path):
    make_parts(tmp_path)
    (tmp_path / "plan.toml").write_text(f"[defaults]\n{TINY}\n[sweep]\nheightmap = 'parts/fm-*.npz'\n")
    out = tmp_path / "out"
    killer = WorkerKiller(str(out))
    killer.start()
    res = run_batch(load_plan(tmp_path / "plan.toml"), out,
                    BatchSettings(workers=2, retries=2, progress=False,
                                  cache_dir=str(tmp_path / "cache")))
    killer.stop.set()
    assert killer.killed, "no worker was killed"
    assert res.ran == 2 and res.failed == 0
    check_folder(out, ["fm-1", "fm-2"])
    # two workers share the cores: each renders on its half of them
    from scratchlight.batch.local import default_workers

    want = int(os.environ.get("SCRATCHLIGHT_THREADS") or max(1, default_workers() // 2))
    assert json.load(open(out / "fm-1" / "run.json"))["cpu_threads"] == want
    # a row whose worker keeps dying fails after its attempts, the batch still completes
    from batch_helpers import die
    from scratchlight.batch.local import LocalExecutor

    ex = LocalExecutor(workers=1, retries=1, target=die)
    results = list(ex.run([{"name": "doomed"}]))
    ex.close()
    assert results[0][1]["status"] == "failed" and "died 2 times" in results[0][1]["error"]


@pytest.mark.slow
def test_ctrl_c_leaves_only_complete_rows(tmp_path):
    make_parts(tmp_path, n=3)
    (tmp_path / "plan.csv").write_text(
        "heightmap,resolution,iterations,spp,final_spp,engine\n"
        # fm-1 is quick; fm-2 and fm-3 take the AD engine through 400 iterations (seconds),
        # so fm-2 is still running when the signal comes even with Mitsuba's kernels cached
        "parts/fm-1.npz,24,20,2,4,ad\n"
        + "".join(f"parts/fm-{k}.npz,24,400,2,4,ad\n" for k in (2, 3)))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": SRC, "SCRATCHLIGHT_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "scratchlight.cli", "batch",
                             str(tmp_path / "plan.csv"), "--out", str(out), "--workers", "1",
                             "--quiet"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            # a signal ignored here (an earlier in-process test may have set
                            # SIG_IGN) would stay ignored in the child: give it the default
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "fm-1" / "row.json").exists():
        time.sleep(0.1)
    time.sleep(0.5)  # fm-2 is running now
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    entries = check_folder(out, [e for e in os.listdir(out) if e.startswith("fm-")])
    assert "fm-1" in entries and "fm-3" not in entries
    assert {"index.html", "summary.csv", "batch.json"} <= entries
    assert json.load(open(out / "batch.json"))["interrupted"] is True
    # nothing of the pool is left running
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "ppid="], capture_output=True, text=True).stdout.split()
    assert str(proc.pid) not in ps


@pytest.mark.slow
def test_one_light_from_a_reference_part_for_every_part(tmp_path, capsys):
    make_parts(tmp_path)
    (tmp_path / "plan.toml").write_text(f"""
mode = "shared-light"
[defaults]
{TINY}
seeds = 1
[reference]
heightmap = "parts/fm-1.npz"
[sweep]
heightmap = ["parts/fm-1.npz", "parts/fm-2.npz", "parts/corrupt.npz"]
""")
    out = tmp_path / "out"
    rc = main(["batch", str(tmp_path / "plan.toml"), "--out", str(out), "--workers", "2",
               "--quiet", "--seed", "3"])
    assert rc == 1  # a row failed
    text = capsys.readouterr()
    assert "3 complete" in text.out and "failed corrupt" in text.err
    check_folder(out, ["reference", "fm-1", "fm-2"])
    light = str(out / "reference" / "envmap.exr")
    for part in ("fm-1", "fm-2"):
        doc = json.load(open(out / part / "metrics.json"))
        assert doc["command"] == "evaluate" and doc["config"]["light"]["envmap"] == light
        assert doc["config"]["seed"] == 3 and doc["config"]["scene"]["width"] == 24
    ref = json.load(open(out / "reference" / "run.json"))
    assert ref["config"]["seed"] == 3 and ref["config"]["optimizer"]["iterations"] == 2
    page = (out / "index.html").read_text()
    assert "reference/after.png" in page and "fm-2/image.png" in page
    # the rerun does no work: the failure on the same bytes is reported, not retried
    rc = main(["batch", str(tmp_path / "plan.toml"), "--out", str(out), "--quiet", "--seed", "3"])
    assert "0 run now, 3 from an earlier run), 1 failed" in capsys.readouterr().out


def test_a_row_travels_back_when_the_worker_cannot_see_the_folder(tmp_path):
    """A worker on another node (here: a token the worker cannot find) builds the row in
    its own temporary folder and returns the files; the driver writes the row's folder,
    the same files the command writes."""
    from scratchlight.batch.folders import commit_row, completed, prepare_out
    from scratchlight.batch.rows import make_rows
    from scratchlight.batch.worker import run_row

    make_parts(tmp_path)
    row = make_rows([{"heightmap": "parts/fm-1.npz", "command": "render", "envmap": "light.exr",
                      "resolution": 16, "spp": 2}], str(tmp_path))[0]
    out = tmp_path / "out"
    prepare_out(str(out))
    task = {"name": row.name, "command": row.command, "config": row.config,
            "out_dir": str(out), "token": "token-of-another-batch", "env": {}}
    result = run_row(task)
    assert result["status"] == "ok" and "path" not in result
    assert set(result["files"]) == {"render.png", "render.exr", "render.run.json"}
    commit_row(str(out), row, result, {"name": row.name, "key": row.key})
    assert completed(str(out), row)
    assert sorted(os.listdir(out / row.name)) == ["render.exr", "render.png", "render.run.json",
                                                  "row.json"]
    # where the folder is visible, the worker builds in DIR/.work (the driver renames it)
    from scratchlight.batch.worker import work_folder

    token = prepare_out(str(out))
    folder, shared = work_folder({**task, "token": token})
    assert shared and os.path.dirname(folder) == str(out / ".work")
